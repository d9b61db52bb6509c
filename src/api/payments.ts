/**
 * Payment sessions (`stoa-api.md`, "Payment sessions"): the return-URL rule,
 * checked before anything is sent, and the two calls over an `ApiClient`.
 */
import { StoaConfigError } from "../errors.ts";
import { invalidResponse, optionalString, record } from "./read.ts";
import type { ApiClient } from "./types.ts";
import { checkUserId } from "./user-id.ts";

/** Where a payment session stands. */
export type PaymentSessionStatus = "open" | "complete" | "expired" | "not_required";

/** A payment session, as `GET /v1/payment-sessions/{id}` returns it. */
export interface PaymentSession {
  /** `ps_…` */
  id: string;
  /** The app's own id of the user. */
  userId: string;
  /** `mem_…` */
  membershipId: string;
  /** `not_required`: the user is already chargeable and owes nothing; there is no checkout. */
  status: PaymentSessionStatus;
  /** Where to send the user to pay; `null` when `status` is `not_required`. */
  checkoutUrl: string | null;
  /** Where Stoa sends the browser back, with `stoa_session_id=<id>` added to its query. */
  returnUrl: string;
  /** RFC 3339, UTC: when an `open` session reads `expired`; `null` for a `not_required` one. */
  expiresAt: string | null;
}

/** What `createPaymentSession` takes. */
export interface PaymentSessionInput {
  /** The app's own id of the user who is to pay. */
  userId: string;
  /** Prefills the checkout. */
  email?: string | undefined;
  /** Prefills the checkout. */
  name?: string | undefined;
  /**
   * Absolute `https:` URL the browser returns to when checkout ends; `http:`
   * only for `localhost`, `*.localhost`, `127.0.0.0/8` and `[::1]`.
   */
  returnUrl: string;
}

/**
 * How long one idempotency key of `createPaymentSession` lives: calls for the
 * same user and body inside one aligned 2-minute window share a key.
 */
export const PAYMENT_SESSION_KEY_WINDOW_MS = 2 * 60 * 1000;

const STATUSES: readonly string[] = ["open", "complete", "expired", "not_required"];

const RULE =
  "returnUrl must be an absolute https: URL (http: is allowed only for localhost, *.localhost, 127.0.0.0/8 and [::1])";

/**
 * Checks `url` by the contract's return-URL rule, without a network call.
 *
 * @throws {StoaConfigError} when the URL is relative, malformed, not `https:`,
 * or `http:` to a host other than a loopback one.
 */
export function checkReturnUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    // reported below
  }
  if (parsed === undefined) throw new StoaConfigError(`${RULE}; got a relative or malformed URL.`);
  if (parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopback(parsed.hostname))) return;
  const got = parsed.host === "" ? `a ${parsed.protocol} URL` : `${parsed.protocol}//${parsed.host}`;
  throw new StoaConfigError(`${RULE}; got ${got}.`);
}

/** `localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`, as the URL parser normalises them. */
function isLoopback(hostname: string): boolean {
  if (hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)) return true;
  const labels = hostname.split(".");
  return labels.at(-1) === "localhost" && labels.every((label) => label !== "");
}

/**
 * Starts (or finds) a payment session for `userId`: `POST /v1/payment-sessions`.
 * The return URL is checked first; a bad one throws before anything is sent.
 *
 * Idempotency: the key is a SHA-256 digest of the body and of the current
 * {@link PAYMENT_SESSION_KEY_WINDOW_MS | 2-minute window}, so every retry of
 * a call, and a repeated call for the same user and body in the same window
 * (a double click, a handler run twice), reuse one key and get one session.
 * The key is not stable for longer on purpose: Stoa replays a stored answer
 * for a key for 24 hours, and a user who paid and later needs to pay again
 * must get a new session, not the old completed one. The price: inside one
 * window, a call made after the user paid still gets the stored answer (the
 * session as it was when created); read it with `getPaymentSession` for its
 * state now. Across a window's edge the server's own rule (one `open` session
 * per user and `returnUrl`) still returns the same open session.
 *
 * @param now Milliseconds since the epoch (tests); default `Date.now()`.
 * @throws {StoaConfigError} for a bad `returnUrl`, a `userId` not of the valid form (`isValidUserId`), or a non-string `email`/`name`.
 * @throws {StoaAPIError} when Stoa refuses (`invalid_return_url`, …) or answers with something that is not a session.
 * @throws {StoaConnectionError} when Stoa cannot be reached within the retry budget.
 */
export async function createPaymentSession(
  api: ApiClient,
  input: PaymentSessionInput,
  now: number = Date.now(),
): Promise<PaymentSession> {
  if (typeof input !== "object" || input === null) {
    throw new StoaConfigError("createPaymentSession() needs { userId, returnUrl, email?, name? }.");
  }
  const { userId, email, name, returnUrl } = input;
  checkUserId(userId, "createPaymentSession()");
  checkReturnUrl(returnUrl);
  const body: Record<string, string> = { userId };
  if (email != null) body.email = optionalString("createPaymentSession()", "email", email);
  if (name != null) body.name = optionalString("createPaymentSession()", "name", name);
  body.returnUrl = returnUrl;

  const slot = Math.floor(now / PAYMENT_SESSION_KEY_WINDOW_MS);
  const idempotencyKey = `ps-${slot}-${await sha256Hex(`${slot}\n${JSON.stringify(body)}`)}`;
  const session = await api.request("POST", "/v1/payment-sessions", { body, idempotencyKey });
  return readPaymentSession(session);
}

/**
 * Reads a payment session as it is now: `GET /v1/payment-sessions/{id}`. The
 * way to learn how checkout ended (the `stoa_session_id` in the return URL's
 * query proves nothing by itself).
 *
 * @throws {StoaConfigError} for an empty id.
 * @throws {StoaAPIError} `not_found` for an unknown id.
 * @throws {StoaConnectionError} when Stoa cannot be reached within the retry budget.
 */
export async function getPaymentSession(api: ApiClient, id: string): Promise<PaymentSession> {
  // "." and ".." are dot segments even when percent-encoded: the URL parser would move up the path.
  if (typeof id !== "string" || id === "" || id === "." || id === "..") {
    throw new StoaConfigError(
      "getPaymentSession() needs a payment session id (ps_…), e.g. the stoa_session_id query parameter.",
    );
  }
  return readPaymentSession(await api.request("GET", `/v1/payment-sessions/${encodeURIComponent(id)}`));
}

/** The session of a 2xx answer, with unknown fields dropped and an absent `checkoutUrl` read as `null`. */
function readPaymentSession(value: unknown): PaymentSession {
  const v = record(value);
  const { id, userId, membershipId, status, returnUrl } = v;
  const expiresAt = v.expiresAt ?? null;
  const checkoutUrl = v.checkoutUrl ?? null;
  if (
    typeof id !== "string" ||
    typeof userId !== "string" ||
    typeof membershipId !== "string" ||
    typeof status !== "string" ||
    !STATUSES.includes(status) ||
    (checkoutUrl !== null && typeof checkoutUrl !== "string") ||
    typeof returnUrl !== "string" ||
    (expiresAt !== null && typeof expiresAt !== "string")
  ) {
    throw invalidResponse("a payment session");
  }
  return {
    id,
    userId,
    membershipId,
    status: status as PaymentSessionStatus,
    checkoutUrl: checkoutUrl as string | null,
    returnUrl,
    expiresAt,
  };
}

/** Lower-case hex SHA-256 of the UTF-8 bytes of `text`. */
async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
