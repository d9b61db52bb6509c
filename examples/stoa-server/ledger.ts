/**
 * The local Stoa server's state and rules, over {@link Sql}: projects (an
 * API key each), members and their balances, usage events deduplicated by
 * id and debited at the price table (or the provider's own cost), stored
 * idempotent results, payment sessions and seen registration `jti`s.
 *
 * Every method is synchronous, so in a Durable Object each runs without
 * interleaving; the API layer (api.ts) does the HTTP and the async checks.
 */

import type { UsageSummary } from "../../src/api/usage-summary.ts";
import { emptyUsage } from "../../src/usage.ts";
import type { Bucket, EventRow, MemberRow, PriceRow, SeriesPoint, Usage } from "./pages/types.ts";
import { costNanos, findPrice, PRICES } from "./prices.ts";
import { migrate } from "./schema.ts";
import type { Sql, SqlRow } from "./sql.ts";
import { checkEvent, type Rejection, USAGE_FIELDS } from "./validate.ts";

/** How long a stored 2xx answers for its idempotency key. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** How long an accepted event id makes a resend a duplicate. */
export const EVENT_ID_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** How long a payment session stays open: not fixed by the contract, this server's choice. */
export const PAYMENT_SESSION_TTL_MS = 60 * 60 * 1000;
/** The length of a chart bucket, in ms. */
export const BUCKET_MS: Record<Bucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** Nano-dollars in a dollar. */
export const NANOS = 1_000_000_000;

/** Why a member cannot be charged. */
export type Reason = "payment_required" | "insufficient_balance" | "member_suspended";

/** A project's settings. */
export interface Project {
  id: string;
  apiKey: string;
  registrationSecret: string;
  /** `ttlSeconds` of a chargeable answer. */
  chargeabilityTtl: number;
  /** Whether a user with no member record counts as chargeable (load tests, meter-only set-ups). */
  chargeAll: boolean;
}

/** A payment session as the contract shows it. */
export interface PaymentSession {
  id: string;
  userId: string;
  membershipId: string;
  status: "open" | "complete" | "expired" | "not_required";
  checkoutUrl: string | null;
  returnUrl: string;
  expiresAt: string;
}

/** A session with what the checkout page needs besides. */
export interface SessionRecord extends PaymentSession {
  project: string;
}

/** The answer of `POST /v1/usage/events`. */
export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

/** The answer of `GET /v1/members/{userId}/usage`: the shape the SDK reads. */
export type { UsageSummary };

/** A stored 2xx result for an idempotency key. */
export interface StoredResult {
  body: string;
  status: number;
  payload: string;
}

/** Member fields an operator (or a test) may set directly. */
export interface MemberSeed {
  balanceUsd?: number;
  paid?: boolean;
  suspended?: boolean;
}

/** The ledger of one server. */
export type Ledger = ReturnType<typeof createLedger>;

const USAGE_COLUMNS = [
  "input",
  "cache_read",
  "cache_write",
  "audio_input",
  "output",
  "audio_output",
  "reasoning",
  "web_search",
] as const;

const SUMS = USAGE_COLUMNS.map((c) => `COALESCE(SUM(${c}), 0) AS ${c}`).join(", ");

