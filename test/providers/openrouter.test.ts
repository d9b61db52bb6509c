/**
 * The OpenRouter module on its own: the cost it reports, with the router's
 * fee and, when the app brings its own provider key, the provider's charge.
 */
import { describe, expect, it } from "vitest";
import { openrouter } from "../../src/providers/openrouter.ts";
import { factsFor, readEvents } from "./drive.ts";

const USAGE = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };

describe("openrouter cost", () => {
  it("is usage.cost, on OpenRouter's own credits", () => {
    const body = { id: "gen-1", model: "openai/gpt-4o", usage: { ...USAGE, cost: 0.0105 } };
    expect(openrouter.readJson("chat.completions", body).costUsd).toBe(0.0105);
  });

  it("adds the upstream charge to the fee with the app's own key (is_byok), in JSON and in a stream", () => {
    const byok = {
      ...USAGE,
      cost: 0.0005,
      is_byok: true,
      cost_details: { upstream_inference_cost: 0.0105 },
    };
    const body = { id: "gen-2", model: "openai/gpt-4o", usage: byok };
    expect(openrouter.readJson("chat.completions", body).costUsd).toBe(0.011);
    const { facts } = factsFor(openrouter, "/api/v1/chat/completions", { model: "openai/gpt-4o", stream: true });
    const { reading } = readEvents(openrouter, facts, [
      JSON.stringify({ id: "gen-2", model: "openai/gpt-4o", choices: [{ index: 0, delta: { content: "hi" } }] }),
      JSON.stringify({ id: "gen-2", model: "openai/gpt-4o", choices: [], usage: byok }),
      "[DONE]",
    ]);
    expect(reading.costUsd).toBe(0.011);
  });

  it("is the fee alone when the upstream charge is filled in but the key is OpenRouter's", () => {
    const usage = { ...USAGE, cost: 0.0105, is_byok: false, cost_details: { upstream_inference_cost: 0.0105 } };
    expect(openrouter.readJson("chat.completions", { usage }).costUsd).toBe(0.0105);
  });
});

describe("openrouter streams", () => {
  it("asks for usage but hides no chunk: OpenRouter sends its usage chunk to the app anyway", () => {
    const { facts, sent } = factsFor(openrouter, "/api/v1/chat/completions", { model: "openai/gpt-4o", stream: true });
    expect(JSON.parse(sent ?? "")).toMatchObject({ stream_options: { include_usage: true } });
    expect(facts.injectedUsage).toBe(false);
    const { reading, dropped } = readEvents(openrouter, facts, [
      JSON.stringify({ id: "gen-3", model: "openai/gpt-4o", choices: [{ index: 0, delta: { content: "hi" } }] }),
      JSON.stringify({ id: "gen-3", model: "openai/gpt-4o", choices: [], usage: { ...USAGE, cost: 0.0105 } }),
      "[DONE]",
    ]);
    expect(dropped).toEqual([]);
    expect(reading.costUsd).toBe(0.0105);
  });
});
