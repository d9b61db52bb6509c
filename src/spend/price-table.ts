/**
 * The price table of `GET /v1/prices` (`stoa-api.md`, "Prices") as the SDK
 * uses it: which row prices a call, and what a usage costs under a row.
 * Money is counted in integer nano-dollars (1e-9 USD), the precision of the
 * contract's hold figures, so sums never drift.
 */
import type { Usage } from "../usage.ts";

/** Nano-dollars in one US dollar. */
export const NANOS_PER_USD = 1_000_000_000;

/** The rates of one row, per million tokens (USD), or per call for web searches. */
export interface PriceRates {
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok: number;
  cacheWritePerMTok: number;
  audioInputPerMTok: number;
  audioOutputPerMTok: number;
  webSearchPerCall: number;
  /** The model's output limit when a request sets none. */
  maxOutputTokens: number;
  /** Input a provider adds that the request body does not show. */
  requestOverheadTokens: number;
}

/** One priced model. */
export interface PriceRow extends PriceRates {
  provider: string;
  model: string;
}

/** What a client assumes for a model with no row. */
export interface FallbackRates extends PriceRates {
  /** Allowance for one image, audio, file or document part. */
  attachmentTokens: number;
}

/** The table, as `GET /v1/prices` answers it. */
export interface PriceTable {
  currency: "USD";
  /** How long a client may reuse the table. */
  ttlSeconds: number;
  prices: PriceRow[];
  fallback: FallbackRates;
}

/**
 * The row that prices `model` of `provider`: equal, or a prefix followed by
 * `-` (`gpt-4o-mini` prices `gpt-4o-mini-2024-07-18`); the longest wins.
 * Undefined when no row matches: Stoa bills such a call nothing, and a worst
 * case uses `fallback`.
 */
export function priceRowFor(table: PriceTable, provider: string, model: string): PriceRow | undefined {
  let best: PriceRow | undefined;
  for (const row of table.prices) {
    if (row.provider !== provider) continue;
    if (model !== row.model && !(model.startsWith(row.model) && model.charCodeAt(row.model.length) === 45)) continue;
    if (best === undefined || row.model.length > best.model.length) best = row;
  }
  return best;
}

/** Nano-dollars of `tokens` at `perMTok` USD per million tokens. */
export function tokenNanos(tokens: number, perMTok: number): number {
  return tokens * perMTok * 1000;
}

/**
 * What Stoa debits for `usage` under `row`, in nano-dollars (rounded up):
 * each exclusive count at its rate (reasoning is inside output), plus web
 * searches per call. No row: 0, as Stoa stores an unpriced event with no cost.
 */
export function usageCostNanos(row: PriceRates | undefined, usage: Usage): number {
  if (row === undefined) return 0;
  const nanos =
    tokenNanos(usage.inputTokens, row.inputPerMTok) +
    tokenNanos(usage.cacheReadTokens, row.cacheReadPerMTok) +
    tokenNanos(usage.cacheWriteTokens, row.cacheWritePerMTok) +
    tokenNanos(usage.audioInputTokens, row.audioInputPerMTok) +
    tokenNanos(usage.outputTokens, row.outputPerMTok) +
    tokenNanos(usage.audioOutputTokens, row.audioOutputPerMTok) +
    usage.webSearchRequests * row.webSearchPerCall * NANOS_PER_USD;
  return Math.ceil(nanos - 1e-6);
}

/** USD with at most 9 decimals, from nano-dollars. */
export function nanosToUsd(nanos: number): number {
  return Math.round(nanos) / NANOS_PER_USD;
}

/** Nano-dollars from USD (figures of up to 9 decimals come back exact). */
export function usdToNanos(usd: number): number {
  return Math.round(usd * NANOS_PER_USD);
}
