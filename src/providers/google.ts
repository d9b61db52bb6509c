/**
 * Google Gemini: `:generateContent` and `:streamGenerateContent` (Gemini API
 * `/v1beta/models/{m}:…` and Vertex `…/publishers/google/models/{m}:…`), and
 * Gemini's OpenAI-compatible `/openai/chat/completions`.
 *
 * The model and the streaming are in the URL path, not the body. Usage is
 * `usageMetadata`: `promptTokenCount` includes the cached content and
 * excludes `toolUsePromptTokenCount`; `candidatesTokenCount` excludes
 * `thoughtsTokenCount`. Stream chunks carry cumulative snapshots, merged per
 * field (Vertex's interim chunks hold only `trafficType`), never summed; a
 * stream is complete at a chunk with `finishReason` and counts. Web searches
 * are the non-empty `groundingMetadata.webSearchQueries`.
 *
 * Not metered: `:countTokens` (free) and the embeddings methods, whose
 * responses carry no usage.
 */
import { lastObject, type SkimKeys, tryParse } from "../streams/json-scan.ts";
import type { Usage } from "../usage.ts";
import { count, isObj, obj, str } from "../util/json.ts";
import { type ChatDialect, openaiUsage, readChatStream } from "./openai.ts";
import type { Provider, Reading, StreamReader } from "./types.ts";
import { decodeSegment } from "./url-path.ts";

/** `…/models/{model}:method` or a tuned model's `…/endpoints/{id}:method`. */
const GENERATE = /\/(?:models|endpoints)\/([^/:]+):(generateContent|streamGenerateContent)$/;

/** The `tokenCount` of the `AUDIO` entry of a `…TokensDetails` list. */
function audioOf(details: unknown): number {
  if (!Array.isArray(details)) return 0;
  let n = 0;
  for (const entry of details) if (obj(entry).modality === "AUDIO") n += count(obj(entry).tokenCount);
  return n;
}

/**
 * What a `GenerateContentResponse` too large to keep is skimmed for: its
 * usage, model and id, all after its candidates.
 */
const GENERATE_KEYS: SkimKeys = { id: "responseId", model: "modelVersion", usage: "usageMetadata" };

/** Maps a Gemini `usageMetadata` object to exclusive `Usage` fields (web searches left at 0). */
export function geminiUsage(raw: unknown): Usage | undefined {
  if (!isObj(raw)) return undefined;
  const cached = count(raw.cachedContentTokenCount);
  const audioIn = Math.max(0, audioOf(raw.promptTokensDetails) - audioOf(raw.cacheTokensDetails));
  const audioOut = audioOf(raw.candidatesTokensDetails);
  const thoughts = count(raw.thoughtsTokenCount);
  return {
    inputTokens: Math.max(0, count(raw.promptTokenCount) - cached - audioIn) + count(raw.toolUsePromptTokenCount),
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
    audioInputTokens: audioIn,
    outputTokens: Math.max(0, count(raw.candidatesTokenCount) + thoughts - audioOut),
    audioOutputTokens: audioOut,
    reasoningTokens: thoughts,
    webSearchRequests: 0,
  };
}

/** True when a (merged) `usageMetadata` holds token counts, not only `trafficType`. */
function hasCounts(raw: Record<string, unknown>): boolean {
  return "promptTokenCount" in raw || "candidatesTokenCount" in raw || "totalTokenCount" in raw;
}

/** Copies the non-null fields of a `usageMetadata` snapshot over the merged one: the last value of each wins. */
function mergeUsage(into: Record<string, unknown>, snapshot: unknown): void {
  if (!isObj(snapshot)) return;
  for (const [key, value] of Object.entries(snapshot)) if (value !== null && value !== undefined) into[key] = value;
}

/**
 * The non-empty `webSearchQueries` of a response's first candidate (Google
 * ignores empty ones for billing), or undefined when it lists none: a later
 * chunk without queries leaves an earlier count as it was.
 */
function webSearches(candidates: unknown): number | undefined {
  if (!Array.isArray(candidates)) return undefined;
  const queries = obj(obj(candidates[0]).groundingMetadata).webSearchQueries;
  if (!Array.isArray(queries)) return undefined;
  let n = 0;
  for (const query of queries) if (str(query)) n++;
  return n > 0 ? n : undefined;
}

/**
 * Web searches as Google bills them: each query on Gemini 3 and later, one
 * per grounded prompt on Gemini 2.5 and older (provider-facts-more, 1.5).
 */
function billedSearches(queries: number, model: string | undefined): number {
  const major = Number(model?.match(/^gemini-(\d+)/)?.[1] ?? Number.NaN);
  return major >= 3 ? queries : Math.min(queries, 1);
}

/** Weighted characters of the generated parts of a response's candidates (text, thoughts, call arguments). */
function partsWeight(candidates: unknown): number {
  if (!Array.isArray(candidates)) return 0;
  let weight = 0;
  for (const candidate of candidates) {
    const parts = obj(obj(candidate).content).parts;
    if (!Array.isArray(parts)) continue;
    for (const part of parts) {
      const { text, functionCall } = obj(part);
      if (typeof text === "string") weight += textWeight(text);
      if (isObj(functionCall)) weight += textWeight(JSON.stringify(functionCall.args ?? {}));
    }
  }
  return weight;
}

