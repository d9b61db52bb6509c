/**
 * What `chargeRequired` and `paymentReturn` share: their options, the store
 * both must use, and the return `state`.
 *
 * `state` is an HS256 JWT (`aud` `stoa:payment-return`, `sub` the user,
 * `jti`, `iat`, `exp` ≤ 1 h) in the return URL. It is the same for every
 * request of one user within half its lifetime (`iat` is that half's start,
 * `jti` an HMAC of user and `iat`), so the return URL is too, and Stoa hands
 * back the one open payment session for that user and URL instead of making
 * one per blocked request. The action to resume stays server-side in a
 * `ResumeStore` under `<jti>.<session id>`: one record per user and session
 * (the latest blocked action), taken once, so no body travels in a URL and
 * the link of a paid session cannot resume a later one.
 */
import type { Context } from "hono";
import { errors, jwtVerify, SignJWT } from "jose";
import { StoaConfigError } from "../errors.ts";
import type { Stoa } from "../stoa.ts";
import { isLocalPath } from "./resume-record.ts";
import { type MemoryStore, memoryStore, type ResumeStore } from "./store.ts";

/** The `aud` of a return `state`. */
export const STATE_AUDIENCE = "stoa:payment-return";

const MAX_TTL_SECONDS = 3600;
const CLOCK_TOLERANCE_SECONDS = 30;

/** Options shared by `chargeRequired` and `paymentReturn`. */
export interface PaymentFlowOptions {
  /**
   * Signs `state`: at least 32 bytes of UTF-8. Default: `c.env.STOA_STATE_SECRET`,
   * checked on first use.
   */
  secret?: string;
  /**
   * Path of the return route on this origin, like `/stoa/return`: one
   * leading `/`, no `\`, no control characters. Default `/stoa/return`.
   */
  returnPath?: string;
  /**
   * Where pending resumes wait, or a function of the context that returns
   * it. Default: one `memoryStore()` per app (per `c.var.stoa`), shared by
   * `chargeRequired` and `paymentReturn`; it serves one isolate. On Workers
   * `(c) => kvStore(c.env.RESUME)`.
   */
  store?: ResumeStore | ((c: Context) => ResumeStore);
  /**
   * How long a `state` lives, in seconds: 60 to 3600 (default 1800). A user's
   * blocked requests share one state for half of this, so a payment link
   * lives between half of it and all of it.
   */
  stateTtlSeconds?: number;
  /**
   * The largest request body kept for resuming, in bytes (default 16 384). A
   * request with a larger body is not replayed: after payment, a 303 to `/`.
   */
  maxBodyBytes?: number;
}

/** The resolved options. */
export interface Flow {
  secret(c: Context): Uint8Array;
  returnPath: string;
  store(c: Context): ResumeStore;
  ttl: number;
  maxBodyBytes: number;
}

/** The default store of each app's `Stoa`: one for both handlers. */
const defaultStores = new WeakMap<Stoa, MemoryStore>();

/**
 * Checks `options` (at set-up) and resolves them.
 *
 * @throws {StoaConfigError} for a bad TTL, body limit, return path or secret.
 */
export function resolveFlow(options: PaymentFlowOptions): Flow {
  const ttl = options.stateTtlSeconds ?? 1800;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TTL_SECONDS) {
    throw new StoaConfigError("stateTtlSeconds must be a whole number of seconds from 60 to 3600.");
  }
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new StoaConfigError("maxBodyBytes must be a non-negative whole number.");
  }
  const returnPath = options.returnPath ?? "/stoa/return";
  if (!isLocalPath(returnPath)) {
    throw new StoaConfigError(
      'returnPath must be a path on this origin, like "/stoa/return": one leading "/", no "\\", no control characters.',
    );
  }
  const given = options.secret === undefined ? undefined : checkSecret(options.secret);
  const store = options.store;
  return {
    secret: (c) => given ?? checkSecret((c.env as { STOA_STATE_SECRET?: unknown } | undefined)?.STOA_STATE_SECRET),
    returnPath,
    store:
      typeof store === "function"
        ? store
        : store !== undefined
          ? () => store
          : (c) => {
              const stoa = stoaOf(c);
              let shared = defaultStores.get(stoa);
              if (shared === undefined) {
                shared = memoryStore();
                defaultStores.set(stoa, shared);
              }
              return shared;
            },
    ttl,
    maxBodyBytes,
  };
}

function checkSecret(secret: unknown): Uint8Array {
  const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : undefined;
  if (bytes === undefined || bytes.byteLength < 32) {
    throw new StoaConfigError(
      "The payment-return secret must be at least 32 bytes: pass { secret } or set STOA_STATE_SECRET (e.g. `openssl rand -base64 32`).",
    );
  }
  return bytes;
}

