/**
 * The Google Gemini module against the facts' fixtures: `usageMetadata`
 * mapping (thoughts in output, tool-use prompt in input, cache and audio),
 * cumulative stream usage merged per field, Vertex, grounding, the path.
 */
import { describe, expect, it } from "vitest";
import { google } from "../../src/providers/google.ts";
import { meterBody } from "../../src/streams/metered-body.ts";
import { GEMINI_CHUNKS, GEMINI_JSON, VERTEX_CHUNKS } from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const API_PATH = "/v1beta/models/gemini-3-pro-preview:generateContent";
const STREAM_PATH = "/v1beta/models/gemini-3-pro-preview:streamGenerateContent";
const VERTEX_STREAM =
  "/v1/projects/p-1/locations/us-central1/publishers/google/models/gemini-3.1-pro-preview:streamGenerateContent";

function chunk(meta: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    candidates: [{ content: { parts: [{ text: "hi" }], role: "model" }, index: 0, ...extra }],
    usageMetadata: meta,
    modelVersion: "models/gemini-2.5-flash",
    responseId: "r1",
  });
}

describe("google paths", () => {
  it("meters generateContent and streamGenerateContent, Gemini API and Vertex; the model comes from the path", () => {
    expect(factsFor(google, API_PATH).facts).toMatchObject({
      endpoint: "generate_content",
      stream: false,
      requestedModel: "gemini-3-pro-preview",
    });
    expect(factsFor(google, STREAM_PATH).facts).toMatchObject({ stream: true, requestedModel: "gemini-3-pro-preview" });
    expect(factsFor(google, VERTEX_STREAM).facts).toMatchObject({
      endpoint: "generate_content",
      stream: true,
      requestedModel: "gemini-3.1-pro-preview",
    });
    expect(factsFor(google, "/v1/projects/p/locations/l/endpoints/1234%2F5:generateContent").facts.requestedModel).toBe(
      "1234/5",
    );
    expect(factsFor(google, API_PATH).sent).toBeUndefined();
  });

  it("leaves countTokens and embeddings unmetered", () => {
    expect(google.endpoint("/v1beta/models/gemini-3-pro-preview:countTokens")).toBeUndefined();
    expect(google.endpoint("/v1beta/models/gemini-embedding-001:embedContent")).toBeUndefined();
    expect(google.endpoint("/v1beta/models/gemini-embedding-001:batchEmbedContents")).toBeUndefined();
    expect(google.requestId(new Headers({ "x-request-id": "x" }))).toBeUndefined();
  });
});

describe("google usage", () => {
  it("reads a JSON response: thoughts inside output", () => {
    expect(google.readJson("generate_content", GEMINI_JSON)).toEqual({
      id: "Un6LacrVMcjUxs0PmJfWoQc",
      model: "gemini-3-pro-preview",
      usage: usage({ inputTokens: 9, outputTokens: 272, reasoningTokens: 244 }),
      outputWeight: 0,
    });
  });

  it("maps cache, audio and tool-use prompt tokens so the sum is totalTokenCount", () => {
    const meta = {
      promptTokenCount: 1000,
      cachedContentTokenCount: 600,
      promptTokensDetails: [
        { modality: "TEXT", tokenCount: 900 },
        { modality: "AUDIO", tokenCount: 100 },
      ],
      cacheTokensDetails: [
        { modality: "TEXT", tokenCount: 560 },
        { modality: "AUDIO", tokenCount: 40 },
      ],
      candidatesTokenCount: 50,
      candidatesTokensDetails: [
        { modality: "AUDIO", tokenCount: 20 },
        { modality: "TEXT", tokenCount: 30 },
      ],
      toolUsePromptTokenCount: 7,
      thoughtsTokenCount: 11,
      totalTokenCount: 1068,
    };
    const read = google.readJson("generate_content", { ...GEMINI_JSON, usageMetadata: meta });
    expect(read.usage).toEqual(
      usage({
        inputTokens: 347,
        cacheReadTokens: 600,
        audioInputTokens: 60,
        outputTokens: 41,
        audioOutputTokens: 20,
        reasoningTokens: 11,
      }),
    );
  });

  it("counts the non-empty web search queries of the grounding", () => {
    const body = {
      ...GEMINI_JSON,
      candidates: [
        {
          ...GEMINI_JSON.candidates[0],
          groundingMetadata: { webSearchQueries: ["strawberry letters", "", "r count"] },
        },
      ],
    };
    expect(google.readJson("generate_content", body).usage?.webSearchRequests).toBe(2);
  });

  it("reads streamGenerateContent answered as a JSON array (no alt=sse), merged per field", () => {
    const array = GEMINI_CHUNKS.map((text) => JSON.parse(text));
    expect(google.readJson("generate_content", array).usage).toEqual(
      usage({ inputTokens: 9, outputTokens: 208, reasoningTokens: 185 }),
    );
  });

  it("reports no usage for a body without usageMetadata", () => {
    expect(google.readJson("generate_content", { candidates: [] }).usage).toBeUndefined();
  });
});

