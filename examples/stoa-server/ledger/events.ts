/**
 * Usage events (`stoa-api.md`, "Usage events", "Pricing"): validated,
 * deduplicated by id for 30 days, priced (the provider's `costUsd`, else the
 * price table), and debited from the member's balance, from the event's
 * hold first when it names a live hold of the same user.
 */
import type { UsageEvent } from "../../../src/usage.ts";
import { emptyUsage } from "../../../src/usage.ts";
import type { EventRow } from "../pages/types.ts";
import { costNanos, findPrice, type PriceRow } from "../prices.ts";
import type { Sql, SqlRow } from "../sql.ts";
import { checkEvent, type Rejection, USAGE_FIELDS } from "../validate.ts";
import type { Holds } from "./holds.ts";
import type { Members } from "./members.ts";
import type { Project } from "./projects.ts";
import { nanosOf, rfc3339, toUsage, usd } from "./shared.ts";

/** How long an accepted event id makes a resend a duplicate. */
export const EVENT_ID_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** The answer of `POST /v1/usage/events`. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/**
 * A valid event (checkEvent passed): the SDK's type, with the `holdId` of
 * the 2026-12-01 contract, and `null` where an optional field is absent.
 */
type ValidEvent = Omit<UsageEvent, "costUsd"> & { costUsd?: number | null; holdId?: string | null };

/** The usage events part of the ledger. */
export function createEvents(sql: Sql, prices: readonly PriceRow[], { debit }: Members, { settle }: Holds) {
  function store(projectId: string, e: ValidEvent, now: number): void {
    const usage = { ...emptyUsage(), ...withoutNulls(e.usage) };
    let cost = 0;
    let source: EventRow["costSource"] = "unpriced";
    if (typeof e.costUsd === "number") {
      cost = nanosOf(e.costUsd);
      source = "provider";
    } else {
      // the event's `model` alone (the contract): an SDK that sends a wrong one must not be priced anyway
      const price = findPrice(e.provider, e.model, prices);
      if (price !== undefined) {
        cost = costNanos(usage, price);
        source = "price_table";
      }
    }
    sql.all(
      `INSERT INTO events (project, id, user_id, provider, endpoint, model, stream, status, estimated,
         input, cache_read, cache_write, audio_input, output, audio_output, reasoning, web_search,
         cost_nanos, cost_source, occurred_at, received_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      projectId,
      e.id,
      e.userId,
      e.provider,
      e.endpoint,
      e.model,
      e.stream ? 1 : 0,
      e.status,
      e.estimated ? 1 : 0,
      ...USAGE_FIELDS.map((f) => usage[f]),
      cost,
      source,
      Date.parse(e.occurredAt),
      now,
      JSON.stringify(e),
    );
    settle(projectId, e.userId, e.holdId ?? undefined, cost, now);
    debit(projectId, e.userId, cost);
  }

  return {
    /**
     * Validates and stores a batch: an id accepted in the last 30 days is a
     * duplicate, and each accepted event is debited from its member's
     * balance (a user with no member record is not debited).
     */
    ingest(p: Project, events: unknown[], now: number): IngestResult {
      return sql.transaction(() => {
        let accepted = 0;
        let duplicates = 0;
        const rejected: Rejection[] = [];
        for (const event of events) {
          const problem = checkEvent(event);
          if (problem !== undefined) {
            const id = (event as { id?: unknown } | null)?.id;
            rejected.push({ id: typeof id === "string" ? id : null, ...problem });
            continue;
          }
          const e = event as ValidEvent;
          const seen = sql.all("SELECT received_at FROM events WHERE project = ? AND id = ?", p.id, e.id)[0];
          if (seen !== undefined) {
            if (now - (seen.received_at as number) < EVENT_ID_TTL_MS) {
              duplicates++;
              continue;
            }
            sql.all("DELETE FROM events WHERE project = ? AND id = ?", p.id, e.id);
          }
          store(p.id, e, now);
          accepted++;
        }
        return { accepted, duplicates, rejected };
      });
    },

    /** The stored events as they were sent, in order of acceptance. */
    events(projectId: string): unknown[] {
      return sql
        .all("SELECT body FROM events WHERE project = ? ORDER BY seq", projectId)
        .map((row) => JSON.parse(row.body as string) as unknown);
    },

    /** The most recent events of a user. */
    recentEvents(projectId: string, userId: string, limit: number): EventRow[] {
      return sql
        .all(
          "SELECT * FROM events WHERE project = ? AND user_id = ? ORDER BY occurred_at DESC, seq DESC LIMIT ?",
          projectId,
          userId,
          limit,
        )
        .map(toEventRow);
    },

    /** The price table this ledger debits with. */
    prices,
  };
}

function withoutNulls<T extends object>(record: T): Partial<T> {
  const known = emptyUsage();
  return Object.fromEntries(Object.entries(record).filter(([k, v]) => v != null && k in known)) as Partial<T>;
}

function toEventRow(row: SqlRow): EventRow {
  return {
    id: row.id as string,
    occurredAt: rfc3339(row.occurred_at as number, true),
    provider: row.provider as string,
    endpoint: row.endpoint as string,
    model: row.model as string,
    stream: Boolean(row.stream),
    status: row.status as EventRow["status"],
    estimated: Boolean(row.estimated),
    usage: toUsage(row),
    costUsd: usd(row.cost_nanos as number),
    costSource: row.cost_source as EventRow["costSource"],
  };
}
