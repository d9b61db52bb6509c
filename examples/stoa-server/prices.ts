/**
 * The local Stoa server's own price table, in USD per million tokens (and
 * per web-search call). Edit it freely: it only decides what the local
 * server debits. An event that carries a provider-reported `costUsd`
 * (OpenRouter's `usage.cost`) is debited that instead.
 *
 * A model matches its entry exactly or as a dated variant: `gpt-4o-mini`
 * prices `gpt-4o-mini-2024-07-18` (the longest matching name wins). Audio
 * tokens are priced at the text rates here, a simplification.
 */
import type { PriceRow } from "./pages/types.ts";

/** Prices by provider, then model name. */
export const PRICES: readonly PriceRow[] = [
  {
    provider: "openai",
    model: "gpt-4o-mini",
    inputPerMTok: 0.15,
    outputPerMTok: 0.6,
    cacheReadPerMTok: 0.075,
    cacheWritePerMTok: 0.15,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "gpt-4o",
    inputPerMTok: 2.5,
    outputPerMTok: 10,
    cacheReadPerMTok: 1.25,
    cacheWritePerMTok: 2.5,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "gpt-4.1-mini",
    inputPerMTok: 0.4,
    outputPerMTok: 1.6,
    cacheReadPerMTok: 0.1,
    cacheWritePerMTok: 0.4,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "gpt-4.1",
    inputPerMTok: 2,
    outputPerMTok: 8,
    cacheReadPerMTok: 0.5,
    cacheWritePerMTok: 2,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "gpt-5-mini",
    inputPerMTok: 0.25,
    outputPerMTok: 2,
    cacheReadPerMTok: 0.025,
    cacheWritePerMTok: 0.25,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "gpt-5",
    inputPerMTok: 1.25,
    outputPerMTok: 10,
    cacheReadPerMTok: 0.125,
    cacheWritePerMTok: 1.25,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "o4-mini",
    inputPerMTok: 1.1,
    outputPerMTok: 4.4,
    cacheReadPerMTok: 0.275,
    cacheWritePerMTok: 1.1,
    webSearchPerCall: 0.01,
  },
  {
    provider: "openai",
    model: "text-embedding-3-small",
    inputPerMTok: 0.02,
    outputPerMTok: 0,
    cacheReadPerMTok: 0,
    cacheWritePerMTok: 0,
    webSearchPerCall: 0,
  },
  {
    provider: "openai",
    model: "text-embedding-3-large",
    inputPerMTok: 0.13,
    outputPerMTok: 0,
    cacheReadPerMTok: 0,
    cacheWritePerMTok: 0,
    webSearchPerCall: 0,
  },
  {
    provider: "anthropic",
    model: "claude-haiku-4-5",
    inputPerMTok: 1,
    outputPerMTok: 5,
    cacheReadPerMTok: 0.1,
    cacheWritePerMTok: 1.25,
    webSearchPerCall: 0.01,
  },
  {
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    inputPerMTok: 3,
    outputPerMTok: 15,
    cacheReadPerMTok: 0.3,
    cacheWritePerMTok: 3.75,
    webSearchPerCall: 0.01,
  },
  {
    provider: "anthropic",
    model: "claude-sonnet-5",
    inputPerMTok: 3,
    outputPerMTok: 15,
    cacheReadPerMTok: 0.3,
    cacheWritePerMTok: 3.75,
    webSearchPerCall: 0.01,
  },
  {
    provider: "anthropic",
    model: "claude-opus-4-1",
    inputPerMTok: 15,
    outputPerMTok: 75,
    cacheReadPerMTok: 1.5,
    cacheWritePerMTok: 18.75,
    webSearchPerCall: 0.01,
  },
];

/** The price of `model` at `provider`: an exact entry, else the longest entry `model` starts with followed by `-`. */
export function findPrice(provider: string, model: string, prices: readonly PriceRow[] = PRICES): PriceRow | undefined {
  let best: PriceRow | undefined;
  for (const row of prices) {
    if (row.provider !== provider) continue;
    if (row.model === model) return row;
    if (model.startsWith(`${row.model}-`) && (best === undefined || row.model.length > best.model.length)) best = row;
  }
  return best;
}

/** Token and call counts an event is priced on. */
export interface PricedUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  audioInputTokens: number;
  outputTokens: number;
  audioOutputTokens: number;
  webSearchRequests: number;
}

/**
 * The cost of `usage` at `price` in nano-dollars (1e-9 USD), rounded to the
 * nearest nano-dollar once, at the end. A price per million tokens is a
 * price in nano-dollars per thousand tokens.
 */
export function costNanos(usage: PricedUsage, price: PriceRow): number {
  const perThousandTokens =
    (usage.inputTokens + usage.audioInputTokens) * price.inputPerMTok +
    usage.cacheReadTokens * price.cacheReadPerMTok +
    usage.cacheWriteTokens * price.cacheWritePerMTok +
    (usage.outputTokens + usage.audioOutputTokens) * price.outputPerMTok;
  return Math.round(perThousandTokens * 1000 + usage.webSearchRequests * price.webSearchPerCall * 1e9);
}
