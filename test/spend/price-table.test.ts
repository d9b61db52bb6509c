import { describe, expect, it } from "vitest";
import { readPriceTable } from "../../src/api/prices.ts";
import { StoaAPIError } from "../../src/errors.ts";
import { nanosToUsd, priceRowFor, usageCostNanos, usdToNanos } from "../../src/spend/price-table.ts";
import { emptyUsage } from "../../src/usage.ts";
import { CONTRACT_FALLBACK } from "../support/contract.ts";

const wire = {
  currency: "USD",
  ttlSeconds: 3600,
  prices: [
    { provider: "openai", model: "gpt-4o", inputPerMTok: 2.5, outputPerMTok: 10 },
    {
      provider: "openai",
      model: "gpt-4o-mini",
      inputPerMTok: 0.15,
      outputPerMTok: 0.6,
      cacheReadPerMTok: 0.075,
      webSearchPerCall: 0.01,
      maxOutputTokens: 16384,
      futureField: "ignored",
    },
    { provider: "anthropic", model: "claude-sonnet-5", inputPerMTok: 3, outputPerMTok: 15 },
  ],
  fallback: { ...CONTRACT_FALLBACK },
};

describe("the price table", () => {
  it("reads the contract's table, missing rates as 0", () => {
    const table = readPriceTable(wire);
    expect(table.ttlSeconds).toBe(3600);
    expect(table.prices[0]).toEqual({
      provider: "openai",
      model: "gpt-4o",
      inputPerMTok: 2.5,
      outputPerMTok: 10,
      cacheReadPerMTok: 0,
      cacheWritePerMTok: 0,
      audioInputPerMTok: 0,
      audioOutputPerMTok: 0,
      webSearchPerCall: 0,
      maxOutputTokens: 0,
      requestOverheadTokens: 0,
    });
    expect(table.fallback.attachmentTokens).toBe(20000);
  });

  it("refuses a malformed table with a StoaAPIError", () => {
    for (const bad of [
      null,
      {},
      { ...wire, prices: "x" },
      { ...wire, fallback: undefined },
      { ...wire, currency: "EUR" },
      { ...wire, prices: [{ provider: "openai", model: "m", inputPerMTok: -1 }] },
      { ...wire, prices: [{ provider: "openai", model: "m", outputPerMTok: "1" }] },
      { ...wire, prices: [{ provider: "openai", model: "m", outputPerMTok: Number.POSITIVE_INFINITY }] },
      { ...wire, ttlSeconds: -5 },
    ]) {
      expect(() => readPriceTable(bad), JSON.stringify(bad)).toThrow(StoaAPIError);
    }
  });

  it("matches exact names and dated variants, longest first, per provider", () => {
    const table = readPriceTable(wire);
    expect(priceRowFor(table, "openai", "gpt-4o-mini")?.model).toBe("gpt-4o-mini");
    expect(priceRowFor(table, "openai", "gpt-4o-mini-2024-07-18")?.model).toBe("gpt-4o-mini");
    expect(priceRowFor(table, "openai", "gpt-4o-2024-08-06")?.model).toBe("gpt-4o");
    expect(priceRowFor(table, "openai", "gpt-4omni")).toBeUndefined();
    expect(priceRowFor(table, "openrouter", "gpt-4o")).toBeUndefined();
    expect(priceRowFor(table, "anthropic", "claude-sonnet-5-20261001")?.model).toBe("claude-sonnet-5");
  });

  it("prices a usage exactly, in nano-dollars", () => {
    const row = priceRowFor(readPriceTable(wire), "openai", "gpt-4o-mini");
    const usage = { ...emptyUsage(), inputTokens: 21, cacheReadTokens: 1000, outputTokens: 34, webSearchRequests: 2 };
    // 21 × 150 + 1000 × 75 + 34 × 600 + 2 × 10 000 000
    expect(usageCostNanos(row, usage)).toBe(3150 + 75_000 + 20_400 + 20_000_000);
    expect(usageCostNanos(undefined, usage)).toBe(0);
    expect(nanosToUsd(usageCostNanos(row, usage))).toBe(0.02009855);
    expect(usdToNanos(0.02009855)).toBe(20_098_550);
  });
});