describe("google streams", () => {
  it("keeps the last cumulative snapshot, never a sum, and is done at the finishing chunk", () => {
    const { facts } = factsFor(google, STREAM_PATH);
    const { reading, doneAt, dropped } = readEvents(google, facts, GEMINI_CHUNKS);
    expect(reading.usage).toEqual(usage({ inputTokens: 9, outputTokens: 208, reasoningTokens: 185 }));
    expect(reading.id).toBe("bH6LaZW8Fp_3nsEPqtaSwQ4");
    expect(reading.model).toBe("gemini-3-pro-preview");
    expect(doneAt).toBe(2);
    expect(dropped).toEqual([]);
  });

  it("keeps Vertex's counts when interim chunks carry only trafficType", () => {
    const { facts } = factsFor(google, VERTEX_STREAM);
    const { reading } = readEvents(google, facts, VERTEX_CHUNKS);
    expect(reading.usage).toEqual(usage({ inputTokens: 31, outputTokens: 1710, reasoningTokens: 1026 }));
    expect(reading.model).toBe("gemini-3.1-pro-preview");
    // a counts-less snapshot after the counts does not erase them
    const later = readEvents(google, facts, [
      chunk({ promptTokenCount: 5, candidatesTokenCount: 3, thoughtsTokenCount: 2 }),
      chunk({ trafficType: "ON_DEMAND" }, { finishReason: "STOP" }),
    ]);
    expect(later.reading.usage).toEqual(usage({ inputTokens: 5, outputTokens: 5, reasoningTokens: 2 }));
    expect(later.reading.model).toBe("gemini-2.5-flash");
  });

  it("takes the last value of a count that goes backwards", () => {
    const { facts } = factsFor(google, STREAM_PATH);
    const { reading } = readEvents(google, facts, [
      chunk({ promptTokenCount: 9, candidatesTokenCount: 30, thoughtsTokenCount: 10 }),
      chunk({ promptTokenCount: 9, candidatesTokenCount: 20 }, { finishReason: "STOP" }),
    ]);
    expect(reading.usage).toEqual(usage({ inputTokens: 9, outputTokens: 30, reasoningTokens: 10 }));
  });

  it("takes web searches from the last chunk that lists queries: per query on Gemini 3, one per prompt before", () => {
    const { facts } = factsFor(google, STREAM_PATH);
    const grounded = (model: string) => [
      chunk({ promptTokenCount: 9, candidatesTokenCount: 1 }, { groundingMetadata: { webSearchQueries: ["a"] } }),
      chunk(
        { promptTokenCount: 9, candidatesTokenCount: 4 },
        { groundingMetadata: { webSearchQueries: ["a", "b", ""] } },
      ).replace("gemini-2.5-flash", model),
      // grounding without queries (its sources, say) leaves the count as it was
      chunk(
        { promptTokenCount: 9, candidatesTokenCount: 4 },
        { finishReason: "STOP", groundingMetadata: { groundingChunks: [] } },
      ).replace("gemini-2.5-flash", model),
    ];
    const three = readEvents(google, facts, grounded("gemini-3-pro-preview")).reading;
    expect(three.usage).toEqual(usage({ inputTokens: 9, outputTokens: 4, webSearchRequests: 2 }));
    const twoFive = readEvents(google, facts, grounded("gemini-2.5-flash")).reading;
    expect(twoFive.usage).toEqual(usage({ inputTokens: 9, outputTokens: 4, webSearchRequests: 1 }));
  });

  it("a stream cut before the finishing chunk reports its counts so far as partial", () => {
    const { facts } = factsFor(google, STREAM_PATH);
    const { reading, doneAt } = readEvents(google, facts, GEMINI_CHUNKS.slice(0, 2));
    expect(doneAt).toBeUndefined();
    expect(reading.usage).toBeUndefined();
    expect(reading.partial).toEqual(usage({ inputTokens: 9, outputTokens: 208, reasoningTokens: 185 }));
    expect(reading.outputWeight).toBe("There are **3**".length + 40);
  });

  it("reads an event too large to keep from its tail", () => {
    const { facts } = factsFor(google, STREAM_PATH);
    const reader = google.readStream(facts);
    const whole = chunk({ promptTokenCount: 9, candidatesTokenCount: 4000 }, { finishReason: "STOP" });
    reader.event(whole.slice(40), 500_000, whole.slice(0, 40));
    expect(reader.done).toBe(true);
    expect(reader.reading().usage).toEqual(usage({ inputTokens: 9, outputTokens: 4000 }));
  });
});

