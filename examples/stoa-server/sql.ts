/**
 * The one storage seam of the local Stoa server: synchronous SQL over
 * SQLite. On Workers it is a Durable Object's `ctx.storage.sql`; the test
 * suite runs the same server in Node over `node:sqlite` (test/support/sqlite.ts).
 */

/** A value SQLite stores: booleans are stored as 0 and 1. */
export type SqlValue = string | number | null;

/** A row as SQLite returns it. */
export type SqlRow = Record<string, SqlValue>;

/** Synchronous SQL: every call runs to completion before it returns. */
export interface Sql {
  /** Runs one statement with `?` parameters; returns its rows (none for a write). */
  all<T extends SqlRow = SqlRow>(query: string, ...params: SqlValue[]): T[];
  /** Runs `fn` in one transaction: all of its writes, or none when it throws. */
  transaction<T>(fn: () => T): T;
}

/** The part of a Durable Object's storage {@link doSql} needs. */
export interface DurableObjectStorageLike {
  sql: { exec(query: string, ...bindings: SqlValue[]): { toArray(): unknown[] } };
  transactionSync<T>(fn: () => T): T;
}

/** {@link Sql} over a SQLite-backed Durable Object's storage. */
export function doSql(storage: DurableObjectStorageLike): Sql {
  return {
    all: <T extends SqlRow>(query: string, ...params: SqlValue[]) =>
      storage.sql.exec(query, ...params).toArray() as T[],
    transaction: (fn) => storage.transactionSync(fn),
  };
}
