/**
 * The local Stoa server's state and rules, over {@link Sql}, one part per
 * resource (ledger/): projects, idempotent results, members, registration,
 * payment sessions, usage events and their pricing, balances and spend
 * holds, and the usage summary.
 *
 * Every method is synchronous, so in a Durable Object each runs without
 * interleaving; the API layer (api.ts) does the HTTP and the async checks.
 * Money is integer nano-dollars throughout.
 */
import { createEvents } from "./ledger/events.ts";
import { createHolds } from "./ledger/holds.ts";
import { createIdempotency } from "./ledger/idempotency.ts";
import { createMembers } from "./ledger/members.ts";
import { createProjects } from "./ledger/projects.ts";
import { createRegistration } from "./ledger/registration.ts";
import { createSessions } from "./ledger/sessions.ts";
import { createSummary } from "./ledger/summary.ts";
import { PRICES, type PriceRow } from "./prices.ts";
import { migrate } from "./schema.ts";
import type { Sql } from "./sql.ts";

export type { IngestResult } from "./ledger/events.ts";
export type { Balance, HoldAnswer, HoldRequest, HoldRow, Release } from "./ledger/holds.ts";
export type { StoredResult } from "./ledger/idempotency.ts";
export type { MemberRecord, MemberSeed, Profile, Reason } from "./ledger/members.ts";
export type { Project } from "./ledger/projects.ts";
export type { PaymentSession, SessionRecord } from "./ledger/sessions.ts";

/** The ledger of one server. */
export type Ledger = ReturnType<typeof createLedger>;

/** Creates the tables if needed and returns the ledger over `sql`. */
export function createLedger(sql: Sql, prices: readonly PriceRow[] = PRICES) {
  migrate(sql);
  const members = createMembers(sql);
  const holds = createHolds(sql, members);
  return {
    ...createProjects(sql),
    ...createIdempotency(sql),
    ...members,
    ...createRegistration(sql, members),
    ...createSessions(sql, members),
    ...holds,
    ...createEvents(sql, prices, members, holds),
    ...createSummary(sql),
  };
}
