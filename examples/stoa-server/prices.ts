/**
 * The local Stoa server's own price table (served as `GET /v1/prices`), in
 * USD per million tokens and per web-search call. Edit it freely: it only
 * decides what the local server debits, and what clients reckon a call's
 * worst case from. An event that carries a provider-reported `costUsd`
 * (OpenRouter's `usage.cost`) is debited that instead.
 *
 * A model matches its entry exactly or as a dated variant: `gpt-4o-mini`
 * prices `gpt-4o-mini-2024-07-18` (the longest matching name wins). Audio
 * tokens are priced at the text rates here, a simplification.
 * `maxOutputTokens` is each model's documented output limit;
 * `requestOverheadTokens` is 346 for Anthropic (the system prompt its tool
 * use adds), 0 for OpenAI.
 */
import type { FallbackRates as FallbackPrice, PriceRow } from "../../src/spend/price-table.ts";
import type { Usage } from "../../src/usage.ts";

/** The wire types are the SDK's: a row, and the fallback a client reckons a worst case from (never billed from). */
export type { FallbackRates as FallbackPrice, PriceRow } from "../../src/spend/price-table.ts";

/** How long a client may cache the table, in seconds. */
export const PRICES_TTL_SECONDS = 3600;

/** The contract's fallback row, exactly as `stoa-api.md` shows it. */
export const FALLBACK_PRICE: FallbackPrice = {
  inputPerMTok: 15,
  outputPerMTok: 75,
  cacheReadPerMTok: 15,
  cacheWritePerMTok: 18.75,
  audioInputPerMTok: 100,
  audioOutputPerMTok: 200,
  webSearchPerCall: 0.035,
  maxOutputTokens: 32768,
  attachmentTokens: 20000,
  requestOverheadTokens: 1000,
};

