/**
 * A member's balance (`stoa-api.md`, "Balances"):
 * `GET /v1/members/{userId}/balance`, for apps to show their users.
 */
import { CHARGE_REASONS, type ChargeRequiredReason } from "../errors.ts";
import { invalidResponse, record } from "./read.ts";
import type { ApiClient } from "./types.ts";
import { checkUserId } from "./user-id.ts";

/** A member's money, in USD. */
export interface Balance {
  /** The app's own id of the user. */
  userId: string;
  /** What the member has. */
  balanceUsd: number;
  /** The unspent part of the member's live spend holds. */
  heldUsd: number;
  /** `balanceUsd − heldUsd`: what new calls can still reserve. */
  availableUsd: number;
  /** What the chargeability check would answer. */
  chargeable: boolean;
  /** Why not, when `chargeable` is false. */
  reason: Exclude<ChargeRequiredReason, "unavailable"> | null;
}

const REASONS: readonly string[] = CHARGE_REASONS;

/**
 * Reads `userId`'s balance. An unknown user has `balanceUsd: 0` and reason `payment_required`.
 *
 * @throws {StoaAPIError} when Stoa refuses or answers with something that is not a balance.
 * @throws {StoaConnectionError} when Stoa cannot be reached within the retry budget.
 */
export async function getBalance(api: ApiClient, userId: string): Promise<Balance> {
  checkUserId(userId, "getBalance()");
  const v = await api.request("GET", `/v1/members/${encodeURIComponent(userId)}/balance`);
  const b = record(v);
  const reason = b.reason ?? null;
  if (
    typeof b.userId !== "string" ||
    !isUsd(b.balanceUsd) ||
    !isUsd(b.heldUsd) ||
    !isUsd(b.availableUsd, true) ||
    typeof b.chargeable !== "boolean" ||
    (reason !== null && !REASONS.includes(String(reason)))
  ) {
    throw invalidResponse("a balance");
  }
  return {
    userId: b.userId,
    balanceUsd: b.balanceUsd,
    heldUsd: b.heldUsd,
    availableUsd: b.availableUsd,
    chargeable: b.chargeable,
    reason: reason as Balance["reason"],
  };
}

/** A finite USD figure; negative only where the contract allows it (available after an underestimate). */
function isUsd(value: unknown, negative = false): value is number {
  return typeof value === "number" && Number.isFinite(value) && (negative || value >= 0) && Math.abs(value) <= 1e12;
}
