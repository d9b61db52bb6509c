/**
 * OpenRouter (OpenAI shape plus `usage.cost`) through the real `openai` SDK.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { type MeterRun, meterRun, OPENROUTER_USAGE, PROVIDER_KEY } from "../support/meter.ts";
import type { FakeOptions } from "../support/provider.ts";

function client(run: MeterRun, opts?: FakeOptions) {
  return new OpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: run.bases(opts).openrouter,
    maxRetries: 0,
    fetch: run.stoa.fetch({ provider: StoaProvider.OpenRouter, userId: "user_or" }),
  });
}

const REQUEST = { model: "openai/gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hello" }] };

describe("openrouter", () => {
  it("meters a JSON completion with the cost it reported", async () => {
    const run = await meterRun("or-json");
    await client(run).chat.completions.create(REQUEST);
    const [event] = await run.events();
    expect(event).toMatchObject({
      provider: "openrouter",
      endpoint: "chat.completions",
      model: "openai/gpt-4o-mini",
      usage: OPENROUTER_USAGE,
      costUsd: 0.0000039,
      status: "completed",
    });
    expect(event?.id).toMatch(/^openrouter:gen-/);
    expect(event?.providerRequestId).toBeDefined();
  });

  it("meters streams whose usage chunk has an empty delta or no choices, and hands the app that chunk as sent", async () => {
    const run = await meterRun("or-stream");
    for (const opts of [{ comments: true }, { emptychoices: true }]) {
      const stream = await client(run, opts).chat.completions.create({ ...REQUEST, stream: true });
      let text = "";
      const withUsage: unknown[] = [];
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        if (chunk.usage) withUsage.push(chunk.usage);
      }
      expect(text).toBe("Hello!");
      // OpenRouter sends its usage chunk to every stream: the meter hides nothing (an AI SDK reads its cost)
      expect(withUsage).toHaveLength(1);
      expect(withUsage[0]).toMatchObject({ cost: 0.0000039 });
    }
    const events = await run.events();
    expect(events).toHaveLength(2);
    for (const event of events) expect(event).toMatchObject({ usage: OPENROUTER_USAGE, costUsd: 0.0000039 });
  });

  it("bills an aborted event for OpenRouter's mid-stream error chunk", async () => {
    const run = await meterRun("or-error");
    const stream = await client(run, { error: true }).chat.completions.create({ ...REQUEST, stream: true });
    await expect(async () => {
      for await (const _ of stream) {
        // the SDK throws on the error chunk
      }
    }).rejects.toThrow();
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "aborted", estimated: true });
    expect(event?.costUsd).toBeUndefined();
  });
});
