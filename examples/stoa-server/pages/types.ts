/**
 * The view models of the local Stoa server's HTML pages: plain data the
 * routes compute from the ledger and hand to the render functions.
 * Amounts are USD as numbers, times are RFC 3339 strings in UTC.
 */

import type { ModelUsage } from "../../../src/api/usage-summary.ts";
import type { Usage } from "../../../src/usage.ts";
import type { PriceRow } from "../prices.ts";

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

/** A live spend hold of a member. */
export interface HoldRow {
  id: string;
  amountUsd: number;
  spentUsd: number;
  unspentUsd: number;
  createdAt: string;
  expiresAt: string;
}

/** A member's money: the balance, the unspent part of its live holds, and the difference. */
export interface SpendView {
  balanceUsd: number;
  heldUsd: number;
  availableUsd: number;
}

/** One member's page. */
export interface MemberView extends PageContext {
  member: MemberRow;
  spend: SpendView;
  /** The live holds, newest first. */
  holds: HoldRow[];
  totals: { events: number; usage: Usage; costUsd: number };
  byModel: ModelRow[];
  series: SeriesPoint[];
  bucket: Bucket;
  recent: EventRow[];
}

/** One entry of the price table: the server's own type (prices.ts). */
export type { PriceRow };

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
  expiresAt: string | null;
}
