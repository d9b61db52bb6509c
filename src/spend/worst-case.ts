/**
 * A call's worst-case cost, reckoned from its request before it is sent
 * (`stoa-api.md`, "Spend holds"). Input is bounded by the body's UTF-8 bytes
 * (a token is never shorter than one byte), plus the provider's unseen
 * overhead and an allowance per attachment; output by the request's own limit,
 * else the model's; web searches by the request's search limit.
 *
 * Request dialects differ only in where they put these limits, so one small
 * walk over the JSON body reads them all: OpenAI chat and Responses,
 * Anthropic messages, Gemini, Bedrock Converse, and the OpenAI-shaped hosts.
 */
import { type FallbackRates, type PriceRates, tokenNanos } from "./price-table.ts";

/** What the body asks for that bounds its cost. */
export interface RequestBounds {
  /** Output tokens the request allows per answer, when it sets a limit. */
  outputLimit: number | undefined;
  /** How many answers it asks for (`n`, `candidateCount`); at least 1. */
  answers: number;
  /** Whether it asks for audio output. */
  audioOutput: boolean;
  /** Image, file and document parts. */
  attachments: number;
  /** Audio parts. */
  audioAttachments: number;
  /** Server-side web searches it allows. */
  webSearches: number;
}

/** Searches assumed when a search tool is on with no limit (the contract's rule). */
export const DEFAULT_SEARCH_LIMIT = 10;

/** Part types that carry an image, file or document. */
const ATTACHMENT_TYPES = new Set(["image", "image_url", "input_image", "file", "input_file", "document"]);
/** Part types that carry audio. */
const AUDIO_TYPES = new Set(["input_audio", "audio"]);
/** Keys whose value is a request's own output limit, in every dialect we meter. */
const OUTPUT_LIMIT_KEYS = ["max_completion_tokens", "max_output_tokens", "max_tokens", "maxOutputTokens", "maxTokens"];

/** Objects and arrays of a body walked at most: a request is bounded before it reaches us, this bounds our walk too. */
const MAX_NODES = 100_000;
/**
 * The fewest bytes of JSON a part that counts as an attachment takes
 * (`{"type":"file"}`): past `MAX_NODES`, the unwalked rest of a body is
 * assumed to hold as many as its bytes allow, so that a cut walk never
 * under-reserves.
 */
const MIN_ATTACHMENT_BYTES = 15;

/**
 * Reads the cost bounds of a parsed JSON request body of `bodyBytes` UTF-8
 * bytes (which bound the attachments of a body too large to walk whole).
 */
export function requestBounds(body: Record<string, unknown>, bodyBytes = 0): RequestBounds {
  const generation = objectAt(body, "generationConfig") ?? objectAt(body, "generation_config");
  const inference = objectAt(body, "inferenceConfig");
  const outputLimit = limitOf(body) ?? (generation && limitOf(generation)) ?? (inference && limitOf(inference));
  const answers = Math.max(1, positiveInt(body.n) ?? positiveInt(generation?.candidateCount) ?? 1);
  const modalities = body.modalities ?? generation?.responseModalities;
  const audioOutput =
    (Array.isArray(modalities) && modalities.some((m) => typeof m === "string" && m.toLowerCase() === "audio")) ||
    isObject(body.audio);

  let attachments = 0;
  let audioAttachments = 0;
  let nodes = 0;
  const stack: unknown[] = [body.messages, body.input, body.contents, body.system, body.instructions];
  while (stack.length > 0 && nodes++ < MAX_NODES) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      // only objects and arrays are walked: a long array of numbers (token ids) costs no nodes
      for (const item of value) if (typeof item === "object" && item !== null) stack.push(item);
      continue;
    }
    if (!isObject(value)) continue;
    const kind = partKind(value);
    if (kind === "audio") audioAttachments++;
    else if (kind === "attachment") attachments++;
    for (const key in value) {
      const item = value[key];
      if (typeof item === "object" && item !== null) stack.push(item);
    }
  }
  if (stack.length > 0) attachments += Math.floor(bodyBytes / MIN_ATTACHMENT_BYTES); // cut short: assume the most
  return { outputLimit, answers, audioOutput, attachments, audioAttachments, webSearches: webSearchesOf(body) };
}

