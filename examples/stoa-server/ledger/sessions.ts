/**
 * Payment sessions (`stoa-api.md`, "Payment sessions"): open for at most an
 * hour, then `expired`; `not_required` (with an id, no checkout URL and no
 * expiry) when the user is already chargeable; completed by checkout, which
 * marks the member paid and adds the amount to its balance.
 */
import type { PaymentSession } from "../../../src/api/payments.ts";
import type { Sql, SqlRow } from "../sql.ts";
import type { Members, Profile } from "./members.ts";
import type { Project } from "./projects.ts";
import { nanosOf, newId, rfc3339, wholeSecondsAfter } from "./shared.ts";

/** How long a payment session stays open (the contract's "at most 1 hour"). */
export const PAYMENT_SESSION_TTL_MS = 60 * 60 * 1000;

export type { PaymentSession };

/** A session with what the checkout page needs besides. */
export interface SessionRecord extends PaymentSession {
  project: string;
}

/** The payment sessions part of the ledger. */
export function createSessions(sql: Sql, { member, addMember, reasonFor }: Members) {
  /** The session with an `open` one past its time marked `expired`. */
  function session(id: string, now: number): SqlRow | undefined {
    const row = sql.all("SELECT * FROM sessions WHERE id = ?", id)[0];
    if (row?.status === "open" && now >= (row.expires_at as number)) {
      sql.all("UPDATE sessions SET status = 'expired' WHERE id = ?", id);
      row.status = "expired";
    }
    return row;
  }

  return {
    /**
     * `POST /v1/payment-sessions` after validation: creates the member if
     * needed; `not_required` when the user is chargeable; else the open
     * session for the same user and `returnUrl`, or a new one.
     */
    createSession(p: Project, input: { userId: string; returnUrl: string } & Profile, origin: string, now: number) {
      const m = member(p.id, input.userId) ?? addMember(p.id, input.userId, now, input);
      const chargeable = reasonFor(p, input.userId) === null;
      if (!chargeable) {
        const open = sql.all(
          "SELECT id FROM sessions WHERE project = ? AND user_id = ? AND return_url = ? AND status = 'open' AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
          p.id,
          input.userId,
          input.returnUrl,
          now,
        )[0];
        if (open !== undefined)
          return { created: false, session: toSession(session(open.id as string, now) as SqlRow, origin) };
      }
      const id = newId("ps");
      sql.all(
        "INSERT INTO sessions (id, project, user_id, membership_id, status, return_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        id,
        p.id,
        input.userId,
        m.membership_id as string,
        chargeable ? "not_required" : "open",
        input.returnUrl,
        now,
        wholeSecondsAfter(now, PAYMENT_SESSION_TTL_MS),
      );
      return { created: true, session: toSession(session(id, now) as SqlRow, origin) };
    },

    /** The project of session `id`, or `undefined` for an unknown id. */
    sessionProject(id: string): string | undefined {
      return sql.all("SELECT project FROM sessions WHERE id = ?", id)[0]?.project as string | undefined;
    },

    /** A session as it is now, in `projectId` (any project when omitted). */
    getSession(id: string, origin: string, now: number, projectId?: string): SessionRecord | undefined {
      const row = session(id, now);
      if (row === undefined || (projectId !== undefined && row.project !== projectId)) return undefined;
      return { ...toSession(row, origin), project: row.project as string };
    },

    /**
     * What checkout does when the user pays: the open session becomes
     * `complete`, the member has paid and gets `amountUsd` of balance.
     * `undefined` when there is no such session; the session unchanged when it is not open.
     */
    completeSession(id: string, amountUsd: number, origin: string, now: number) {
      return sql.transaction(() => {
        const row = session(id, now);
        if (row === undefined) return undefined;
        if (row.status !== "open") return { completed: false, session: toSession(row, origin) };
        const amount = nanosOf(amountUsd);
        sql.all("UPDATE sessions SET status = 'complete', amount_nanos = ? WHERE id = ?", amount, id);
        sql.all(
          "UPDATE members SET paid = 1, balance_nanos = balance_nanos + ? WHERE project = ? AND user_id = ?",
          amount,
          row.project as string,
          row.user_id as string,
        );
        return { completed: true, session: toSession(session(id, now) as SqlRow, origin) };
      });
    },
  };
}

function toSession(row: SqlRow, origin: string): PaymentSession {
  const id = row.id as string;
  const required = row.status !== "not_required";
  return {
    id,
    userId: row.user_id as string,
    membershipId: row.membership_id as string,
    status: row.status as PaymentSession["status"],
    checkoutUrl: required ? `${origin}/checkout/${id}` : null,
    returnUrl: row.return_url as string,
    expiresAt: required ? rfc3339(row.expires_at as number) : null,
  };
}
