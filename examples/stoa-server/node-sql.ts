/**
 * The local Stoa server's {@link Sql} over Node's built-in SQLite
 * (`node:sqlite`), so the same server runs in-process in Node (the test
 * suite's `STOA_SERVER=node`).
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Sql, SqlRow, SqlValue } from "./sql.ts";

/** A SQLite database at `path` (default: in memory) as {@link Sql}. */
export function nodeSql(path = ":memory:"): Sql {
  const db = new DatabaseSync(path);
  const statements = new Map<string, StatementSync>();
  return {
    all<T extends SqlRow>(query: string, ...params: SqlValue[]): T[] {
      let statement = statements.get(query);
      if (statement === undefined) {
        statement = db.prepare(query);
        statements.set(query, statement);
      }
      return statement.all(...params) as T[];
    },
    transaction<T>(fn: () => T): T {
      db.exec("BEGIN");
      try {
        const result = fn();
        db.exec("COMMIT");
        return result;
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    },
  };
}
