/**
 * The chargeability check (`stoa-api.md`, "Chargeability"):
 * `GET /v1/members/{userId}/chargeability`, its answer read from `unknown`
 * into exact fields, and the reasons a member cannot be charged.
 */
import { CHARGE_REASONS, StoaAPIError } from "../errors.ts";
import type { ApiClient } from "./types.ts";

/** A reason the contract gives for `chargeable: false` (`errors.ts` holds the one list). */
export type WireChargeRequiredReason = (typeof CHARGE_REASONS)[number];

/** The answer of a chargeability check. */
export interface Chargeability {
  userId: string;
  chargeable: boolean;
  /** `null` when chargeable. */
  reason: WireChargeRequiredReason | null;
  /** How long the answer may be reused, in seconds (0: not at all). */
  ttlSeconds: number;
}

/** Options of {@link getChargeability}. */
export interface ChargeabilityRequestOptions {
  /** Longest wait for the answer, in ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * The path of `userId`'s check, URL-encoded.
 *
 * @throws {URIError} when `userId` is not well-formed UTF-16 (a lone surrogate).
 */
export function chargeabilityPath(userId: string): string {
  return `/v1/members/${encodeURIComponent(userId)}/chargeability`;
}

/**
 * Asks Stoa whether `userId` can be charged, once (no retries: a gate
 * cannot wait for a retry budget).
 *
 * @throws {URIError} when `userId` is not well-formed UTF-16.
 * @throws {StoaAPIError} for a non-2xx answer, or a 2xx that is not a chargeability answer.
 * @throws {StoaConnectionError} when Stoa cannot be reached within `timeoutMs`.
 */
export async function getChargeability(
  api: ApiClient,
  userId: string,
  options: ChargeabilityRequestOptions,
): Promise<Chargeability> {
  const answer: unknown = await api.request("GET", chargeabilityPath(userId), {
    retry: false,
    timeoutMs: options.timeoutMs,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return readChargeability(answer);
}

/**
 * Reads a chargeability answer. `chargeable` must be a boolean and
 * `ttlSeconds` a non-negative finite number (absent or `null`: 0). A refusal
 * whose reason this version does not know reads as `payment_required`, so a
 * newer server's reason still blocks rather than lets the call through.
 *
 * @throws {StoaAPIError} when `value` is not a chargeability answer.
 */
export function readChargeability(value: unknown): Chargeability {
  const v =
    typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const { userId, chargeable } = v;
  const ttl = v.ttlSeconds ?? 0;
  if (typeof userId !== "string" || typeof chargeable !== "boolean") throw notAnswer();
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < 0) throw notAnswer();
  if (chargeable) return { userId, chargeable, reason: null, ttlSeconds: ttl };
  const reason = (CHARGE_REASONS as readonly unknown[]).includes(v.reason)
    ? (v.reason as WireChargeRequiredReason)
    : "payment_required";
  return { userId, chargeable, reason, ttlSeconds: ttl };
}

function notAnswer(): StoaAPIError {
  return new StoaAPIError("Stoa API answered with a body that is not a chargeability answer.", { status: 200 });
}
