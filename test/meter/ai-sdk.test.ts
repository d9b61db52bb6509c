/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai` and `@ai-sdk/anthropic`)
 * takes `fetch` too: generateText and streamText through the meter.
 */
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import {
  ANTHROPIC_USAGE,
  type MeterRun,
  meterRun,
  OPENAI_CHAT_USAGE,
  OPENAI_RESPONSES_USAGE,
  PROVIDER_KEY,
} from "../support/meter.ts";

function openaiProvider(run: MeterRun) {
  return createOpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: run.bases().openai,
    fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_ai" }),
  });
}

function anthropicProvider(run: MeterRun) {
  return createAnthropic({
    apiKey: PROVIDER_KEY,
    baseURL: run.bases().anthropicV1,
    fetch: run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_ai" }),
  });
}

describe("AI SDK with @ai-sdk/openai", () => {
  it("meters generateText and streamText on chat completions", async () => {
    const run = await meterRun("ai-openai-chat");
    const openai = openaiProvider(run);
    const generated = await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "Say hello", maxRetries: 0 });
    expect(generated.text).toBe("Hello!");
    const streamed = streamText({ model: openai.chat("gpt-4o-mini"), prompt: "Say hello", maxRetries: 0 });
    let text = "";
    for await (const part of streamed.textStream) text += part;
    expect(text).toBe("Hello!");
    expect((await streamed.usage).outputTokens).toBe(300);
    const events = await run.events();
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event).toMatchObject({ endpoint: "chat.completions", status: "completed", usage: OPENAI_CHAT_USAGE });
    }
  });

  it("meters generateText and streamText on the Responses API", async () => {
    const run = await meterRun("ai-openai-resp");
    const openai = openaiProvider(run);
    const generated = await generateText({ model: openai.responses("gpt-5-mini"), prompt: "Say hello", maxRetries: 0 });
    expect(generated.text).toBe("Hello!");
    const streamed = streamText({ model: openai.responses("gpt-5-mini"), prompt: "Say hello", maxRetries: 0 });
    let text = "";
    for await (const part of streamed.textStream) text += part;
    expect(text).toBe("Hello!");
    const events = await run.events();
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event).toMatchObject({ endpoint: "responses", status: "completed", usage: OPENAI_RESPONSES_USAGE });
    }
  });
});

describe("AI SDK with @ai-sdk/anthropic", () => {
  it("meters generateText and streamText", async () => {
    const run = await meterRun("ai-anthropic");
    const anthropic = anthropicProvider(run);
    const generated = await generateText({
      model: anthropic("claude-sonnet-5"),
      prompt: "Say hello",
      maxRetries: 0,
    });
    expect(generated.text).toBe("Hello!");
    const streamed = streamText({ model: anthropic("claude-sonnet-5"), prompt: "Say hello", maxRetries: 0 });
    let text = "";
    for await (const part of streamed.textStream) text += part;
    expect(text).toBe("Hello!");
    const events = await run.events();
    expect(events).toHaveLength(2);
    expect(events.map((e) => e.stream).sort()).toEqual([false, true]);
    for (const event of events) expect(event).toMatchObject({ status: "completed", usage: ANTHROPIC_USAGE });
  });
});