/** Creates the tables if needed and returns the ledger over `sql`. */
export function createLedger(sql: Sql, prices: readonly PriceRow[] = PRICES) {
  migrate(sql);

  function project(id: string): Project | undefined {
    const row = sql.all("SELECT * FROM projects WHERE id = ?", id)[0];
    return row === undefined ? undefined : toProject(row);
  }

  function member(projectId: string, userId: string): SqlRow | undefined {
    return sql.all("SELECT * FROM members WHERE project = ? AND user_id = ?", projectId, userId)[0];
  }

  function addMember(projectId: string, userId: string, now: number, profile: Profile = {}): SqlRow {
    sql.all(
      "INSERT INTO members (project, user_id, membership_id, email, name, picture, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      projectId,
      userId,
      newId("mem"),
      profile.email ?? null,
      profile.name ?? null,
      profile.picture ?? null,
      now,
    );
    return member(projectId, userId) as SqlRow;
  }

  function reasonFor(p: Project, userId: string): Reason | null {
    const m = member(p.id, userId);
    if (m === undefined) return p.chargeAll ? null : "payment_required";
    if (m.suspended) return "member_suspended";
    if (!m.paid) return "payment_required";
    if ((m.balance_nanos as number) <= 0) return "insufficient_balance";
    return null;
  }

  /** The session with an `open` one past its time marked `expired`. */
  function session(id: string, now: number): SqlRow | undefined {
    const row = sql.all("SELECT * FROM sessions WHERE id = ?", id)[0];
    if (row?.status === "open" && now >= (row.expires_at as number)) {
      sql.all("UPDATE sessions SET status = 'expired' WHERE id = ?", id);
      row.status = "expired";
    }
    return row;
  }

  function memberRow(p: Project, row: SqlRow): MemberRow {
    const userId = row.user_id as string;
    const stats = sql.all(
      "SELECT COUNT(*) AS n, COALESCE(SUM(cost_nanos), 0) AS cost, MAX(occurred_at) AS last FROM events WHERE project = ? AND user_id = ?",
      p.id,
      userId,
    )[0] as SqlRow;
    const reason = reasonFor(p, userId);
    return {
      userId,
      membershipId: (row.membership_id as string | null) ?? "",
      name: (row.name as string | null) ?? null,
      email: (row.email as string | null) ?? null,
      balanceUsd: ((row.balance_nanos as number | null) ?? 0) / NANOS,
      paid: Boolean(row.paid),
      suspended: Boolean(row.suspended),
      chargeable: reason === null,
      reason,
      events: stats.n as number,
      costUsd: (stats.cost as number) / NANOS,
      lastEventAt: stats.last === null ? null : rfc3339(stats.last as number, true),
    };
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
      };
      sql.all(
        `INSERT INTO projects (id, api_key, registration_secret, chargeability_ttl, charge_all, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET api_key = excluded.api_key, registration_secret = excluded.registration_secret,
           chargeability_ttl = excluded.chargeability_ttl, charge_all = excluded.charge_all`,
        id,
        next.apiKey,
        next.registrationSecret,
        next.chargeabilityTtl,
        next.chargeAll ? 1 : 0,
        now,
      );
      return next;
    },

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
          const e = event as WireEvent;
          const seen = sql.all("SELECT received_at FROM events WHERE project = ? AND id = ?", p.id, e.id)[0];
          if (seen !== undefined) {
            if (now - (seen.received_at as number) < EVENT_ID_TTL_MS) {
              duplicates++;
              continue;
            }
            sql.all("DELETE FROM events WHERE project = ? AND id = ?", p.id, e.id);
          }
          storeEvent(sql, p.id, e, now, prices);
          accepted++;
        }
        return { accepted, duplicates, rejected };
      });
    },

    /** Whether `jti` was seen (and not yet forgotten); records it until `until` (ms) when not. */
    useJti(projectId: string, jti: string, until: number, now: number): boolean {
      sql.all("DELETE FROM jtis WHERE until <= ?", now);
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

    /** Why `userId` cannot be charged, or null when it can. */
    reasonFor,

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
        now + PAYMENT_SESSION_TTL_MS,
      );
      return { created: true, session: toSession(session(id, now) as SqlRow, origin) };
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
        const amount = Math.round(amountUsd * NANOS);
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

    /** Creates or updates a member's balance and flags directly (an operator's tool). */
    seedMember(projectId: string, userId: string, seed: MemberSeed, now: number): void {
      if (member(projectId, userId) === undefined) addMember(projectId, userId, now);
      if (seed.balanceUsd !== undefined) {
        sql.all(
          "UPDATE members SET balance_nanos = ? WHERE project = ? AND user_id = ?",
          Math.round(seed.balanceUsd * NANOS),
          projectId,
          userId,
        );
      }
      if (seed.paid !== undefined) {
        sql.all("UPDATE members SET paid = ? WHERE project = ? AND user_id = ?", seed.paid ? 1 : 0, projectId, userId);
      }
      if (seed.suspended !== undefined) {
        sql.all(
          "UPDATE members SET suspended = ? WHERE project = ? AND user_id = ?",
          seed.suspended ? 1 : 0,
          projectId,
          userId,
        );
      }
    },

    /** Members and users with events, most recently active first. */
    members(p: Project): MemberRow[] {
      const rows = sql.all(
        `SELECT user_id, membership_id, email, name, balance_nanos, paid, suspended FROM members WHERE project = ?
         UNION ALL
         SELECT DISTINCT user_id, NULL, NULL, NULL, NULL, 0, 0 FROM events
         WHERE project = ? AND user_id NOT IN (SELECT user_id FROM members WHERE project = ?)`,
        p.id,
        p.id,
        p.id,
      );
      return rows
        .map((row) => memberRow(p, row))
        .sort((a, b) => (b.lastEventAt ?? "").localeCompare(a.lastEventAt ?? "") || a.userId.localeCompare(b.userId));
    },

    /** One member's row, or a row for a user with events only; `undefined` for a stranger. */
    memberRow(p: Project, userId: string): MemberRow | undefined {
      const row = member(p.id, userId);
      if (row !== undefined) return memberRow(p, row);
      const seen = sql.all("SELECT 1 FROM events WHERE project = ? AND user_id = ? LIMIT 1", p.id, userId);
      return seen.length === 0 ? undefined : memberRow(p, { user_id: userId, paid: 0, suspended: 0 });
    },

    /** The member records of a project, in order of creation. */
    memberRecords(projectId: string): MemberRecord[] {
      return sql.all("SELECT * FROM members WHERE project = ? ORDER BY created_at, rowid", projectId).map((row) => ({
        userId: row.user_id as string,
        membershipId: row.membership_id as string,
        email: row.email as string | null,
        name: row.name as string | null,
        picture: row.picture as string | null,
        balanceUsd: (row.balance_nanos as number) / NANOS,
        paid: Boolean(row.paid),
        suspended: Boolean(row.suspended),
      }));
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
        costUsd: (g.priced as number) > 0 ? (g.cost as number) / NANOS : null,
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
        costUsd: priced ? cost / NANOS : null,
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
          costUsd: ((r?.cost as number | undefined) ?? 0) / NANOS,
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
      return { events: row.events as number, usage: toUsage(row), costUsd: (row.cost as number) / NANOS };
    },

    /** The price table this ledger debits with. */
    prices,
  };
}

