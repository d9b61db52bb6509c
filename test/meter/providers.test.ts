/**
 * The provider modules on their own: what each says about itself (error
 * envelope, request-id fallback, how a JSON body is read) and the request
 * rewrite, which must leave its input alone.
 */
import { describe, expect, it } from "vitest";
import { anthropic } from "../../src/providers/anthropic.ts";
import { loadProvider } from "../../src/providers/index.ts";
import { openai } from "../../src/providers/openai.ts";
import { openrouter } from "../../src/providers/openrouter.ts";
import type { RequestFacts } from "../../src/providers/types.ts";

describe("provider modules", () => {
  it("rewrite a chat stream request without changing the facts they were given", () => {
    const text = '{"model":"gpt-4o-mini","stream":true,"messages":[]}';
    const facts: RequestFacts = Object.freeze({
      endpoint: "chat.completions",
      body: Object.freeze(JSON.parse(text) as Record<string, unknown>),
      stream: true,
      injectedUsage: false,
    });
    const prepared = openai.prepare?.(facts, text);
    expect(prepared).toEqual({
      text: '{"stream_options":{"include_usage":true},"model":"gpt-4o-mini","stream":true,"messages":[]}',
      injectedUsage: true,
    });
    expect(facts.injectedUsage).toBe(false);
  });

  it("say their own error envelope, request-id fallback and JSON reading", async () => {
    expect(anthropic.errorBody("charge_required", "m")).toEqual({
      type: "error",
      error: { type: "charge_required", message: "m" },
    });
    const openaiShape = { error: { message: "m", type: "charge_required", code: "charge_required", param: null } };
    expect(openai.errorBody("charge_required", "m")).toEqual(openaiShape);
    expect(openrouter.errorBody("charge_required", "m")).toEqual(openaiShape);
    expect([openai, anthropic, openrouter].map((p) => p.requestIdFromResponseId === true)).toEqual([
      false,
      false,
      true,
    ]);
    expect(openai.jsonRead?.("responses")).toBe("whole");
    expect(openai.jsonRead?.("chat.completions")).toBe("skim");
    expect(await loadProvider("anthropic")).toBe(anthropic);
  });
});
