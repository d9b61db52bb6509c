/** Stored 2xx results by idempotency key, for 24 hours (the contract's replay rule). */
import type { Sql } from "../sql.ts";

/** How long a stored 2xx answers for its idempotency key. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** A stored 2xx result for an idempotency key. */
export interface StoredResult {
  body: string;
  status: number;
  payload: string;
}

/** The idempotency part of the ledger. */
export function createIdempotency(sql: Sql) {
  return {
    /** The stored 2xx for `key` at `path`, if it is younger than 24 h. */
    storedResult(projectId: string, path: string, key: string, now: number): StoredResult | undefined {
      const row = sql.all(
        "SELECT body, status, payload FROM idempotency WHERE project = ? AND path = ? AND key = ? AND at > ?",
        projectId,
        path,
        key,
        now - IDEMPOTENCY_TTL_MS,
      )[0];
      return row === undefined ? undefined : (row as unknown as StoredResult);
    },

    /** Stores a 2xx result for `key` at `path`. */
    storeResult(projectId: string, path: string, key: string, result: StoredResult, now: number): void {
      sql.all(
        `INSERT INTO idempotency (project, path, key, body, status, payload, at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project, path, key) DO UPDATE SET body = excluded.body, status = excluded.status,
           payload = excluded.payload, at = excluded.at`,
        projectId,
        path,
        key,
        result.body,
        result.status,
        result.payload,
        now,
      );
    },
  };
}
