/**
 * Spend holds on the wire (`stoa-api.md`, "Spend holds"): asking for one
 * (`POST /v1/members/{userId}/holds`) and releasing it
 * (`POST /v1/holds/{id}/release`). A refusal is an answer, not an error.
 */
import { CHARGE_REASONS, type ChargeRequiredReason } from "../errors.ts";
import { invalidResponse, record } from "./read.ts";
import type { ApiClient } from "./types.ts";

/** What a hold request asks for. */
export interface HoldRequest {
  /** What the caller cannot do without (> 0). */
  minUsd: number;
  /** What it would like (≥ `minUsd`). */
  targetUsd: number;
  /** 10 to 900. */
  ttlSeconds: number;
}

/** A granted hold. */
export interface GrantedHold {
  granted: true;
  id: string;
  amountUsd: number;
  /** RFC 3339. */
  expiresAt: string;
  availableUsd: number;
}

/** A refused hold. */
export interface RefusedHold {
  granted: false;
  reason: Exclude<ChargeRequiredReason, "unavailable">;
  availableUsd: number;
}

/** What releasing a hold settled. */
export interface ReleasedHold {
  id: string;
  amountUsd: number;
  spentUsd: number;
  releasedUsd: number;
}

const REASONS: readonly string[] = CHARGE_REASONS;

/**
 * Asks for a hold on `userId`'s balance. One attempt, no retry: a caller is
 * waiting, and a hold granted to a lost answer expires by itself.
 *
 * @throws {StoaAPIError} for an error answer (`404` from a server that speaks only `2026-11-01`) or a malformed one.
 * @throws {StoaConnectionError} when Stoa cannot be reached in `timeoutMs`.
 */
export async function requestHold(
  api: ApiClient,
  userId: string,
  hold: HoldRequest,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<GrantedHold | RefusedHold> {
  const v = record(
    await api.request("POST", `/v1/members/${encodeURIComponent(userId)}/holds`, {
      body: hold,
      retry: false,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }),
  );
  if (v.granted === true) {
    if (
      typeof v.id === "string" &&
      /^[A-Za-z0-9_-]{1,128}$/.test(v.id) &&
      isUsd(v.amountUsd) &&
      typeof v.expiresAt === "string" &&
      isUsd(v.availableUsd, true)
    ) {
      return { granted: true, id: v.id, amountUsd: v.amountUsd, expiresAt: v.expiresAt, availableUsd: v.availableUsd };
    }
  } else if (v.granted === false && REASONS.includes(String(v.reason)) && isUsd(v.availableUsd ?? 0, true)) {
    return {
      granted: false,
      reason: v.reason as RefusedHold["reason"],
      availableUsd: (v.availableUsd ?? 0) as number,
    };
  }
  throw invalidResponse("a hold");
}

/**
 * Releases a hold: its unspent amount returns to the available balance.
 * Releasing twice returns the same figures, so the key is the hold's id.
 *
 * @throws {StoaAPIError} `not_found` for an unknown id, or a malformed answer.
 */
export async function releaseHold(api: ApiClient, id: string): Promise<ReleasedHold> {
  const v = record(
    await api.request("POST", `/v1/holds/${encodeURIComponent(id)}/release`, {
      body: {},
      idempotencyKey: `release-${id}`,
    }),
  );
  if (typeof v.id === "string" && isUsd(v.amountUsd) && isUsd(v.spentUsd) && isUsd(v.releasedUsd)) {
    return { id: v.id, amountUsd: v.amountUsd, spentUsd: v.spentUsd, releasedUsd: v.releasedUsd };
  }
  throw invalidResponse("a released hold");
}

function isUsd(value: unknown, negative = false): value is number {
  return typeof value === "number" && Number.isFinite(value) && (negative || value >= 0) && Math.abs(value) <= 1e12;
}
