/**
 * What was used, read back: the contract's usage summary over `[from, to)`
 * (`costUsd` null when no event in it has a cost), and the pages' totals,
 * time series and first-event time.
 */
import type { UsageSummary } from "../../../src/api/usage-summary.ts";
import { emptyUsage } from "../../../src/usage.ts";
import type { Bucket, SeriesPoint } from "../pages/types.ts";
import type { Sql, SqlRow } from "../sql.ts";
import { USAGE_FIELDS } from "../validate.ts";
import { rfc3339, SUMS, toUsage, usd } from "./shared.ts";

/** The length of a chart bucket, in ms. */
export const BUCKET_MS: Record<Bucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The usage summary part of the ledger. */
export function createSummary(sql: Sql) {
  return {
    /** The contract's usage summary over `[from, to)` (ms). */
    usageSummary(projectId: string, userId: string, from: number, to: number): UsageSummary {
      const groups = sql.all(
        `SELECT provider, model, COUNT(*) AS events, ${SUMS}, COALESCE(SUM(cost_nanos), 0) AS cost,
           SUM(cost_source != 'unpriced') AS priced
         FROM events WHERE project = ? AND user_id = ? AND occurred_at >= ? AND occurred_at < ?
         GROUP BY provider, model ORDER BY provider, model`,
        projectId,
        userId,
        from,
        to,
      );
      const byModel = groups.map((g) => ({
        provider: g.provider as string,
        model: g.model as string,
        events: g.events as number,
        usage: toUsage(g),
        costUsd: (g.priced as number) > 0 ? usd(g.cost as number) : null,
      }));
      const usage = emptyUsage();
      let events = 0;
      let cost = 0;
      let priced = false;
      for (const [i, m] of byModel.entries()) {
        events += m.events;
        for (const field of USAGE_FIELDS) usage[field] += m.usage[field];
        cost += (groups[i] as SqlRow).cost as number;
        priced ||= m.costUsd !== null;
      }
      return {
        userId,
        from: rfc3339(from),
        to: rfc3339(to),
        events,
        usage,
        costUsd: priced ? usd(cost) : null,
        byModel,
      };
    },

    /** When the first event of a user (or of the whole project) occurred, in ms; null with none. */
    firstEventAt(projectId: string, userId?: string): number | null {
      const row = sql.all(
        "SELECT MIN(occurred_at) AS first FROM events WHERE project = ? AND (? IS NULL OR user_id = ?)",
        projectId,
        userId ?? null,
        userId ?? null,
      )[0];
      return (row?.first as number | null | undefined) ?? null;
    },

    /**
     * Events, tokens and cost per bucket over `[from, to)`, for one user or
     * the whole project: every bucket of the window, the empty ones as zeros.
     */
    series(projectId: string, userId: string | undefined, from: number, to: number, bucket: Bucket): SeriesPoint[] {
      const size = BUCKET_MS[bucket];
      const rows = sql.all(
        `SELECT (occurred_at / ${size}) * ${size} AS at, COUNT(*) AS events, COALESCE(SUM(input + cache_read + cache_write + audio_input), 0) AS input,
           COALESCE(SUM(output + audio_output), 0) AS output, COALESCE(SUM(cost_nanos), 0) AS cost
         FROM events WHERE project = ? AND (? IS NULL OR user_id = ?) AND occurred_at >= ? AND occurred_at < ?
         GROUP BY occurred_at / ${size} ORDER BY at`,
        projectId,
        userId ?? null,
        userId ?? null,
        from,
        to,
      );
      const byBucket = new Map(rows.map((r) => [r.at as number, r]));
      const points: SeriesPoint[] = [];
      for (let at = Math.floor(from / size) * size; at < to; at += size) {
        const r = byBucket.get(at);
        points.push({
          at: rfc3339(at),
          events: (r?.events as number | undefined) ?? 0,
          inputTokens: (r?.input as number | undefined) ?? 0,
          outputTokens: (r?.output as number | undefined) ?? 0,
          costUsd: usd((r?.cost as number | undefined) ?? 0),
        });
      }
      return points;
    },

    /** The whole project's totals over `[from, to)`. */
    totals(projectId: string, from: number, to: number) {
      const row = sql.all(
        `SELECT COUNT(*) AS events, ${SUMS}, COALESCE(SUM(cost_nanos), 0) AS cost FROM events
         WHERE project = ? AND occurred_at >= ? AND occurred_at < ?`,
        projectId,
        from,
        to,
      )[0] as SqlRow;
      return { events: row.events as number, usage: toUsage(row), costUsd: usd(row.cost as number) };
    },
  };
}
