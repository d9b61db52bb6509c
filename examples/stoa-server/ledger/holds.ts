/**
 * Balances and spend holds (`stoa-api.md`, "Balances", "Spend holds"). A
 * hold reserves part of a member's available balance (balance less the
 * unspent part of its live holds) until it is released or expires; events
 * naming a live hold of the same user settle against it first.
 *
 * Every method is synchronous and runs in one transaction, and the whole
 * ledger lives in one Durable Object, so grants for one member never
 * interleave: the sum of the live holds' unspent amounts never exceeds the
 * balance at the moment of each grant. Expiry is swept on access: every
 * method first marks the holds past their `expiresAt` as expired.
 *
 * A user with no member record in a `chargeAll` project (load tests,
 * meter-only set-ups) is granted every hold in full, and its figures stay 0.
 */
import type { Balance } from "../../../src/api/balances.ts";
import type { HoldRow } from "../pages/types.ts";
import type { Sql, SqlRow } from "../sql.ts";
import type { Members, Reason } from "./members.ts";
import type { Project } from "./projects.ts";
import { newId, rfc3339, usd, wholeSecondsAfter } from "./shared.ts";

/** The contract's Balance: the SDK's type. */
export type { Balance };

/** What a hold request asks for, in nano-dollars and seconds (validated by the API). */
export interface HoldRequest {
  minNanos: number;
  targetNanos: number;
  ttlSeconds: number;
}

/** The answer of `POST /v1/members/{userId}/holds`. */
export type HoldAnswer =
  | { granted: true; id: string; userId: string; amountUsd: number; expiresAt: string; availableUsd: number }
  | { granted: false; userId: string; reason: Reason; availableUsd: number };

/** The answer of `POST /v1/holds/{id}/release`. */
export interface Release {
  id: string;
  amountUsd: number;
  spentUsd: number;
  releasedUsd: number;
}

/** A live hold, for the member page. */
export type { HoldRow };

/** The balances and holds part of the ledger. */
export function createHolds(sql: Sql, { member, reasonFor }: Members) {
  function sweep(projectId: string, now: number): void {
    sql.all(
      "UPDATE holds SET status = 'expired', ended_at = expires_at WHERE project = ? AND status = 'live' AND expires_at <= ?",
      projectId,
      now,
    );
  }

  /** The member's balance and the unspent part of its live holds, in nano-dollars (after a sweep). */
  function figures(projectId: string, userId: string): { balance: number; held: number } {
    const m = member(projectId, userId);
    if (m === undefined) return { balance: 0, held: 0 };
    const row = sql.all(
      "SELECT COALESCE(SUM(amount_nanos - spent_nanos), 0) AS held FROM holds WHERE project = ? AND user_id = ? AND status = 'live'",
      projectId,
      userId,
    )[0] as SqlRow;
    return { balance: m.balance_nanos as number, held: row.held as number };
  }

  return {
    /** `GET /v1/members/{userId}/balance`. */
    balance(p: Project, userId: string, now: number): Balance {
      return sql.transaction(() => {
        sweep(p.id, now);
        const { balance, held } = figures(p.id, userId);
        const reason = reasonFor(p, userId);
        return {
          userId,
          balanceUsd: usd(balance),
          heldUsd: usd(held),
          availableUsd: usd(balance - held),
          chargeable: reason === null,
          reason,
        };
      });
    },

    /**
     * `POST /v1/members/{userId}/holds`: grants as much of the target as
     * the available balance allows, at least the minimum, or refuses with
     * the contract's reason.
     */
    grantHold(p: Project, userId: string, request: HoldRequest, now: number): HoldAnswer {
      return sql.transaction(() => {
        sweep(p.id, now);
        const reason = reasonFor(p, userId);
        const stranger = member(p.id, userId) === undefined;
        const { balance, held } = figures(p.id, userId);
        const available = balance - held;
        if (reason === "payment_required" || reason === "member_suspended") {
          return { granted: false, userId, reason, availableUsd: reason === "payment_required" ? 0 : usd(available) };
        }
        if (!stranger && available < request.minNanos) {
          return { granted: false, userId, reason: "insufficient_balance", availableUsd: usd(available) };
        }
        const amount = stranger ? request.targetNanos : Math.min(request.targetNanos, available);
        const id = newId("hold");
        const expiresAt = wholeSecondsAfter(now, request.ttlSeconds * 1000);
        sql.all(
          `INSERT INTO holds (id, project, user_id, amount_nanos, spent_nanos, status, created_at, expires_at)
           VALUES (?, ?, ?, ?, 0, 'live', ?, ?)`,
          id,
          p.id,
          userId,
          amount,
          now,
          expiresAt,
        );
        return {
          granted: true,
          id,
          userId,
          amountUsd: usd(amount),
          expiresAt: rfc3339(expiresAt),
          availableUsd: stranger ? 0 : usd(available - amount),
        };
      });
    },

    /**
     * `POST /v1/holds/{id}/release`: the unspent amount returns to the
     * available balance. Releasing a released or expired hold answers the
     * same figures; `undefined` for an unknown id.
     */
    releaseHold(projectId: string, id: string, now: number): Release | undefined {
      return sql.transaction(() => {
        sweep(projectId, now);
        const row = sql.all("SELECT * FROM holds WHERE project = ? AND id = ?", projectId, id)[0];
        if (row === undefined) return undefined;
        if (row.status === "live") {
          sql.all("UPDATE holds SET status = 'released', ended_at = ? WHERE id = ?", now, id);
        }
        const [amount, spent] = [row.amount_nanos as number, row.spent_nanos as number];
        return { id, amountUsd: usd(amount), spentUsd: usd(spent), releasedUsd: usd(amount - spent) };
      });
    },

    /**
     * Settles `cost` nano-dollars of an event of `userId` against `holdId`
     * when it names a live hold of that user: takes what the hold has left,
     * up to the cost. Returns what it took (0 for an expired, released,
     * unknown or foreign hold). The caller debits the whole cost from the
     * balance: a hold is a reservation of the balance, not money of its own.
     */
    settle(projectId: string, userId: string, holdId: string | undefined, cost: number, now: number): number {
      if (holdId === undefined) return 0;
      sweep(projectId, now);
      const row = sql.all(
        "SELECT amount_nanos, spent_nanos FROM holds WHERE project = ? AND id = ? AND user_id = ? AND status = 'live'",
        projectId,
        holdId,
        userId,
      )[0];
      if (row === undefined) return 0;
      const taken = Math.min(cost, (row.amount_nanos as number) - (row.spent_nanos as number));
      sql.all("UPDATE holds SET spent_nanos = spent_nanos + ? WHERE id = ?", taken, holdId);
      return taken;
    },

    /** The live holds of a user, newest first. */
    liveHolds(projectId: string, userId: string, now: number): HoldRow[] {
      return sql.transaction(() => {
        sweep(projectId, now);
        return sql
          .all(
            "SELECT * FROM holds WHERE project = ? AND user_id = ? AND status = 'live' ORDER BY created_at DESC, rowid DESC",
            projectId,
            userId,
          )
          .map((row) => {
            const [amount, spent] = [row.amount_nanos as number, row.spent_nanos as number];
            return {
              id: row.id as string,
              amountUsd: usd(amount),
              spentUsd: usd(spent),
              unspentUsd: usd(amount - spent),
              createdAt: rfc3339(row.created_at as number, true),
              expiresAt: rfc3339(row.expires_at as number),
            };
          });
      });
    },
  };
}

/** The balances and holds part of a ledger. */
export type Holds = ReturnType<typeof createHolds>;
