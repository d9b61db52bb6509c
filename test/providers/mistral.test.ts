/**
 * The Mistral module: usage on the finish chunk unasked, one of the three
 * cached-count spellings, embeddings.
 */
import { describe, expect, it } from "vitest";
import { mistral } from "../../src/providers/mistral.ts";
import { MISTRAL_CHUNKS } from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

describe("mistral", () => {
  it("reads the finish chunk's usage without asking for it", () => {
    const { facts, sent } = factsFor(mistral, "/v1/chat/completions", { model: "mistral-small-latest", stream: true });
    expect(sent).toBeUndefined();
    const { reading, dropped, doneAt } = readEvents(mistral, facts, MISTRAL_CHUNKS);
    expect(reading).toEqual({
      id: "5319bd0299614c679a0068a4f2c8ffd0",
      model: "mistral-small-latest",
      usage: usage({ inputTokens: 13, outputTokens: 8 }),
      outputWeight: 6,
    });
    expect(dropped).toEqual([]);
    expect(doneAt).toBe(2);
  });

  it("reads one cached-count spelling, never their sum", () => {
    const read = (u: object) => mistral.readJson("chat.completions", { usage: u }).usage;
    const base = { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110 };
    const cached = usage({ inputTokens: 60, cacheReadTokens: 40, outputTokens: 10 });
    expect(read({ ...base, prompt_tokens_details: { cached_tokens: 40 }, num_cached_tokens: 40 })).toEqual(cached);
    expect(read({ ...base, prompt_token_details: { cached_tokens: 40 }, num_cached_tokens: 40 })).toEqual(cached);
    expect(read({ ...base, num_cached_tokens: 40 })).toEqual(cached);
    expect(read({ ...base, prompt_audio_seconds: 12 })).toEqual(usage({ inputTokens: 100, outputTokens: 10 }));
  });

  it("meters embeddings as input", () => {
    expect(mistral.endpoint("/v1/embeddings")).toBe("embeddings");
    const body = {
      id: "e-1",
      model: "mistral-embed",
      usage: { prompt_tokens: 7, total_tokens: 7, completion_tokens: 0 },
    };
    expect(mistral.readJson("embeddings", body).usage).toEqual(usage({ inputTokens: 7 }));
  });
});
