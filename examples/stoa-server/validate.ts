/**
 * The contract's checks of request bodies (shared/stoa-api.md), as pure
 * functions: one usage event, and a payment session's `returnUrl`.
 */

/** The contract's `event_too_large`: one event over 64 KiB of JSON (as this server re-serialises it). */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * The largest usage count of one event: 10^9, far past any context window.
 * Not fixed by the contract (it says non-negative integers): this server's
 * bound, so that a count times the dearest rate stays an exact integer of
 * nano-dollars (below 2^53).
 */
export const MAX_USAGE_COUNT = 1_000_000_000;

/** The largest provider-reported `costUsd` of one event: $1,000,000 (10^15 nano-dollars, below 2^53). */
export const MAX_COST_USD = 1_000_000;

/** One entry of a 200 answer's `rejected`. */
export interface Rejection {
  id: string | null;
  code: "missing_field" | "invalid_field" | "event_too_large";
  message: string;
}

/** The exclusive and the counted usage fields, in the contract's order. */
export const USAGE_FIELDS = [
  "inputTokens",
  "cacheReadTokens",
  "cacheWriteTokens",
  "audioInputTokens",
  "outputTokens",
  "audioOutputTokens",
  "reasoningTokens",
  "webSearchRequests",
] as const;

type Check = [field: string, ok: (v: unknown) => boolean, what: string];

const REQUIRED: Check[] = [
  ["id", (v) => typeof v === "string" && chars(v) >= 1 && chars(v) <= 128, "a string of 1 to 128 characters"],
  ["userId", isString, "a string"],
  ["provider", (v) => typeof v === "string" && /^[a-z0-9][a-z0-9._-]*$/.test(v), "a lowercase provider id"],
  ["endpoint", (v) => typeof v === "string" && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(v), "a dotted name"],
  ["model", isString, "a string"],
  ["requestedModel", isString, "a string"],
  ["stream", isBoolean, "a boolean"],
  ["status", (v) => v === "completed" || v === "aborted", '"completed" or "aborted"'],
  ["estimated", isBoolean, "a boolean"],
  ["usage", isObject, "an object"],
  ["occurredAt", isUtcTime, "an RFC 3339 time in UTC"],
  ["durationMs", isDuration, "a non-negative number"],
];

const OPTIONAL: Check[] = [
  ["providerRequestId", isString, "a string"],
  ["costUsd", (v) => typeof v === "number" && Number.isFinite(v) && v >= 0, "a non-negative number"],
  ["holdId", isString, "a string"],
  ["timeToFirstByteMs", isDuration, "a non-negative number"],
  ["metadata", isObject, "an object of strings"],
];

/** The first problem of one event by the contract's table, or `undefined` when it is valid. */
export function checkEvent(value: unknown): Omit<Rejection, "id"> | undefined {
  if (!isObject(value)) return { code: "invalid_field", message: "An event must be a JSON object." };
  const e = value as Record<string, unknown>;
  if (utf8Bytes(JSON.stringify(e)) > MAX_EVENT_BYTES) {
    return { code: "event_too_large", message: `An event is at most ${MAX_EVENT_BYTES} bytes of JSON.` };
  }
  for (const [field, ok, what] of REQUIRED) {
    const v = e[field];
    if (v === undefined || v === null) return { code: "missing_field", message: `${field} is required.` };
    if (!ok(v)) return { code: "invalid_field", message: `${field} must be ${what}.` };
  }
  for (const [field, ok, what] of OPTIONAL) {
    const v = e[field];
    if (v !== undefined && v !== null && !ok(v)) return { code: "invalid_field", message: `${field} must be ${what}.` };
  }
  const usage = e.usage as Record<string, unknown>;
  for (const field of USAGE_FIELDS) {
    const v = usage[field];
    if (v === undefined || v === null) continue;
    if (!(Number.isInteger(v) && (v as number) >= 0)) {
      return { code: "invalid_field", message: `usage.${field} must be a non-negative integer.` };
    }
    if ((v as number) > MAX_USAGE_COUNT) {
      return { code: "invalid_field", message: `usage.${field} must be at most ${MAX_USAGE_COUNT}.` };
    }
  }
  if (typeof e.costUsd === "number" && e.costUsd > MAX_COST_USD) {
    return { code: "invalid_field", message: `costUsd must be at most ${MAX_COST_USD}.` };
  }
  if (isObject(e.metadata)) {
    const entries = Object.entries(e.metadata as Record<string, unknown>);
    if (entries.length > 16) return { code: "invalid_field", message: "metadata has at most 16 keys." };
    for (const [key, v] of entries) {
      if (chars(key) > 40) return { code: "invalid_field", message: "metadata keys are at most 40 characters." };
      if (typeof v !== "string") return { code: "invalid_field", message: `metadata.${key} must be a string.` };
      if (chars(v) > 500) return { code: "invalid_field", message: "metadata values are at most 500 characters." };
    }
  }
  return undefined;
}

/** The contract's rule: absolute https; http only to localhost, *.localhost, 127.0.0.0/8 or [::1]. */
export function isReturnUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  if (url.protocol !== "http:") return false;
  const host = url.hostname;
  if (host === "[::1]" || host === "localhost") return true;
  if (host.endsWith(".localhost")) return !host.split(".").includes("");
  const octets = host.split(".");
  return octets.length === 4 && octets[0] === "127" && octets.every((o) => /^\d+$/.test(o) && Number(o) <= 255);
}

/** RFC 3339 with a UTC offset (`Z` or `+00:00`) and a real calendar date. */
export function isUtcTime(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|\+00:00)$/.exec(v);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i])) as number[];
  const date = new Date(Date.UTC(year as number, (month as number) - 1, day));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === (month as number) - 1 &&
    date.getUTCDate() === day &&
    (hour as number) < 24 &&
    (minute as number) < 60 &&
    (second as number) < 60
  );
}

/** Whether `v` is a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isString(v: unknown): boolean {
  return typeof v === "string";
}

function isBoolean(v: unknown): boolean {
  return typeof v === "boolean";
}

function isDuration(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/** Characters as code points. */
function chars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
