/**
 * The xAI module: chat reasoning outside `completion_tokens`, the cost in
 * ticks, and the Responses API as OpenAI's plus that cost.
 */
import { describe, expect, it } from "vitest";
import { xai } from "../../src/providers/xai.ts";
import { XAI_CHAT_USAGE, XAI_RESPONSES_USAGE } from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const CHAT_READ = usage({ inputTokens: 10, cacheReadTokens: 2, outputTokens: 229, reasoningTokens: 228 });
const RESPONSES_READ = usage({ inputTokens: 66, cacheReadTokens: 150, outputTokens: 923, reasoningTokens: 323 });

describe("xai chat", () => {
  it("adds reasoning into output and reads the cost in ticks", () => {
    const body = { id: "x-1", model: "grok-4", usage: XAI_CHAT_USAGE };
    expect(xai.readJson("chat.completions", body)).toEqual({
      id: "x-1",
      model: "grok-4",
      usage: CHAT_READ,
      costUsd: 1176500 / 1e10,
      outputWeight: 0,
    });
  });

  it("reads the final choices:[] chunk of a stream it asked usage for, and hides it", () => {
    const { facts, sent } = factsFor(xai, "/v1/chat/completions", { model: "grok-4", stream: true });
    expect(JSON.parse(sent ?? "").stream_options).toEqual({ include_usage: true });
    const { reading, dropped } = readEvents(xai, facts, [
      JSON.stringify({ id: "x-2", model: "grok-4", choices: [{ index: 0, delta: { content: "Hi" } }] }),
      JSON.stringify({ id: "x-2", model: "grok-4", choices: [], usage: XAI_CHAT_USAGE }),
      "[DONE]",
    ]);
    expect(reading).toEqual({ id: "x-2", model: "grok-4", usage: CHAT_READ, costUsd: 0.00011765, outputWeight: 2 });
    expect(dropped).toEqual([1]);
  });
});

describe("xai responses", () => {
  it("parses a Responses body whole (its output lists the searches); chat is skimmed", () => {
    expect(xai.jsonRead?.("responses")).toBe("whole");
    expect(xai.jsonRead?.("chat.completions")).toBe("skim");
  });

  it("reads a JSON response as OpenAI Responses plus the cost", () => {
    const body = { id: "resp_x", model: "grok-4", output: [], usage: XAI_RESPONSES_USAGE };
    expect(xai.readJson("responses", body)).toEqual({
      id: "resp_x",
      model: "grok-4",
      usage: RESPONSES_READ,
      costUsd: 0.0123456789,
      outputWeight: 0,
    });
  });

  it("reads the cost of the terminal event of a stream", () => {
    const { facts, sent } = factsFor(xai, "/v1/responses", { model: "grok-4", stream: true });
    expect(sent).toBeUndefined();
    const response = (status: string, u: unknown) => ({ id: "resp_x", model: "grok-4", status, output: [], usage: u });
    const { reading, doneAt } = readEvents(xai, facts, [
      JSON.stringify({ type: "response.created", response: response("in_progress", null) }),
      JSON.stringify({ type: "response.output_text.delta", delta: "Hello" }),
      JSON.stringify({ type: "response.completed", response: response("completed", XAI_RESPONSES_USAGE) }),
    ]);
    expect(reading).toEqual({
      id: "resp_x",
      model: "grok-4",
      usage: RESPONSES_READ,
      costUsd: 0.0123456789,
      outputWeight: 5,
    });
    expect(doneAt).toBe(2);
  });
});