/**
 * The worst case of a call in nano-dollars, under `rates` (the model's row,
 * or `fallback` when it has none; the fallback's `attachmentTokens` is the
 * allowance per attachment either way). A row's missing `maxOutputTokens`
 * takes the fallback's: a row may not make an unbounded call free.
 */
export function worstCaseNanos(
  bounds: RequestBounds,
  bodyBytes: number,
  rates: PriceRates,
  fallback: FallbackRates,
): number {
  const inputRate = Math.max(rates.inputPerMTok, rates.cacheReadPerMTok, rates.cacheWritePerMTok);
  const textInput = bodyBytes + rates.requestOverheadTokens + fallback.attachmentTokens * bounds.attachments;
  const audioInput = fallback.attachmentTokens * bounds.audioAttachments;
  const modelLimit = rates.maxOutputTokens > 0 ? rates.maxOutputTokens : fallback.maxOutputTokens;
  const output = (bounds.outputLimit ?? modelLimit) * bounds.answers;
  const outputRate = bounds.audioOutput ? Math.max(rates.audioOutputPerMTok, rates.outputPerMTok) : rates.outputPerMTok;
  const nanos =
    tokenNanos(textInput, inputRate) +
    tokenNanos(audioInput, rates.audioInputPerMTok) +
    tokenNanos(output, outputRate) +
    bounds.webSearches * rates.webSearchPerCall * 1e9;
  return Math.min(Math.ceil(nanos), Number.MAX_SAFE_INTEGER);
}

/** `attachment`, `audio`, or undefined for a part that carries neither. */
function partKind(part: Record<string, unknown>): "attachment" | "audio" | undefined {
  const type = part.type;
  if (typeof type === "string") {
    if (AUDIO_TYPES.has(type)) return "audio";
    if (ATTACHMENT_TYPES.has(type)) return "attachment";
    return undefined;
  }
  // Gemini: { inlineData: { mimeType, data } } or { fileData: { mimeType, fileUri } }
  const data = objectAt(part, "inlineData") ?? objectAt(part, "inline_data") ?? objectAt(part, "fileData");
  if (data !== undefined) {
    const mime = data.mimeType ?? data.mime_type;
    return typeof mime === "string" && mime.startsWith("audio/") ? "audio" : "attachment";
  }
  // Bedrock Converse: { image: { format, source } }, { document: … }, { video: … }
  for (const key of ["image", "document", "video"]) {
    const block = objectAt(part, key);
    if (block !== undefined && isObject(block.source)) return "attachment";
  }
  return undefined;
}

/** The web searches a request allows: each search tool's `max_uses`, or 10 when it sets none. */
function webSearchesOf(body: Record<string, unknown>): number {
  let searches = 0;
  if (isObject(body.web_search_options)) searches += DEFAULT_SEARCH_LIMIT; // OpenAI chat search models
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      if (!isObject(tool)) continue;
      const type = typeof tool.type === "string" ? tool.type : "";
      const search =
        type.startsWith("web_search") ||
        isObject(tool.googleSearch) ||
        isObject(tool.google_search) ||
        isObject(tool.googleSearchRetrieval) ||
        isObject(tool.google_search_retrieval);
      if (search) searches += positiveInt(tool.max_uses) ?? DEFAULT_SEARCH_LIMIT;
    }
  }
  return searches;
}

function limitOf(object: Record<string, unknown>): number | undefined {
  for (const key of OUTPUT_LIMIT_KEYS) {
    const limit = positiveInt(object[key]);
    if (limit !== undefined) return limit;
  }
  return undefined;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectAt(object: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = object[key];
  return isObject(value) ? value : undefined;
}
