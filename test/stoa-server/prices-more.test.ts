/** The local Stoa server prices issue 11's providers, under the model names their events carry. */
import { describe, expect, it } from "vitest";
import { costNanos, findPrice } from "../../examples/stoa-server/prices.ts";
import { emptyUsage } from "../../src/usage.ts";

describe("prices of the providers of issue 11", () => {
  it.each([
    ["google", "gemini-3-pro-preview", "gemini-3-pro-preview"],
    ["google", "gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"],
    ["bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5"],
    ["bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5"],
    ["bedrock", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"],
    ["bedrock", "us.amazon.nova-pro-v1:0", "us.amazon.nova-pro"],
    ["azure", "gpt-4o-2024-08-06", "gpt-4o"],
    ["groq", "llama-3.3-70b-versatile", "llama-3.3-70b-versatile"],
    ["deepseek", "deepseek-chat", "deepseek-chat"],
    ["xai", "grok-4", "grok-4"],
    ["mistral", "mistral-small-latest", "mistral-small-latest"],
  ])("%s %s is priced by its row %s", (provider, model, row) => {
    expect(findPrice(provider, model)?.model).toBe(row);
    expect(findPrice(provider, model)?.maxOutputTokens).toBeGreaterThan(0);
  });

  it("prices a grounded Gemini 3 call: tokens plus each search", () => {
    const price = findPrice("google", "gemini-3-pro-preview");
    const usage = { ...emptyUsage(), inputTokens: 1_000_000, outputTokens: 1_000_000, webSearchRequests: 2 };
    // $2 input + $12 output + 2 × $0.014
    expect(costNanos(usage, price as NonNullable<typeof price>)).toBe(14_028_000_000);
  });
});