describe("google OpenAI-compatible endpoint", () => {
  it("adds the thinking that completion_tokens leaves out to output and reasoning", () => {
    const { facts, sent } = factsFor(google, "/v1beta/openai/chat/completions", {
      model: "gemini-2.5-flash",
      stream: true,
    });
    expect(facts.endpoint).toBe("chat.completions");
    expect(sent).toBeUndefined();
    const raw = { completion_tokens: 21, prompt_tokens: 72, total_tokens: 171 };
    expect(google.readJson("chat.completions", { id: "Q9ug", model: "gemini-2.5-flash", usage: raw }).usage).toEqual(
      usage({ inputTokens: 72, outputTokens: 99, reasoningTokens: 78 }),
    );
    const events = [
      { completion_tokens: 5, prompt_tokens: 72, total_tokens: 155 },
      { completion_tokens: 21, prompt_tokens: 72, total_tokens: 171 },
    ].map((u, i) =>
      JSON.stringify({
        id: "Q9ug",
        model: "gemini-2.5-flash",
        choices: [{ index: 0, delta: { content: `c${i}` } }],
        usage: u,
      }),
    );
    const { reading } = readEvents(google, facts, [...events, "[DONE]"]);
    expect(reading.usage).toEqual(usage({ inputTokens: 72, outputTokens: 99, reasoningTokens: 78 }));
  });
});

describe("google SSE split at every byte", () => {
  // the stream as the Gemini API sends it: `data:` lines ended by CRLF pairs
  const bytes = new TextEncoder().encode(GEMINI_CHUNKS.map((data) => `data: ${data}\r\n\r\n`).join(""));

  it("reads the same usage and passes the same bytes wherever the body is cut in two", async () => {
    const { facts } = factsFor(google, STREAM_PATH);
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = google.readStream(facts);
      const parts = [bytes.subarray(0, cut), bytes.subarray(cut)];
      const source = new ReadableStream<Uint8Array>({
        pull(controller) {
          const part = parts.shift();
          if (part === undefined) controller.close();
          else controller.enqueue(part);
        },
      });
      const body = meterBody(source, {
        filter: false,
        onEvent: (data, length, head) => reader.event(data, length, head),
        afterChunk: () => false,
        onEnd() {},
        onFault(error) {
          throw error;
        },
      });
      expect(new Uint8Array(await new Response(body).arrayBuffer())).toEqual(bytes);
      expect(reader.done).toBe(true);
      expect(reader.reading().usage).toEqual(usage({ inputTokens: 9, outputTokens: 208, reasoningTokens: 185 }));
    }
  });
});
