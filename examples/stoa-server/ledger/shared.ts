/**
 * What the ledger's parts share: money as integer nano-dollars (sums stay
 * exact; USD figures have at most 9 decimals), ids, RFC 3339 times, and the
 * usage columns of the events table.
 */
import { emptyUsage, type Usage } from "../../../src/usage.ts";
import type { SqlRow } from "../sql.ts";
import { USAGE_FIELDS } from "../validate.ts";

/** Nano-dollars in a dollar. */
export const NANOS = 1_000_000_000;

/** USD of an integer amount of nano-dollars: the closest number to a decimal of at most 9 places. */
export function usd(nanos: number): number {
  return nanos / NANOS;
}

/** Whole nano-dollars of a USD amount. */
export function nanosOf(usdAmount: number): number {
  return Math.round(usdAmount * NANOS);
}

/** The events table's usage columns, in the order of {@link USAGE_FIELDS}. */
export const USAGE_COLUMNS = [
  "input",
  "cache_read",
  "cache_write",
  "audio_input",
  "output",
  "audio_output",
  "reasoning",
  "web_search",
] as const;

/** `SUM` of every usage column, named as the column. */
export const SUMS = USAGE_COLUMNS.map((c) => `COALESCE(SUM(${c}), 0) AS ${c}`).join(", ");

/** The usage of a row with the {@link USAGE_COLUMNS}. */
export function toUsage(row: SqlRow): Usage {
  const usage = emptyUsage();
  USAGE_FIELDS.forEach((field, i) => {
    usage[field] = Number(row[USAGE_COLUMNS[i] as string] ?? 0);
  });
  return usage;
}

/** A random id with a prefix: `mem_…`, `ps_…`, `hold_…`. */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** RFC 3339 in UTC: whole seconds like the contract's examples, or with milliseconds. */
export function rfc3339(ms: number, withMillis = false): string {
  const iso = new Date(ms).toISOString();
  return withMillis ? iso : iso.replace(/\.\d{3}Z$/, "Z");
}

/** `now + ms`, down to a whole second, so the RFC 3339 time shown is the exact instant. */
export function wholeSecondsAfter(now: number, ms: number): number {
  return Math.floor((now + ms) / 1000) * 1000;
}
