/**
 * Usage the provider reported but that cannot be true: a count that is not a
 * non-negative integer, or is out of range, and a cost out of range. Each is a
 * fault: reported to `onError` and the event estimated, never exact zeros or
 * a huge number sent to Stoa. A missing count still means 0.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider, StoaStreamError } from "../../src/index.ts";
import { MAX_COST_USD, MAX_TOKEN_COUNT } from "../../src/usage.ts";
import { type MeterRun, meterRun, OPENROUTER_USAGE, PROVIDER_KEY } from "../support/meter.ts";
import type { FakeOptions } from "../support/provider.ts";

function openai(run: MeterRun, opts: FakeOptions, provider: StoaProvider = StoaProvider.OpenAI) {
  const bases = run.bases(opts);
  return new OpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: provider === StoaProvider.OpenRouter ? bases.openrouter : bases.openai,
    maxRetries: 0,
    fetch: run.stoa.fetch({ provider, userId: "user_uf" }),
  });
}

const MESSAGES = [{ role: "user" as const, content: "Say hello" }];

/** `estimateInputTokens` of the openai SDK's body for MESSAGES: "Say hello" weighs 9, so 3 tokens. */
const ESTIMATED_INPUT = 3;

function streamErrors(run: MeterRun): string[] {
  return run.errors.map((e) => (e instanceof StoaStreamError ? e.message : `not a StoaStreamError: ${e}`));
}

describe("malformed token counts", () => {
  it("reports a string, negative, boolean or fractional count and estimates the event", async () => {
    const run = await meterRun("uf-garbage");
    const bad: unknown[] = ["100", -5, true, 1.5, {}];
    for (const prompt of bad) {
      const usage = { prompt_tokens: prompt, completion_tokens: 5, total_tokens: 105 };
      await openai(run, { usage }).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    }
    const events = await run.events();
    expect(events).toHaveLength(bad.length);
    for (const event of events) {
      expect(event).toMatchObject({ status: "completed", estimated: true });
      // the input counts are estimated from the request; the well-formed output count is kept
      expect(event.usage).toEqual({
        inputTokens: ESTIMATED_INPUT,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        audioInputTokens: 0,
        outputTokens: 5,
        audioOutputTokens: 0,
        reasoningTokens: 0,
        webSearchRequests: 0,
      });
    }
    expect(streamErrors(run)).toEqual(
      bad.map(
        () =>
          "The provider reported malformed usage (inputTokens, cacheReadTokens, cacheWriteTokens, audioInputTokens); the event is estimated.",
      ),
    );
  });

  it("estimates the output of a stream whose output count is malformed", async () => {
    const run = await meterRun("uf-stream");
    const usage = { prompt_tokens: 10, completion_tokens: "7", total_tokens: 17 };
    const stream = await openai(run, { usage }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    for await (const _ of stream);
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "completed", estimated: true });
    // "Hello!" weighs 6: 2 tokens
    expect(event?.usage).toMatchObject({ inputTokens: 10, outputTokens: 2, reasoningTokens: 0 });
    expect(run.errors).toHaveLength(1);
  });

  it("estimates the output of a JSON body whose output count is malformed from the body's content", async () => {
    const run = await meterRun("uf-json-output");
    const bad: unknown[] = ["300", 1.5];
    for (const completion of bad) {
      const usage = { prompt_tokens: 10, completion_tokens: completion, total_tokens: 310 };
      await openai(run, { usage, text: "english" }).chat.completions.create({
        model: "gpt-4o-mini",
        messages: MESSAGES,
      });
    }
    const events = await run.events();
    expect(events).toHaveLength(bad.length);
    for (const event of events) {
      expect(event).toMatchObject({ status: "completed", estimated: true });
      // the body's text strings weigh 2,578: the English paragraph (2,545) and "chat.completion", "stop",
      // "default" and "fp_fake" (33); 4 a token. The well-formed input count is kept.
      expect(event.usage).toEqual({
        inputTokens: 10,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        audioInputTokens: 0,
        outputTokens: 645,
        audioOutputTokens: 0,
        reasoningTokens: 0,
        webSearchRequests: 0,
      });
    }
    expect(streamErrors(run)).toEqual(
      bad.map(
        () =>
          "The provider reported malformed usage (outputTokens, audioOutputTokens, reasoningTokens); the event is estimated.",
      ),
    );
  });

  it("reads a missing or null count as 0, exactly", async () => {
    const run = await meterRun("uf-missing");
    const usage = {
      prompt_tokens: 10,
      prompt_tokens_details: { cached_tokens: null },
      completion_tokens_details: null,
    };
    await openai(run, { usage }).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "completed", estimated: false });
    expect(event?.usage).toMatchObject({ inputTokens: 10, cacheReadTokens: 0, outputTokens: 0 });
    expect(run.errors).toEqual([]);
  });

  it("reports a malformed Anthropic count and estimates the input", async () => {
    const run = await meterRun("uf-anthropic");
    const usage = { input_tokens: "25", output_tokens: 12 };
    const anthropic = new Anthropic({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases({ usage }).anthropic,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_uf" }),
    });
    await anthropic.messages.create({ model: "claude-sonnet-5", max_tokens: 64, messages: MESSAGES });
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "completed", estimated: true });
    expect(event?.usage).toMatchObject({ inputTokens: ESTIMATED_INPUT, outputTokens: 12 });
    expect(run.errors).toHaveLength(1);
  });
});

