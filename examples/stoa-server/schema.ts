/**
 * The local Stoa server's tables. Money is stored in integer nano-dollars
 * (1e-9 USD), so sums are exact; times are Unix milliseconds.
 */
import type { Sql } from "./sql.ts";

const TABLES = [
  `CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    api_key TEXT NOT NULL,
    registration_secret TEXT NOT NULL,
    chargeability_ttl INTEGER NOT NULL,
    charge_all INTEGER NOT NULL,
    clock_offset_ms INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS members (
    project TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    email TEXT, name TEXT, picture TEXT,
    balance_nanos INTEGER NOT NULL DEFAULT 0,
    paid INTEGER NOT NULL DEFAULT 0,
    suspended INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project, user_id)
  )`,
  `CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    stream INTEGER NOT NULL,
    status TEXT NOT NULL,
    estimated INTEGER NOT NULL,
    input INTEGER NOT NULL, cache_read INTEGER NOT NULL, cache_write INTEGER NOT NULL,
    audio_input INTEGER NOT NULL, output INTEGER NOT NULL, audio_output INTEGER NOT NULL,
    reasoning INTEGER NOT NULL, web_search INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    cost_source TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL
  )`,
  "CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (project, id)",
  "CREATE INDEX IF NOT EXISTS events_by_user ON events (project, user_id, occurred_at)",
  `CREATE TABLE IF NOT EXISTS idempotency (
    project TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    status INTEGER NOT NULL,
    payload TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (project, path, key)
  )`,
  `CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    status TEXT NOT NULL,
    return_url TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    amount_nanos INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS jtis (
    project TEXT NOT NULL,
    jti TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (project, jti)
  )`,
  `CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    user_id TEXT NOT NULL,
    amount_nanos INTEGER NOT NULL,
    spent_nanos INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
  )`,
  "CREATE INDEX IF NOT EXISTS holds_by_user ON holds (project, user_id, status)",
];

/** Columns added after a table was first created: [table, column, definition]. */
const ADDED_COLUMNS: [string, string, string][] = [["projects", "clock_offset_ms", "INTEGER NOT NULL DEFAULT 0"]];

/** Creates the tables that do not exist yet, and adds the columns an older state lacks. */
export function migrate(sql: Sql): void {
  for (const statement of TABLES) sql.all(statement);
  for (const [table, column, definition] of ADDED_COLUMNS) {
    const columns = sql.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`);
    if (!columns.some((c) => c.name === column)) sql.all(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}
