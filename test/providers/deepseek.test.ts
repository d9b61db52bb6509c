/**
 * The DeepSeek module: cache hit and miss counts, reasoning inside
 * completion, `include_usage` added, usage on the finish chunk.
 */
import { describe, expect, it } from "vitest";
import { deepseek } from "../../src/providers/deepseek.ts";
import { DEEPSEEK_CACHED_USAGE, DEEPSEEK_REASONING_USAGE } from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const PATH = "/chat/completions";

describe("deepseek", () => {
  it("maps the miss count to input and the hit count to cache reads", () => {
    expect(deepseek.endpoint(PATH)).toBe("chat.completions");
    const body = { id: "d-1", model: "deepseek-reasoner", usage: DEEPSEEK_REASONING_USAGE };
    expect(deepseek.readJson("chat.completions", body)).toEqual({
      id: "d-1",
      model: "deepseek-reasoner",
      usage: usage({ inputTokens: 18, outputTokens: 345, reasoningTokens: 315 }),
      outputWeight: 0,
    });
    expect(deepseek.readJson("chat.completions", { usage: DEEPSEEK_CACHED_USAGE }).usage).toEqual(
      usage({ inputTokens: 36, cacheReadTokens: 64, outputTokens: 10 }),
    );
    const missingMiss = { prompt_tokens: 100, completion_tokens: 10, prompt_cache_hit_tokens: 64 };
    expect(deepseek.readJson("chat.completions", { usage: missingMiss }).usage).toEqual(
      usage({ inputTokens: 36, cacheReadTokens: 64, outputTokens: 10 }),
    );
  });

  it("adds include_usage and reads the usage of the finish chunk, which it leaves to the app", () => {
    const { facts, sent } = factsFor(deepseek, "/v1/chat/completions", { model: "deepseek-chat", stream: true });
    expect(facts.injectedUsage).toBe(true);
    expect(JSON.parse(sent ?? "").stream_options).toEqual({ include_usage: true });
    const chunk = (delta: object, finish: string | null, u: object | null) =>
      JSON.stringify({
        id: "d-2",
        object: "chat.completion.chunk",
        model: "deepseek-chat",
        choices: [{ index: 0, delta, finish_reason: finish }],
        usage: u,
      });
    const { reading, dropped } = readEvents(deepseek, facts, [
      chunk({ role: "assistant", content: "" }, null, null),
      chunk({ content: "Hi" }, null, null),
      chunk({ content: "" }, "stop", DEEPSEEK_CACHED_USAGE),
      "[DONE]",
    ]);
    expect(reading.usage).toEqual(usage({ inputTokens: 36, cacheReadTokens: 64, outputTokens: 10 }));
    expect(reading.model).toBe("deepseek-chat");
    expect(dropped).toEqual([]);
  });
});
