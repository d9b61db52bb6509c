import { describe, expect, it } from "vitest";
import type { PriceRates } from "../../src/spend/price-table.ts";
import { DEFAULT_SEARCH_LIMIT, requestBounds, worstCaseNanos } from "../../src/spend/worst-case.ts";
import { CONTRACT_FALLBACK } from "../support/contract.ts";

const fallback = CONTRACT_FALLBACK;

const mini: PriceRates = {
  inputPerMTok: 0.15,
  outputPerMTok: 0.6,
  cacheReadPerMTok: 0.075,
  cacheWritePerMTok: 0,
  audioInputPerMTok: 0,
  audioOutputPerMTok: 0,
  webSearchPerCall: 0.01,
  maxOutputTokens: 16384,
  requestOverheadTokens: 0,
};

describe("requestBounds", () => {
  it("reads each dialect's output limit", () => {
    expect(requestBounds({ max_tokens: 100 }).outputLimit).toBe(100);
    expect(requestBounds({ max_completion_tokens: 200, max_tokens: 100 }).outputLimit).toBe(200);
    expect(requestBounds({ max_output_tokens: 300 }).outputLimit).toBe(300);
    expect(requestBounds({ generationConfig: { maxOutputTokens: 400 } }).outputLimit).toBe(400);
    expect(requestBounds({ inferenceConfig: { maxTokens: 500 } }).outputLimit).toBe(500);
    expect(requestBounds({ messages: [] }).outputLimit).toBeUndefined();
    // not a usable limit: ignored, the model's limit applies
    expect(requestBounds({ max_tokens: "100" }).outputLimit).toBeUndefined();
    expect(requestBounds({ max_tokens: -1 }).outputLimit).toBeUndefined();
    expect(requestBounds({ max_tokens: 1.5 }).outputLimit).toBeUndefined();
  });

  it("counts answers, audio output and web searches", () => {
    expect(requestBounds({ n: 3 }).answers).toBe(3);
    expect(requestBounds({ generationConfig: { candidateCount: 2 } }).answers).toBe(2);
    expect(requestBounds({}).answers).toBe(1);
    expect(requestBounds({ modalities: ["text", "audio"] }).audioOutput).toBe(true);
    expect(requestBounds({ audio: { voice: "alloy", format: "wav" } }).audioOutput).toBe(true);
    expect(requestBounds({ modalities: ["text"] }).audioOutput).toBe(false);
    expect(
      requestBounds({ tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 3 }] }).webSearches,
    ).toBe(3);
    expect(requestBounds({ tools: [{ type: "web_search_preview" }] }).webSearches).toBe(DEFAULT_SEARCH_LIMIT);
    expect(requestBounds({ web_search_options: {} }).webSearches).toBe(DEFAULT_SEARCH_LIMIT);
    expect(requestBounds({ tools: [{ googleSearch: {} }, { type: "function", function: {} }] }).webSearches).toBe(10);
    // Gemini 1.5's grounding tool
    expect(requestBounds({ tools: [{ googleSearchRetrieval: {} }] }).webSearches).toBe(DEFAULT_SEARCH_LIMIT);
    expect(requestBounds({ tools: [{ google_search_retrieval: {} }] }).webSearches).toBe(DEFAULT_SEARCH_LIMIT);
  });

  it("counts attachment parts in every dialect, audio apart", () => {
    const openai = {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is this" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
            { type: "input_audio", input_audio: { data: "AAAA", format: "wav" } },
            { type: "file", file: { file_id: "file-1" } },
          ],
        },
      ],
      audio: undefined,
    };
    expect(requestBounds(openai)).toMatchObject({ attachments: 2, audioAttachments: 1 });
    const anthropic = {
      system: [{ type: "text", text: "be brief" }],
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
            { type: "document", source: { type: "text", data: "hello" } },
          ],
        },
      ],
    };
    expect(requestBounds(anthropic)).toMatchObject({ attachments: 2, audioAttachments: 0 });
    const gemini = {
      contents: [
        {
          parts: [
            { text: "hi" },
            { inlineData: { mimeType: "image/jpeg", data: "AAAA" } },
            { inlineData: { mimeType: "audio/mp3", data: "AAAA" } },
            { fileData: { mimeType: "application/pdf", fileUri: "gs://x" } },
          ],
        },
      ],
    };
    expect(requestBounds(gemini)).toMatchObject({ attachments: 2, audioAttachments: 1 });
    const bedrock = {
      messages: [{ role: "user", content: [{ text: "hi" }, { image: { format: "png", source: { bytes: "AAAA" } } }] }],
    };
    expect(requestBounds(bedrock)).toMatchObject({ attachments: 1, audioAttachments: 0 });
    const responses = { input: [{ role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] };
    expect(requestBounds(responses)).toMatchObject({ attachments: 1 });
  });

  it("walks at most 100 000 objects, and then assumes the rest holds as many attachments as its bytes allow", () => {
    // 100 000 text parts, then an image the walk never reaches
    const parts: unknown[] = [{ type: "image_url", image_url: { url: "https://x/cat.png" } }];
    for (let i = 0; i < 100_000; i++) parts.push({ type: "text", text: "a" });
    const body = { messages: [{ role: "user", content: parts }] };
    const bytes = new TextEncoder().encode(JSON.stringify(body)).byteLength;
    expect(requestBounds(body, bytes).attachments).toBe(Math.floor(bytes / 15));
    // a long array of numbers (token ids) is not walked part by part: nothing is assumed
    const tokens = { input: Array.from({ length: 200_000 }, (_, i) => i % 50_000) };
    expect(requestBounds(tokens, 1_000_000).attachments).toBe(0);
  });
});

