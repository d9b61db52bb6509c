/**
 * Projects: an API key and settings each. Each project has its own clock
 * offset, so a test (or an operator) can move one project's time forward to
 * see sessions and holds expire without touching the others.
 */
import type { Sql, SqlRow } from "../sql.ts";

/** A project's settings. */
export interface Project {
  id: string;
  apiKey: string;
  registrationSecret: string;
  /** `ttlSeconds` of a chargeable answer. */
  chargeabilityTtl: number;
  /** Whether a user with no member record counts as chargeable (load tests, meter-only set-ups). */
  chargeAll: boolean;
  /** Added to the server's clock for this project, in ms (0 unless a test moves it). */
  clockOffsetMs: number;
}

/** The projects part of the ledger. */
export function createProjects(sql: Sql) {
  function project(id: string): Project | undefined {
    const row = sql.all("SELECT * FROM projects WHERE id = ?", id)[0];
    return row === undefined ? undefined : toProject(row);
  }

  return {
    /** A project by id. */
    project,

    /** Creates a project, or updates the given settings of an existing one. */
    putProject(id: string, settings: Partial<Omit<Project, "id">>, now: number): Project {
      const current = project(id);
      const next: Project = {
        id,
        apiKey: settings.apiKey ?? current?.apiKey ?? "",
        registrationSecret: settings.registrationSecret ?? current?.registrationSecret ?? "",
        chargeabilityTtl: settings.chargeabilityTtl ?? current?.chargeabilityTtl ?? 60,
        chargeAll: settings.chargeAll ?? current?.chargeAll ?? false,
        clockOffsetMs: settings.clockOffsetMs ?? current?.clockOffsetMs ?? 0,
      };
      sql.all(
        `INSERT INTO projects (id, api_key, registration_secret, chargeability_ttl, charge_all, clock_offset_ms, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET api_key = excluded.api_key, registration_secret = excluded.registration_secret,
           chargeability_ttl = excluded.chargeability_ttl, charge_all = excluded.charge_all,
           clock_offset_ms = excluded.clock_offset_ms`,
        id,
        next.apiKey,
        next.registrationSecret,
        next.chargeabilityTtl,
        next.chargeAll ? 1 : 0,
        next.clockOffsetMs,
        now,
      );
      return next;
    },

    /** The time in project `id` when the server's clock reads `now`. */
    projectNow(id: string, now: number): number {
      return now + (project(id)?.clockOffsetMs ?? 0);
    },
  };
}

function toProject(row: SqlRow): Project {
  return {
    id: row.id as string,
    apiKey: row.api_key as string,
    registrationSecret: row.registration_secret as string,
    chargeabilityTtl: row.chargeability_ttl as number,
    chargeAll: Boolean(row.charge_all),
    clockOffsetMs: (row.clock_offset_ms as number | null) ?? 0,
  };
}