describe("out-of-range numbers", () => {
  it("reports counts above safe integers or the per-field bound, and estimates", async () => {
    const run = await meterRun("uf-range");
    const huge = [1e300, 2 ** 53, MAX_TOKEN_COUNT + 1];
    for (const prompt of huge) {
      const usage = { prompt_tokens: prompt, completion_tokens: 5 };
      await openai(run, { usage }).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    }
    const events = await run.events();
    expect(events.map((e) => [e.estimated, e.usage.inputTokens, e.usage.outputTokens])).toEqual(
      huge.map(() => [true, ESTIMATED_INPUT, 5]),
    );
    expect(run.errors).toHaveLength(huge.length);
  });

  it("keeps a count at the bound exactly", async () => {
    const run = await meterRun("uf-bound");
    const usage = { prompt_tokens: MAX_TOKEN_COUNT, completion_tokens: 5 };
    await openai(run, { usage }).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const [event] = await run.events();
    expect(event).toMatchObject({ estimated: false, usage: { inputTokens: MAX_TOKEN_COUNT, outputTokens: 5 } });
    expect(run.errors).toEqual([]);
  });

  it("drops a reported cost out of range or malformed, reports it, and marks the event estimated", async () => {
    const run = await meterRun("uf-cost");
    const costs: unknown[] = [1e300, MAX_COST_USD + 0.01, -0.5, "0.01"];
    for (const cost of costs) {
      const usage = { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17, cost };
      await openai(run, { usage }, StoaProvider.OpenRouter).chat.completions.create({
        model: "openai/gpt-4o-mini",
        messages: MESSAGES,
      });
    }
    const events = await run.events();
    expect(events).toHaveLength(costs.length);
    for (const event of events) {
      expect(event).toMatchObject({ status: "completed", estimated: true, usage: OPENROUTER_USAGE });
      expect(event.costUsd).toBeUndefined();
    }
    expect(streamErrors(run)).toEqual(
      costs.map(
        () => "The provider reported a malformed or out-of-range cost; it was dropped and the event is estimated.",
      ),
    );
  });

  it("keeps a cost at the bound", async () => {
    const run = await meterRun("uf-cost-bound");
    const usage = { prompt_tokens: 14, completion_tokens: 3, total_tokens: 17, cost: MAX_COST_USD };
    await openai(run, { usage }, StoaProvider.OpenRouter).chat.completions.create({
      model: "openai/gpt-4o-mini",
      messages: MESSAGES,
    });
    const [event] = await run.events();
    expect(event).toMatchObject({ estimated: false, costUsd: MAX_COST_USD });
    expect(run.errors).toEqual([]);
  });
});
