/**
 * The 402 charge marker: how the meter's synthetic 402 for a blocked call
 * says "Stoa blocked this user" (response headers), and how that is read
 * back off the error a provider SDK builds from the response (openai's
 * `APIError`, Anthropic's `PaymentRequiredError`, the AI SDK's
 * `APICallError`, or an error that carries one as `cause` or `lastError`).
 * Written by `meter/blocked.ts`, read by `StoaChargeRequiredError`.
 *
 * The marker carries a random token made once per isolate (process), which
 * never leaves it: a 402 from anywhere else (a provider, a proxy, an
 * OpenAI-compatible host the app's users configure) that copies the headers
 * cannot pass for a block of ours, so it cannot name a user to resume a
 * request as.
 */

/** Response header that marks the synthetic 402 of a blocked call; its value is the reason. */
export const CHARGE_REQUIRED_HEADER = "x-stoa-charge-required";

/** Response header with the blocked user's id, URI-encoded. */
export const CHARGE_USER_HEADER = "x-stoa-user-id";

/** Response header with the blocked call's worst case in USD, when a spend hold was refused. */
export const CHARGE_REQUIRED_USD_HEADER = "x-stoa-required-usd";

/** Response header with what the user had available in USD, when Stoa said. */
export const CHARGE_AVAILABLE_USD_HEADER = "x-stoa-available-usd";

/** Response header with this isolate's marker token: only the meter's own 402s carry it. */
export const CHARGE_TOKEN_HEADER = "x-stoa-charge-token";

/** Where the token is kept: one per isolate, shared by every copy of the package loaded in it. */
const TOKEN_KEY = Symbol.for("@onstoa/sdk.charge-marker-token");

/** This isolate's marker token, made on first use (inside a request: Workers allow no randomness at start-up). */
function markerToken(): string {
  const holder = globalThis as { [TOKEN_KEY]?: string };
  holder[TOKEN_KEY] ??= crypto.randomUUID();
  return holder[TOKEN_KEY];
}

/** How deep `readChargeMarker` follows `cause` and `lastError`. */
const MAX_DEPTH = 4;

/** What the marker says: who was blocked, and why. */
export interface ChargeMarker<R extends string> {
  userId: string;
  reason: R;
  /** The call's worst case, when a spend hold was refused. */
  requiredUsd?: number | undefined;
  /** What the user had available, when Stoa said. */
  availableUsd?: number | undefined;
}

/** The marker headers of a blocked call's synthetic 402. */
export function chargeMarkerHeaders(marker: ChargeMarker<string>): Record<string, string> {
  const headers: Record<string, string> = {
    [CHARGE_REQUIRED_HEADER]: marker.reason,
    [CHARGE_USER_HEADER]: encodeURIComponent(marker.userId),
    [CHARGE_TOKEN_HEADER]: markerToken(),
  };
  if (marker.requiredUsd !== undefined) headers[CHARGE_REQUIRED_USD_HEADER] = String(marker.requiredUsd);
  if (marker.availableUsd !== undefined) headers[CHARGE_AVAILABLE_USD_HEADER] = String(marker.availableUsd);
  return headers;
}

/**
 * The first thing `find` finds in an error's chain: the error itself, else
 * its `cause`, else its `lastError` (the AI SDK's `RetryError`), at most 4
 * levels deep. How an SDK's error is searched for a block of ours.
 */
export function inErrorChain<T>(value: unknown, find: (error: object) => T | undefined, depth = 0): T | undefined {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return undefined;
  const found = find(value);
  if (found !== undefined) return found;
  const { cause, lastError } = value as { cause?: unknown; lastError?: unknown };
  return inErrorChain(cause, find, depth + 1) ?? inErrorChain(lastError, find, depth + 1);
}

/**
 * The marker of one error: a 402 (`status` or `statusCode`) whose headers
 * (`headers` or `responseHeaders`, a `Headers` or a plain record) carry the
 * marker with one of `reasons` and this isolate's token (see
 * `CHARGE_TOKEN_HEADER`). Undefined when it carries none.
 */
export function markerOf<R extends string>(error: object, reasons: readonly R[]): ChargeMarker<R> | undefined {
  const {
    status,
    statusCode,
    headers: own,
    responseHeaders,
  } = error as {
    status?: unknown;
    statusCode?: unknown;
    headers?: unknown;
    responseHeaders?: unknown;
  };
  if (status !== 402 && statusCode !== 402) return undefined;
  const headers = own ?? responseHeaders;
  const reason = header(headers, CHARGE_REQUIRED_HEADER);
  const user = header(headers, CHARGE_USER_HEADER);
  const ours = header(headers, CHARGE_TOKEN_HEADER) === markerToken();
  if (!ours || reason === undefined || !(reasons as readonly string[]).includes(reason) || user === undefined) {
    return undefined;
  }
  try {
    return {
      userId: decodeURIComponent(user),
      reason: reason as R,
      requiredUsd: usd(header(headers, CHARGE_REQUIRED_USD_HEADER)),
      availableUsd: usd(header(headers, CHARGE_AVAILABLE_USD_HEADER)),
    };
  } catch {
    return undefined;
  }
}

/** Reads the marker off a provider SDK's error, or an error in its chain (see `inErrorChain`, `markerOf`). */
export function readChargeMarker<R extends string>(value: unknown, reasons: readonly R[]): ChargeMarker<R> | undefined {
  return inErrorChain(value, (error) => markerOf(error, reasons));
}

/** A header of a `Headers` or of a plain record with lowercase names. */
function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}

/** A USD figure of a marker header, or undefined when absent or not a finite number. */
function usd(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}
