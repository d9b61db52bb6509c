/**
 * The Anthropic module on its own: a stream's `message_delta` overwrites
 * what `message_start` said field by field, and a `null` count overwrites
 * nothing.
 */
import { describe, expect, it } from "vitest";
import { anthropic } from "../../src/providers/anthropic.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const START = {
  type: "message_start",
  message: {
    id: "msg_01",
    type: "message",
    model: "claude-sonnet-4-5",
    usage: { input_tokens: 13, cache_read_input_tokens: 22_000, cache_creation_input_tokens: 31, output_tokens: 1 },
  },
};

describe("anthropic streams", () => {
  it("keeps message_start's counts where message_delta sends null (Anthropic-compatible hosts do)", () => {
    const { facts } = factsFor(anthropic, "/v1/messages", { model: "claude-sonnet-4-5", stream: true });
    const delta = {
      type: "message_delta",
      delta: { stop_reason: "end_turn" },
      usage: { input_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 4 },
    };
    const { reading } = readEvents(anthropic, facts, [
      JSON.stringify(START),
      JSON.stringify(delta),
      JSON.stringify({ type: "message_stop" }),
    ]);
    expect(reading.usage).toEqual(
      usage({ inputTokens: 13, cacheReadTokens: 22_000, cacheWriteTokens: 31, outputTokens: 4 }),
    );
  });

  it("takes message_delta's counts where it sends them: cumulative totals, not additions", () => {
    const { facts } = factsFor(anthropic, "/v1/messages", { model: "claude-sonnet-4-5", stream: true });
    const delta = {
      type: "message_delta",
      usage: { input_tokens: 15, output_tokens: 40, server_tool_use: { web_search_requests: 2 } },
    };
    const { reading } = readEvents(anthropic, facts, [JSON.stringify(START), JSON.stringify(delta)]);
    expect(reading.usage).toEqual(
      usage({ inputTokens: 15, cacheReadTokens: 22_000, cacheWriteTokens: 31, outputTokens: 40, webSearchRequests: 2 }),
    );
  });
});