/**
 * `c.var.stoa`.
 *
 * @throws {StoaConfigError} when `stoa()` did not run.
 */
export function stoaOf(c: Context): Stoa {
  const stoa = c.get("stoa");
  if (stoa === undefined) throw new StoaConfigError("No c.var.stoa: add app.use(stoa()) before the routes.");
  return stoa;
}

/** Whether the caller is a browser navigation. */
export function wantsHtml(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

/** The `error` of a 4xx JSON answer: a stable `code`, one sentence, and what else it carries (`reason`). */
export interface ProblemError {
  code: string;
  message: string;
  reason?: string;
}

/**
 * A 4xx in the form the caller reads: a small HTML page with the message for
 * browsers, `{ "error": error, ...extra }` otherwise.
 */
export function problem(
  c: Context,
  status: 400 | 402 | 403 | 409,
  error: ProblemError,
  extra: Record<string, unknown> = {},
): Response {
  if (wantsHtml(c)) {
    const text = error.message.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
    return c.html(`<!doctype html><title>${status}</title><p>${text}</p>`, status);
  }
  return c.json({ error, ...extra }, status);
}

/** A minted `state`: the token, its `jti`, and how long a record for it must be kept. */
export interface MintedState {
  token: string;
  jti: string;
  /** Seconds until the state expires, plus the clock tolerance. */
  keepSeconds: number;
}

/** The state of `userId` for now: the same token for every call within half its lifetime. */
export async function mintState(flow: Flow, key: Uint8Array, userId: string, now = Date.now()): Promise<MintedState> {
  const half = Math.ceil(flow.ttl / 2);
  const seconds = Math.floor(now / 1000);
  const iat = seconds - (seconds % half);
  const exp = iat + flow.ttl;
  const jti = await hmac(key, `${STATE_AUDIENCE}\n${iat}\n${userId}`);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setAudience(STATE_AUDIENCE)
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key);
  return { token, jti, keepSeconds: exp - seconds + CLOCK_TOLERANCE_SECONDS };
}

/**
 * A checked state, or why it is refused. An expired state whose signature
 * and other claims hold (as of its `iat`) still names its `userId`, so a
 * late return can learn whether the payment went through; it never resumes.
 */
export type VerifiedState =
  | { userId: string; jti: string }
  | { refused: "invalid_state" }
  | { refused: "expired_state"; userId?: string };

/**
 * Checks a `state`: signature, audience, expiry, a lifetime of at most an hour.
 *
 * @throws {StoaConfigError} when the secret is bad.
 */
export async function verifyState(flow: Flow, c: Context, token: string): Promise<VerifiedState> {
  const key = flow.secret(c);
  try {
    return (await checkState(key, token)) ?? { refused: "invalid_state" };
  } catch (error) {
    if (!(error instanceof errors.JWTExpired)) return { refused: "invalid_state" };
    const iat = error.payload.iat;
    if (typeof iat !== "number") return { refused: "expired_state" };
    try {
      // every check but expiry, as of when it was issued: a state that fails them names no one
      const checked = await checkState(key, token, new Date(iat * 1000));
      return checked === null ? { refused: "expired_state" } : { refused: "expired_state", userId: checked.userId };
    } catch {
      return { refused: "expired_state" };
    }
  }
}

/**
 * The user and `jti` of `token`, checked as of `now` (default: now); null
 * for a state that would live over an hour.
 *
 * @throws {errors.JOSEError} for a state that fails a check (`JWTExpired` for one past its `exp`).
 */
async function checkState(key: Uint8Array, token: string, now?: Date): Promise<{ userId: string; jti: string } | null> {
  const { payload } = await jwtVerify(token, key, {
    algorithms: ["HS256"],
    audience: STATE_AUDIENCE,
    requiredClaims: ["exp", "iat", "jti", "sub"],
    maxTokenAge: MAX_TTL_SECONDS,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(now === undefined ? {} : { currentDate: now }),
  });
  if ((payload.exp as number) - (payload.iat as number) > MAX_TTL_SECONDS) return null;
  return { userId: payload.sub as string, jti: payload.jti as string };
}

/** The store key of the record for `jti` and payment session `sessionId`. */
export function resumeKey(jti: string, sessionId: string): string {
  return `${jti}.${sessionId}`;
}

/** base64url HMAC-SHA-256 of `text` under `key`, 32 characters. */
async function hmac(key: Uint8Array, text: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...mac.subarray(0, 24)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}
