/**
 * The price table (`stoa-api.md`, "Prices"): `GET /v1/prices`, read from an
 * untrusted answer into exact numbers. A missing rate is 0; a rate that is
 * not a finite non-negative number makes the answer malformed.
 */
import type { FallbackRates, PriceRates, PriceRow, PriceTable } from "../spend/price-table.ts";
import { invalidResponse } from "./read.ts";
import type { ApiClient } from "./types.ts";

/** Longest a table is kept, whatever `ttlSeconds` says. */
const MAX_TTL_SECONDS = 86_400;
/** Rows a table may have. */
const MAX_ROWS = 10_000;

const RATE_KEYS = [
  "inputPerMTok",
  "outputPerMTok",
  "cacheReadPerMTok",
  "cacheWritePerMTok",
  "audioInputPerMTok",
  "audioOutputPerMTok",
  "webSearchPerCall",
  "maxOutputTokens",
  "requestOverheadTokens",
] as const;

/**
 * Reads the price table.
 *
 * @throws {StoaAPIError} when Stoa refuses, or answers with something that is not a price table.
 * @throws {StoaConnectionError} when Stoa cannot be reached.
 */
export async function getPrices(api: ApiClient, options: { timeoutMs?: number } = {}): Promise<PriceTable> {
  const answer = await api.request("GET", "/v1/prices", {
    retry: false,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  return readPriceTable(answer);
}

/** A price table from an untrusted value. @throws {StoaAPIError} when it is not one. */
export function readPriceTable(value: unknown): PriceTable {
  const v = record(value);
  if (v === undefined || !Array.isArray(v.prices) || v.prices.length > MAX_ROWS) return malformed("prices");
  if (v.currency !== undefined && v.currency !== null && v.currency !== "USD") return malformed("currency");
  const ttl = v.ttlSeconds ?? 0;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < 0) return malformed("ttlSeconds");
  const prices: PriceRow[] = [];
  for (const item of v.prices) {
    const row = record(item);
    if (row === undefined || typeof row.provider !== "string" || typeof row.model !== "string" || row.model === "") {
      return malformed("prices[]");
    }
    prices.push({ provider: row.provider, model: row.model, ...rates(row) });
  }
  const fb = record(v.fallback);
  if (fb === undefined) return malformed("fallback");
  const attachmentTokens = fb.attachmentTokens ?? 0;
  if (!isRate(attachmentTokens)) return malformed("fallback.attachmentTokens");
  const fallback: FallbackRates = { ...rates(fb), attachmentTokens };
  return { currency: "USD", ttlSeconds: Math.min(ttl, MAX_TTL_SECONDS), prices, fallback };
}

function rates(row: Record<string, unknown>): PriceRates {
  const out = {} as PriceRates;
  for (const key of RATE_KEYS) {
    const value = row[key] ?? 0;
    if (!isRate(value)) malformed(key);
    out[key] = value as number;
  }
  return out;
}

function isRate(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= 1e9;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function malformed(field: string): never {
  throw invalidResponse(`a price table (its ${field} is missing or malformed)`);
}