/** An ASCII character weighs 1, any other UTF-16 unit 3 (the meter's estimate scale). */
function textWeight(text: string): number {
  let weight = 0;
  for (let i = 0; i < text.length; i++) weight += text.charCodeAt(i) < 128 ? 1 : 3;
  return weight;
}

/** `modelVersion` without a `models/` prefix. */
function modelOf(value: unknown): string | undefined {
  const model = str(value);
  return model?.startsWith("models/") ? model.slice(7) : model;
}

/** Accumulates `GenerateContentResponse`s: one JSON body, the elements of a JSON array, or stream chunks. */
function generateState() {
  const reading: Reading = { outputWeight: 0 };
  const merged: Record<string, unknown> = {};
  let sawUsage = false;
  let finished = false;
  let searches = 0;

  return {
    reading,
    take(response: Record<string, unknown>): void {
      reading.id ??= str(response.responseId);
      reading.model = modelOf(response.modelVersion) ?? reading.model;
      if (isObj(response.usageMetadata)) {
        sawUsage = true;
        mergeUsage(merged, response.usageMetadata);
      }
      const candidates = response.candidates;
      if (Array.isArray(candidates)) {
        for (const candidate of candidates) if (str(obj(candidate).finishReason) !== undefined) finished = true;
        searches = webSearches(candidates) ?? searches;
        reading.outputWeight += partsWeight(candidates);
      }
      if (str(obj(response.promptFeedback).blockReason) !== undefined) finished = true; // a blocked prompt ends here
    },
    /** The tail of a chunk too large to keep: its usage and whether it finished. */
    takeTail(tail: string, head: string, length: number): void {
      reading.outputWeight += length;
      const usage = lastObject(tail, '"usageMetadata"');
      if (isObj(usage)) {
        sawUsage = true;
        mergeUsage(merged, usage);
      }
      if (head.includes('"finishReason"') || tail.includes('"finishReason"')) finished = true;
    },
    /** Complete: the response finished and reported counts. */
    complete: () => finished && hasCounts(merged),
    /** Sets final usage (`final`) or what was reported so far. */
    settle(final: boolean): Reading {
      const usage = geminiUsage(merged);
      if (usage === undefined) return reading;
      usage.webSearchRequests = billedSearches(searches, reading.model);
      if (final ? sawUsage : finished && hasCounts(merged)) {
        reading.usage = usage;
        reading.partial = undefined;
      } else if (hasCounts(merged) || searches > 0) {
        reading.partial = usage;
      }
      return reading;
    },
  };
}

function readGenerateStream(): StreamReader {
  const state = generateState();
  return {
    event(data, dataLength, truncatedHead) {
      if (truncatedHead !== undefined) state.takeTail(data, truncatedHead, dataLength);
      else {
        const chunk = tryParse(data);
        if (isObj(chunk)) state.take(chunk);
      }
      return false;
    },
    get done() {
      return state.complete();
    },
    reading: () => state.settle(false),
  };
}

/**
 * Maps the usage of Gemini's OpenAI-compatible endpoint: `completion_tokens`
 * leaves thinking out while `total_tokens` counts it, so the difference is
 * added to output as reasoning.
 */
export function geminiCompatUsage(raw: unknown): Usage | undefined {
  const usage = openaiUsage(raw);
  if (usage === undefined || !isObj(raw)) return usage;
  const thinking = count(raw.total_tokens) - count(raw.prompt_tokens) - count(raw.completion_tokens);
  if (thinking > 0) {
    usage.outputTokens += thinking;
    usage.reasoningTokens = Math.max(usage.reasoningTokens, thinking);
  }
  return usage;
}

const GEMINI_COMPAT: ChatDialect = { usage: (chunk) => geminiCompatUsage(chunk.usage) };

/** The Google Gemini provider. */
export const google: Provider = {
  id: "google",
  endpoint(pathname) {
    if (GENERATE.test(pathname)) return "generate_content";
    if (pathname.endsWith("/openai/chat/completions")) return "chat.completions";
    return undefined;
  },
  // Gemini sends usage unasked: the request goes as it is (no `prepare`)
  describe(pathname) {
    const match = pathname.match(GENERATE);
    if (match === null) return undefined;
    return { requestedModel: decodeSegment(match[1] as string), stream: match[2] === "streamGenerateContent" };
  },
  errorBody: (type, message) => ({ error: { code: 402, message, status: type } }),
  requestId: () => undefined, // Gemini sends none; the body's `responseId` identifies the response
  // web searches are in the candidates: parsed whole, unless too large to keep
  jsonRead: (endpoint) => (endpoint === "generate_content" ? "whole" : "skim"),
  skimKeys: (endpoint) => (endpoint === "generate_content" ? GENERATE_KEYS : undefined),
  readJson(endpoint, json) {
    if (endpoint === "chat.completions") {
      const body = obj(json);
      return { id: str(body.id), model: str(body.model), usage: geminiCompatUsage(body.usage), outputWeight: 0 };
    }
    // `:streamGenerateContent` without `alt=sse` answers a JSON array of chunks
    const state = generateState();
    for (const response of Array.isArray(json) ? json : [json]) if (isObj(response)) state.take(response);
    const reading = state.settle(true);
    reading.outputWeight = 0;
    return reading;
  },
  readStream: (facts) =>
    facts.endpoint === "chat.completions" ? readChatStream(facts, GEMINI_COMPAT) : readGenerateStream(),
};