describe("worstCaseNanos", () => {
  it("prices bytes, overhead, attachments, output limit and searches exactly", () => {
    // 1 000 body bytes at the dearest input rate (0.15), 100 output tokens at 0.6, no searches
    const bounds = requestBounds({ max_tokens: 100 });
    expect(worstCaseNanos(bounds, 1000, mini, fallback)).toBe(1000 * 150 + 100 * 600);
    // no limit: the row's maxOutputTokens
    expect(worstCaseNanos(requestBounds({}), 1000, mini, fallback)).toBe(1000 * 150 + 16384 * 600);
    // n = 2 doubles the output
    expect(worstCaseNanos(requestBounds({ max_tokens: 100, n: 2 }), 0, mini, fallback)).toBe(2 * 100 * 600);
    // one image: the fallback's 20 000-token allowance at the input rate; 3 searches at 0.01
    const withImage = requestBounds({
      max_tokens: 10,
      messages: [{ content: [{ type: "image_url", image_url: { url: "https://x" } }] }],
      tools: [{ type: "web_search_20250305", max_uses: 3 }],
    });
    expect(worstCaseNanos(withImage, 500, mini, fallback)).toBe((500 + 20000) * 150 + 10 * 600 + 3 * 10_000_000);
  });

  it("uses the fallback's rates, overhead and dearest input rate for a model with no row", () => {
    const bounds = requestBounds({ max_tokens: 1000 });
    // input at max(15, 15, 18.75) = 18.75 $/MTok = 18 750 nano per token; overhead 1 000 tokens
    expect(worstCaseNanos(bounds, 2000, fallback, fallback)).toBe((2000 + 1000) * 18_750 + 1000 * 75_000);
  });

  it("prices audio parts and audio output at the audio rates", () => {
    const bounds = requestBounds({
      max_tokens: 10,
      modalities: ["text", "audio"],
      messages: [{ content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] }],
    });
    expect(worstCaseNanos(bounds, 0, fallback, fallback)).toBe(1000 * 18_750 + 20000 * 100_000 + 10 * 200_000);
  });

  it("takes the fallback's output limit when a row has none", () => {
    const noLimit = { ...mini, maxOutputTokens: 0 };
    expect(worstCaseNanos(requestBounds({}), 0, noLimit, fallback)).toBe(32768 * 600);
  });
});
