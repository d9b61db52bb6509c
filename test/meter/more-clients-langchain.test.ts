/**
 * LangChain JS through the meter: `@langchain/openai` takes a fetch in
 * `configuration.fetch`, `@langchain/anthropic` in `clientOptions.fetch`.
 * invoke and stream against the fake provider over HTTP, exact events.
 */
import { ChatAnthropic } from "@langchain/anthropic";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { ANTHROPIC_USAGE, meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY } from "../support/meter.ts";

describe("@langchain/openai with configuration.fetch", () => {
  it("meters invoke and stream on chat completions", async () => {
    const run = await meterRun("langchain-openai");
    const model = new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: PROVIDER_KEY,
      maxRetries: 0,
      configuration: {
        baseURL: run.bases().openai,
        fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_lc" }),
      },
    });
    const answer = await model.invoke("Say hello");
    expect(answer.content).toBe("Hello!");
    let text = "";
    for await (const chunk of await model.stream("Say hello")) text += String(chunk.content);
    expect(text).toBe("Hello!");
    const common = {
      userId: "user_lc",
      provider: "openai",
      endpoint: "chat.completions",
      requestedModel: "gpt-4o-mini",
      status: "completed",
      estimated: false,
      usage: OPENAI_CHAT_USAGE,
    };
    expect(await run.events()).toMatchObject([
      { ...common, stream: false },
      { ...common, stream: true },
    ]);
    expect(run.errors).toEqual([]);
  });
});

describe("@langchain/anthropic with clientOptions.fetch", () => {
  it("meters invoke and stream on messages", async () => {
    const run = await meterRun("langchain-anthropic");
    const model = new ChatAnthropic({
      model: "claude-sonnet-5",
      apiKey: PROVIDER_KEY,
      maxRetries: 0,
      anthropicApiUrl: run.bases().anthropic,
      clientOptions: { fetch: run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_lc" }) },
    });
    const answer = await model.invoke("Say hello");
    expect(answer.content).toBe("Hello!");
    let text = "";
    for await (const chunk of await model.stream("Say hello")) text += String(chunk.content);
    expect(text).toBe("Hello!");
    const common = {
      userId: "user_lc",
      provider: "anthropic",
      endpoint: "messages",
      requestedModel: "claude-sonnet-5",
      status: "completed",
      estimated: false,
      usage: ANTHROPIC_USAGE,
    };
    expect(await run.events()).toMatchObject([
      { ...common, stream: false },
      { ...common, stream: true },
    ]);
    expect(run.errors).toEqual([]);
  });
});
