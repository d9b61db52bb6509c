/**
 * The view models of the local Stoa server's HTML pages: plain data the
 * routes compute from the ledger and hand to the render functions.
 * Amounts are USD as numbers, times are RFC 3339 strings in UTC.
 */

import type { ModelUsage } from "../../../src/api/usage-summary.ts";
import type { Usage } from "../../../src/usage.ts";

/** The normalised token and call counts of the contract: the SDK's own type. */
export type { Usage };

/** The width of a chart bar. */
export type Bucket = "minute" | "hour" | "day";

/** One member of a project with their billing state and activity. */
export interface MemberRow {
  userId: string;
  membershipId: string;
  name: string | null;
  email: string | null;
  balanceUsd: number;
  paid: boolean;
  suspended: boolean;
  chargeable: boolean;
  reason: string | null;
  events: number;
  costUsd: number;
  lastEventAt: string | null;
}

/** One provider and model of a usage summary: the SDK's own type. */
export type ModelRow = ModelUsage;

/** One bucket of a time series. */
export interface SeriesPoint {
  /** ISO start of the bucket */
  at: string;
  events: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** One stored usage event with the cost the server debited for it. */
export interface EventRow {
  id: string;
  occurredAt: string;
  provider: string;
  endpoint: string;
  model: string;
  stream: boolean;
  status: "completed" | "aborted";
  estimated: boolean;
  usage: Usage;
  costUsd: number;
  costSource: "provider" | "price_table" | "unpriced";
}

/** What every project page knows about where it is. */
export interface PageContext {
  project: string;
  /** base path of the project's pages: "" for the default project, "/t/<id>" for others */
  base: string;
}

/** The project dashboard. */
export interface OverviewView extends PageContext {
  members: MemberRow[];
  totals: { events: number; usage: Usage; costUsd: number };
  series: SeriesPoint[];
  bucket: Bucket;
}

/** One member's page. */
export interface MemberView extends PageContext {
  member: MemberRow;
  totals: { events: number; usage: Usage; costUsd: number };
  byModel: ModelRow[];
  series: SeriesPoint[];
  bucket: Bucket;
  recent: EventRow[];
}

/** One entry of the price table, USD per million tokens and per web-search call. */
export interface PriceRow {
  provider: string;
  model: string;
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok: number;
  cacheWritePerMTok: number;
  webSearchPerCall: number;
}

/** The price table page. */
export interface PricesView extends PageContext {
  prices: PriceRow[];
}

/** The local stand-in of the hosted checkout for one payment session. */
export interface CheckoutView {
  sessionId: string;
  userId: string;
  name: string | null;
  email: string | null;
  status: "open" | "complete" | "expired" | "not_required";
  balanceUsd: number;
  amounts: number[];
  /** POST target of the pay form */
  action: string;
  returnUrl: string;
  expiresAt: string;
}