/** A member as stored. */
export interface MemberRecord {
  userId: string;
  membershipId: string;
  email: string | null;
  name: string | null;
  picture: string | null;
  balanceUsd: number;
  paid: boolean;
  suspended: boolean;
}

/** A member's profile from registration or a payment session. */
export interface Profile {
  email?: string;
  name?: string;
  picture?: string;
}

/** A valid usage event (checkEvent passed). */
interface WireEvent {
  id: string;
  userId: string;
  provider: string;
  endpoint: string;
  model: string;
  requestedModel: string;
  stream: boolean;
  status: "completed" | "aborted";
  estimated: boolean;
  usage: Partial<Usage>;
  costUsd?: number | null;
  occurredAt: string;
}

function storeEvent(sql: Sql, projectId: string, e: WireEvent, now: number, prices: readonly PriceRow[]): void {
  const usage = { ...emptyUsage(), ...stripNulls(e.usage) };
  let cost = 0;
  let source: EventRow["costSource"] = "unpriced";
  if (typeof e.costUsd === "number") {
    cost = Math.round(e.costUsd * NANOS);
    source = "provider";
  } else {
    const price = findPrice(e.provider, e.model, prices) ?? findPrice(e.provider, e.requestedModel, prices);
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
  sql.all(
    "UPDATE members SET balance_nanos = balance_nanos - ? WHERE project = ? AND user_id = ?",
    cost,
    projectId,
    e.userId,
  );
}

function stripNulls(usage: Partial<Usage>): Partial<Usage> {
  return Object.fromEntries(Object.entries(usage).filter(([k, v]) => v != null && k in emptyUsage()));
}

function toProject(row: SqlRow): Project {
  return {
    id: row.id as string,
    apiKey: row.api_key as string,
    registrationSecret: row.registration_secret as string,
    chargeabilityTtl: row.chargeability_ttl as number,
    chargeAll: Boolean(row.charge_all),
  };
}

function toSession(row: SqlRow, origin: string): PaymentSession {
  const id = row.id as string;
  return {
    id,
    userId: row.user_id as string,
    membershipId: row.membership_id as string,
    status: row.status as PaymentSession["status"],
    checkoutUrl: row.status === "not_required" ? null : `${origin}/checkout/${id}`,
    returnUrl: row.return_url as string,
    expiresAt: rfc3339(row.expires_at as number),
  };
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
    costUsd: (row.cost_nanos as number) / NANOS,
    costSource: row.cost_source as EventRow["costSource"],
  };
}

function toUsage(row: SqlRow): Usage {
  const usage = emptyUsage();
  USAGE_FIELDS.forEach((field, i) => {
    usage[field] = Number(row[USAGE_COLUMNS[i] as string] ?? 0);
  });
  return usage;
}

/** A random id with a prefix: `mem_…`, `ps_…`. */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** RFC 3339 in UTC: whole seconds like the contract's examples, or with milliseconds. */
export function rfc3339(ms: number, withMillis = false): string {
  const iso = new Date(ms).toISOString();
  return withMillis ? iso : iso.replace(/\.\d{3}Z$/, "Z");
}