/** Prices by provider, then model name. */
export const PRICES: readonly PriceRow[] = [
  {
    provider: "openai",
    model: "gpt-4o-mini",
    inputPerMTok: 0.15,
    outputPerMTok: 0.6,
    cacheReadPerMTok: 0.075,
    cacheWritePerMTok: 0.15,
    audioInputPerMTok: 0.15,
    audioOutputPerMTok: 0.6,
    webSearchPerCall: 0.01,
    maxOutputTokens: 16384,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "gpt-4o",
    inputPerMTok: 2.5,
    outputPerMTok: 10,
    cacheReadPerMTok: 1.25,
    cacheWritePerMTok: 2.5,
    audioInputPerMTok: 2.5,
    audioOutputPerMTok: 10,
    webSearchPerCall: 0.01,
    maxOutputTokens: 16384,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "gpt-4.1-mini",
    inputPerMTok: 0.4,
    outputPerMTok: 1.6,
    cacheReadPerMTok: 0.1,
    cacheWritePerMTok: 0.4,
    audioInputPerMTok: 0.4,
    audioOutputPerMTok: 1.6,
    webSearchPerCall: 0.01,
    maxOutputTokens: 32768,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "gpt-4.1",
    inputPerMTok: 2,
    outputPerMTok: 8,
    cacheReadPerMTok: 0.5,
    cacheWritePerMTok: 2,
    audioInputPerMTok: 2,
    audioOutputPerMTok: 8,
    webSearchPerCall: 0.01,
    maxOutputTokens: 32768,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "gpt-5-mini",
    inputPerMTok: 0.25,
    outputPerMTok: 2,
    cacheReadPerMTok: 0.025,
    cacheWritePerMTok: 0.25,
    audioInputPerMTok: 0.25,
    audioOutputPerMTok: 2,
    webSearchPerCall: 0.01,
    maxOutputTokens: 128000,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "gpt-5",
    inputPerMTok: 1.25,
    outputPerMTok: 10,
    cacheReadPerMTok: 0.125,
    cacheWritePerMTok: 1.25,
    audioInputPerMTok: 1.25,
    audioOutputPerMTok: 10,
    webSearchPerCall: 0.01,
    maxOutputTokens: 128000,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "o4-mini",
    inputPerMTok: 1.1,
    outputPerMTok: 4.4,
    cacheReadPerMTok: 0.275,
    cacheWritePerMTok: 1.1,
    audioInputPerMTok: 1.1,
    audioOutputPerMTok: 4.4,
    webSearchPerCall: 0.01,
    maxOutputTokens: 100000,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "text-embedding-3-small",
    inputPerMTok: 0.02,
    outputPerMTok: 0,
    cacheReadPerMTok: 0,
    cacheWritePerMTok: 0,
    audioInputPerMTok: 0.02,
    audioOutputPerMTok: 0,
    webSearchPerCall: 0,
    maxOutputTokens: 0,
    requestOverheadTokens: 0,
  },
  {
    provider: "openai",
    model: "text-embedding-3-large",
    inputPerMTok: 0.13,
    outputPerMTok: 0,
    cacheReadPerMTok: 0,
    cacheWritePerMTok: 0,
    audioInputPerMTok: 0.13,
    audioOutputPerMTok: 0,
    webSearchPerCall: 0,
    maxOutputTokens: 0,
    requestOverheadTokens: 0,
  },
  {
    provider: "anthropic",
    model: "claude-haiku-4-5",
    inputPerMTok: 1,
    outputPerMTok: 5,
    cacheReadPerMTok: 0.1,
    cacheWritePerMTok: 1.25,
    audioInputPerMTok: 1,
    audioOutputPerMTok: 5,
    webSearchPerCall: 0.01,
    maxOutputTokens: 64000,
    requestOverheadTokens: 346,
  },
  {
    provider: "anthropic",
    model: "claude-sonnet-4-5",
    inputPerMTok: 3,
    outputPerMTok: 15,
    cacheReadPerMTok: 0.3,
    cacheWritePerMTok: 3.75,
    audioInputPerMTok: 3,
    audioOutputPerMTok: 15,
    webSearchPerCall: 0.01,
    maxOutputTokens: 64000,
    requestOverheadTokens: 346,
  },
  {
    provider: "anthropic",
    model: "claude-sonnet-5",
    inputPerMTok: 3,
    outputPerMTok: 15,
    cacheReadPerMTok: 0.3,
    cacheWritePerMTok: 3.75,
    audioInputPerMTok: 3,
    audioOutputPerMTok: 15,
    webSearchPerCall: 0.01,
    maxOutputTokens: 64000,
    requestOverheadTokens: 346,
  },
  {
    provider: "anthropic",
    model: "claude-opus-4-1",
    inputPerMTok: 15,
    outputPerMTok: 75,
    cacheReadPerMTok: 1.5,
    cacheWritePerMTok: 18.75,
    audioInputPerMTok: 15,
    audioOutputPerMTok: 75,
    webSearchPerCall: 0.01,
    maxOutputTokens: 32000,
    requestOverheadTokens: 346,
  },
  // issue 11's providers: list prices rounded, audio at the text rates; Bedrock names its models by path
  // id (`anthropic.…`, `us.anthropic.…` inference profiles) and, for Invoke, by the response's model
  text("google", "gemini-2.5-flash", [0.3, 2.5, 0.03, 0], 65536, 0.035),
  text("google", "gemini-2.5-pro", [1.25, 10, 0.125, 0], 65536, 0.035),
  text("google", "gemini-3-pro-preview", [2, 12, 0.2, 0], 65536, 0.014),
  text("bedrock", "anthropic.claude-sonnet-4-5", [3, 15, 0.3, 3.75], 64000, 0, 346),
  text("bedrock", "us.anthropic.claude-sonnet-4-5", [3, 15, 0.3, 3.75], 64000, 0, 346),
  text("bedrock", "claude-sonnet-4-5", [3, 15, 0.3, 3.75], 64000, 0, 346),
  text("bedrock", "amazon.nova-pro", [0.8, 3.2, 0.2, 0], 10000),
  text("bedrock", "us.amazon.nova-pro", [0.8, 3.2, 0.2, 0], 10000),
  text("azure", "gpt-4o", [2.5, 10, 1.25, 0], 16384),
  text("azure", "gpt-4o-mini", [0.15, 0.6, 0.075, 0], 16384),
  text("groq", "llama-3.3-70b-versatile", [0.59, 0.79, 0.295, 0], 32768),
  text("groq", "openai/gpt-oss-120b", [0.15, 0.6, 0.075, 0], 65536),
  text("deepseek", "deepseek-chat", [0.28, 0.42, 0.028, 0], 8192),
  text("deepseek", "deepseek-reasoner", [0.28, 0.42, 0.028, 0], 65536),
  text("xai", "grok-4", [3, 15, 0.75, 0], 256000, 0.025),
  text("xai", "grok-3-mini", [0.3, 0.5, 0.075, 0], 131072),
  text("mistral", "mistral-small-latest", [0.1, 0.3, 0.01, 0], 32768),
  text("mistral", "mistral-large-latest", [2, 6, 0.2, 0], 32768),
];

/** A row whose audio is priced at the text rates: `[input, output, cache read, cache write]` per million tokens. */
function text(
  provider: string,
  model: string,
  [input, output, cacheRead, cacheWrite]: [number, number, number, number],
  maxOutputTokens: number,
  webSearchPerCall = 0,
  requestOverheadTokens = 0,
): PriceRow {
  return {
    provider,
    model,
    inputPerMTok: input,
    outputPerMTok: output,
    cacheReadPerMTok: cacheRead,
    cacheWritePerMTok: cacheWrite,
    audioInputPerMTok: input,
    audioOutputPerMTok: output,
    webSearchPerCall,
    maxOutputTokens,
    requestOverheadTokens,
  };
}

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

/**
 * The cost of `usage` at `price` in nano-dollars (1e-9 USD), rounded to the
 * nearest nano-dollar once, at the end. A price per million tokens is a
 * price in nano-dollars per thousand tokens. `reasoningTokens` are part of
 * `outputTokens` and not priced again.
 */
export function costNanos(usage: Usage, price: PriceRow): number {
  const perThousandTokens =
    usage.inputTokens * price.inputPerMTok +
    usage.audioInputTokens * price.audioInputPerMTok +
    usage.cacheReadTokens * price.cacheReadPerMTok +
    usage.cacheWriteTokens * price.cacheWritePerMTok +
    usage.outputTokens * price.outputPerMTok +
    usage.audioOutputTokens * price.audioOutputPerMTok;
  return Math.round(perThousandTokens * 1000 + usage.webSearchRequests * price.webSearchPerCall * 1e9);
}
