/**
 * Member registration (`stoa-api.md`, "Members"): seen `jti`s, and the
 * idempotent registration itself. The token checks are registration.ts's
 * one level up; a `jti` is recorded as soon as they pass, in its own
 * statement, so it counts as seen whether or not the registration then
 * succeeds.
 */
import type { Sql } from "../sql.ts";
import type { Members, Profile } from "./members.ts";

/** The registration part of the ledger. */
export function createRegistration(sql: Sql, { member, addMember }: Members) {
  return {
    /** Whether `jti` is new (and not yet forgotten); records it until `until` (ms) when it is. */
    useJti(projectId: string, jti: string, until: number, now: number): boolean {
      sql.all("DELETE FROM jtis WHERE project = ? AND until <= ?", projectId, now); // each project on its own clock
      if (sql.all("SELECT 1 FROM jtis WHERE project = ? AND jti = ?", projectId, jti).length > 0) return false;
      sql.all("INSERT INTO jtis (project, jti, until) VALUES (?, ?, ?)", projectId, jti, until);
      return true;
    },

    /** Creates the member, or returns the known one with `created: false`. */
    register(projectId: string, userId: string, profile: Profile, now: number) {
      const known = member(projectId, userId);
      if (known !== undefined) return { membershipId: known.membership_id as string, userId, created: false };
      const added = addMember(projectId, userId, now, profile);
      return { membershipId: added.membership_id as string, userId, created: true };
    },
  };
}
