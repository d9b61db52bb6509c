/**
 * Figures of the wire contract (`stoa-api.md`, version 2026-12-01) as the
 * tests read them, written out once and apart from the SDK's and the local
 * server's own code, so a test holds either of them to the contract.
 */
import type { FallbackRates } from "../../src/spend/price-table.ts";

/** The `fallback` row of `GET /v1/prices`, exactly as the contract shows it. */
export const CONTRACT_FALLBACK: Readonly<FallbackRates> = {
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
