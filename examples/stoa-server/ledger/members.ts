/**
 * Members: balances in nano-dollars, the paid and suspended flags, and the
 * chargeability rule (`stoa-api.md`, "Chargeability"): paid and a balance
 * above 0. Money held for a member's own calls does not count here.
 */
import type { ChargeRequiredReason } from "../../../src/errors.ts";
import type { MemberRow } from "../pages/types.ts";
import type { Sql, SqlRow } from "../sql.ts";
import type { Project } from "./projects.ts";
import { nanosOf, newId, rfc3339, usd } from "./shared.ts";

/** Why a member cannot be charged: the SDK's reasons less its own `unavailable`, which is never on the wire. */
export type Reason = Exclude<ChargeRequiredReason, "unavailable">;

/** A member as stored. */
export interface MemberRecord {
  userId: string;
  membershipId: string;
  email: string | null;
  name: string | null;
  picture: string | null;
  balanceUsd: number;
  paid: boolean;
  suspended: boolean;
}

/** A member's profile from registration or a payment session. */
export interface Profile {
  email?: string;
  name?: string;
  picture?: string;
}

/** Member fields an operator (or a test) may set directly. */
export interface MemberSeed {
  balanceUsd?: number;
  paid?: boolean;
  suspended?: boolean;
}

/** The members part of the ledger. */
export function createMembers(sql: Sql) {
  function member(projectId: string, userId: string): SqlRow | undefined {
    return sql.all("SELECT * FROM members WHERE project = ? AND user_id = ?", projectId, userId)[0];
  }

  function addMember(projectId: string, userId: string, now: number, profile: Profile = {}): SqlRow {
    sql.all(
      "INSERT INTO members (project, user_id, membership_id, email, name, picture, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      projectId,
      userId,
      newId("mem"),
      profile.email ?? null,
      profile.name ?? null,
      profile.picture ?? null,
      now,
    );
    return member(projectId, userId) as SqlRow;
  }

  function reasonFor(p: Project, userId: string): Reason | null {
    const m = member(p.id, userId);
    if (m === undefined) return p.chargeAll ? null : "payment_required";
    if (m.suspended) return "member_suspended";
    if (!m.paid) return "payment_required";
    if ((m.balance_nanos as number) <= 0) return "insufficient_balance";
    return null;
  }

  function memberRow(p: Project, row: SqlRow): MemberRow {
    const userId = row.user_id as string;
    const stats = sql.all(
      "SELECT COUNT(*) AS n, COALESCE(SUM(cost_nanos), 0) AS cost, MAX(occurred_at) AS last FROM events WHERE project = ? AND user_id = ?",
      p.id,
      userId,
    )[0] as SqlRow;
    const reason = reasonFor(p, userId);
    return {
      userId,
      membershipId: (row.membership_id as string | null) ?? "",
      name: (row.name as string | null) ?? null,
      email: (row.email as string | null) ?? null,
      balanceUsd: usd((row.balance_nanos as number | null) ?? 0),
      paid: Boolean(row.paid),
      suspended: Boolean(row.suspended),
      chargeable: reason === null,
      reason,
      events: stats.n as number,
      costUsd: usd(stats.cost as number),
      lastEventAt: stats.last === null ? null : rfc3339(stats.last as number, true),
    };
  }

  return {
    /** A member's row as stored. */
    member,

    /** Creates a member record. */
    addMember,

    /** Why `userId` cannot be charged, or null when it can. */
    reasonFor,

    /** Subtracts `nanos` from a member's balance (nothing for a user who is not a member); it may go below 0. */
    debit(projectId: string, userId: string, nanos: number): void {
      sql.all(
        "UPDATE members SET balance_nanos = balance_nanos - ? WHERE project = ? AND user_id = ?",
        nanos,
        projectId,
        userId,
      );
    },

    /** Creates or updates a member's balance and flags directly (an operator's tool). */
    seedMember(projectId: string, userId: string, seed: MemberSeed, now: number): void {
      if (member(projectId, userId) === undefined) addMember(projectId, userId, now);
      const set = (column: string, value: number) =>
        sql.all(`UPDATE members SET ${column} = ? WHERE project = ? AND user_id = ?`, value, projectId, userId);
      if (seed.balanceUsd !== undefined) set("balance_nanos", nanosOf(seed.balanceUsd));
      if (seed.paid !== undefined) set("paid", seed.paid ? 1 : 0);
      if (seed.suspended !== undefined) set("suspended", seed.suspended ? 1 : 0);
    },

    /** Members and users with events, most recently active first. */
    members(p: Project): MemberRow[] {
      const rows = sql.all(
        `SELECT user_id, membership_id, email, name, balance_nanos, paid, suspended FROM members WHERE project = ?
         UNION ALL
         SELECT DISTINCT user_id, NULL, NULL, NULL, NULL, 0, 0 FROM events
         WHERE project = ? AND user_id NOT IN (SELECT user_id FROM members WHERE project = ?)`,
        p.id,
        p.id,
        p.id,
      );
      return rows
        .map((row) => memberRow(p, row))
        .sort((a, b) => (b.lastEventAt ?? "").localeCompare(a.lastEventAt ?? "") || a.userId.localeCompare(b.userId));
    },

    /** One member's row, or a row for a user with events only; `undefined` for a stranger. */
    memberRow(p: Project, userId: string): MemberRow | undefined {
      const row = member(p.id, userId);
      if (row !== undefined) return memberRow(p, row);
      const seen = sql.all("SELECT 1 FROM events WHERE project = ? AND user_id = ? LIMIT 1", p.id, userId);
      return seen.length === 0 ? undefined : memberRow(p, { user_id: userId, paid: 0, suspended: 0 });
    },

    /** The member records of a project, in order of creation. */
    memberRecords(projectId: string): MemberRecord[] {
      return sql.all("SELECT * FROM members WHERE project = ? ORDER BY created_at, rowid", projectId).map((row) => ({
        userId: row.user_id as string,
        membershipId: row.membership_id as string,
        email: row.email as string | null,
        name: row.name as string | null,
        picture: row.picture as string | null,
        balanceUsd: usd(row.balance_nanos as number),
        paid: Boolean(row.paid),
        suspended: Boolean(row.suspended),
      }));
    },
  };
}

/** The members part of a ledger. */
export type Members = ReturnType<typeof createMembers>;
