/**
 * The Groq module: top-level `usage` first, `x_groq.usage` in a stream only
 * when it is all there is, and never the JSON body's `x_groq.usage`.
 */
import { describe, expect, it } from "vitest";
import { groq } from "../../src/providers/groq.ts";
import { GROQ_CHUNKS, GROQ_JSON } from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const PATH = "/openai/v1/chat/completions";

describe("groq", () => {
  it("sends the request as it is: usage comes unasked", () => {
    const { facts, sent } = factsFor(groq, PATH, { model: "llama-3.3-70b-versatile", messages: [], stream: true });
    expect(sent).toBeUndefined();
    expect(facts.injectedUsage).toBe(false);
  });

  it("reads the finish chunk's usage once, though it is there twice", () => {
    const { facts } = factsFor(groq, PATH, { stream: true });
    const { reading, dropped, doneAt } = readEvents(groq, facts, GROQ_CHUNKS);
    expect(reading.usage).toEqual(usage({ inputTokens: 45, outputTokens: 662 }));
    expect(reading.id).toBe("chatcmpl-7eb08824-2c5b-4c4d-9a1f-4c4b1c1e9d01");
    expect(reading.model).toBe("llama-3.3-70b-versatile");
    expect(dropped).toEqual([]);
    expect(doneAt).toBe(3);
  });

  it("falls back to x_groq.usage when the finish chunk has no top-level usage", () => {
    const { facts } = factsFor(groq, PATH, { stream: true });
    const finish = JSON.parse(GROQ_CHUNKS[2] as string);
    delete finish.usage;
    const { reading } = readEvents(groq, facts, [GROQ_CHUNKS[0] as string, JSON.stringify(finish), "[DONE]"]);
    expect(reading.usage).toEqual(usage({ inputTokens: 45, outputTokens: 662 }));
  });

  it("reads a JSON body's top-level usage, not x_groq.usage", () => {
    expect(groq.readJson("chat.completions", GROQ_JSON)).toEqual({
      id: "chatcmpl-7eb08824-2c5b-4c4d-9a1f-4c4b1c1e9d01",
      model: "llama-3.3-70b-versatile",
      usage: usage({ inputTokens: 13, cacheReadTokens: 32, outputTokens: 662, reasoningTokens: 100 }),
      outputWeight: 0,
    });
  });
});
