/**
 * OpenAI: chat completions, Responses and embeddings. The chat stream reader
 * is shared with OpenAI-shaped providers (OpenRouter).
 */
import { deltaWeight, lastObject, lastObjectValue, tryParse } from "../streams/json-scan.ts";
import { emptyUsage, type Usage } from "../usage.ts";
import { count, isObj, money, obj, str } from "../util/json.ts";
import type { PreparedBody, Provider, Reading, RequestFacts, StreamReader } from "./types.ts";

/** Maps an OpenAI `usage` object (chat or Responses naming) to exclusive `Usage` fields. */
export function openaiUsage(raw: unknown): Usage | undefined {
  if (!isObj(raw)) return undefined;
  const chat = "prompt_tokens" in raw || "completion_tokens" in raw;
  const input = count(chat ? raw.prompt_tokens : raw.input_tokens);
  const output = count(chat ? raw.completion_tokens : raw.output_tokens);
  const inDetails = obj(chat ? raw.prompt_tokens_details : raw.input_tokens_details);
  const outDetails = obj(chat ? raw.completion_tokens_details : raw.output_tokens_details);
  const cached = count(inDetails.cached_tokens);
  const cacheWrite = count(inDetails.cache_write_tokens);
  const audioIn = count(inDetails.audio_tokens);
  const audioOut = count(outDetails.audio_tokens);
  return {
    inputTokens: Math.max(0, input - cached - cacheWrite - audioIn),
    cacheReadTokens: cached,
    cacheWriteTokens: cacheWrite,
    audioInputTokens: audioIn,
    outputTokens: Math.max(0, output - audioOut),
    audioOutputTokens: audioOut,
    reasoningTokens: count(outDetails.reasoning_tokens),
    webSearchRequests: 0,
  };
}

/** Embeddings bill input only: `prompt_tokens`, or `total_tokens` when that is all there is. */
function embeddingsUsage(raw: unknown): Usage | undefined {
  if (!isObj(raw)) return undefined;
  const usage = emptyUsage();
  usage.inputTokens = count("prompt_tokens" in raw ? raw.prompt_tokens : raw.total_tokens);
  return usage;
}

/** Counts the `web_search_call` items of a Responses `output`, each once. */
function webSearches(output: unknown): number {
  if (!Array.isArray(output)) return 0;
  let n = 0;
  for (const item of output) if (obj(item).type === "web_search_call") n++;
  return n;
}

/** Adds `stream_options.include_usage` to a chat stream request that lacks it. */
export function prepareChat(facts: Readonly<RequestFacts>, text: string): PreparedBody | undefined {
  if (!facts.stream || facts.endpoint !== "chat.completions") return undefined;
  const options = facts.body.stream_options;
  if (isObj(options) && options.include_usage === true) return undefined;
  if (options === undefined) {
    // no key to replace: insert one, leaving the app's bytes as they are
    const brace = text.indexOf("{");
    const body = `${text.slice(0, brace + 1)}"stream_options":{"include_usage":true},${text.slice(brace + 1)}`;
    return { text: body, injectedUsage: true };
  }
  // `null` or an object without include_usage: replace that key (a second one would leave the provider to pick)
  const body = JSON.stringify({ ...facts.body, stream_options: { ...obj(options), include_usage: true } });
  return { text: body, injectedUsage: true };
}

/** The OpenAI error envelope, shared by OpenAI-shaped providers. */
export function openaiErrorBody(type: string, message: string): unknown {
  return { error: { message, type, code: type, param: null } };
}

/**
 * How an OpenAI-shaped host reports a chat chunk's (or body's) usage: its
 * mapping to `Usage`, and the cost it reports, if any.
 */
export interface ChatDialect {
  /** The final usage a chunk or body carries, or undefined. */
  usage(chunk: Record<string, unknown>): Usage | undefined;
  /** The cost in USD a chunk or body carrying usage reports, or undefined. */
  costUsd?(chunk: Record<string, unknown>): number | undefined;
}

const OPENAI_CHAT: ChatDialect = { usage: (chunk) => openaiUsage(chunk.usage) };
const OPENAI_CHAT_WITH_COST: ChatDialect = {
  usage: (chunk) => openaiUsage(chunk.usage),
  costUsd: (chunk) => reportedCost(chunk.usage),
};

/**
 * The cost in USD a `usage` object reports (OpenRouter's `usage.cost`). With
 * the app's own provider key (`is_byok: true`) `cost` is only the router's
 * fee, and the provider's charge is `cost_details.upstream_inference_cost`:
 * the call cost both.
 */
export function reportedCost(raw: unknown): number | undefined {
  const usage = obj(raw);
  const cost = money(usage.cost);
  if (cost === undefined || usage.is_byok !== true) return cost;
  const upstream = money(obj(usage.cost_details).upstream_inference_cost);
  // summed in nano-dollars, the precision of the contract's money: 0.0005 + 0.0105 is 0.011, not 0.011000000000000001
  return upstream === undefined ? cost : money(Math.round(cost * 1e9 + upstream * 1e9) / 1e9);
}

/**
 * Reads a chat completions SSE stream (OpenAI shape). `dialect` is `true` for
 * OpenAI's usage plus `usage.cost` (OpenRouter), `false` for OpenAI's, or a
 * host's own mapping.
 */
export function readChatStream(facts: RequestFacts, dialect: boolean | ChatDialect): StreamReader {
  const host = dialect === true ? OPENAI_CHAT_WITH_COST : dialect === false ? OPENAI_CHAT : dialect;
  const reading: Reading = { outputWeight: 0 };
  let done = false;
  let first = true;

  function take(chunk: Record<string, unknown>): void {
    const usage = host.usage(chunk);
    if (usage !== undefined) {
      reading.usage = usage; // a usage chunk sent twice: the last wins, never summed
      if (host.costUsd !== undefined) reading.costUsd = host.costUsd(chunk);
    }
    reading.model = str(chunk.model) ?? reading.model;
    reading.id ??= str(chunk.id);
  }

  return {
    event(data, dataLength, truncatedHead) {
      if (truncatedHead !== undefined) {
        // too large to keep: count its length as content, and look for usage at its end
        reading.outputWeight += dataLength;
        const usage = lastObject(data, '"usage"');
        if (usage !== undefined) take({ usage });
        return false;
      }
      if (data === "[DONE]") {
        done = true;
        return false;
      }
      if (first || lastObjectValue(data, '"usage"') !== -1) {
        first = false;
        const chunk = tryParse(data);
        if (!isObj(chunk)) return false;
        take(chunk);
        if (chunk.usage !== undefined && chunk.usage !== null) {
          const choices = chunk.choices;
          // hide the usage-only chunk the app did not ask for
          return facts.injectedUsage && Array.isArray(choices) && choices.length === 0;
        }
      }
      reading.outputWeight += deltaWeight(data);
      return false;
    },
    get done() {
      return done;
    },
    reading: () => reading,
  };
}

const TERMINAL = ['"response.completed"', '"response.incomplete"', '"response.failed"'];

/** Reads a Responses SSE stream: usage only arrives on the terminal event. */
function readResponsesStream(): StreamReader {
  const reading: Reading = { outputWeight: 0 };
  const searches = new Set<string>();
  let done = false;
  let first = true;

  function takeResponse(response: Record<string, unknown>, terminal: boolean): void {
    reading.id ??= str(response.id);
    reading.model = str(response.model) ?? reading.model;
    if (!terminal) return;
    const usage = openaiUsage(response.usage);
    if (usage === undefined) return;
    const counted = webSearches(response.output);
    usage.webSearchRequests = Math.max(counted, searches.size);
    reading.usage = usage;
    done = true;
  }

  return {
    event(data, dataLength, truncatedHead) {
      if (truncatedHead !== undefined) {
        // too large to keep: a terminal event carries the usage at its end; anything else is content
        if (TERMINAL.some((type) => truncatedHead.includes(type)))
          takeResponse({ usage: lastObject(data, '"usage"') }, true);
        else reading.outputWeight += dataLength;
        return false;
      }
      if (first || lastObjectValue(data, '"usage"') !== -1) {
        first = false;
        const event = obj(tryParse(data));
        const response = obj(event.response);
        takeResponse(response, typeof event.type === "string" && TERMINAL.includes(`"${event.type}"`));
        return false;
      }
      if (data.startsWith('{"type":"response.output_item.done"')) {
        // a finished web search counts even if the stream never completes
        const item = obj(obj(tryParse(data)).item);
        if (item.type === "web_search_call" && typeof item.id === "string") searches.add(item.id);
        return false;
      }
      reading.outputWeight += deltaWeight(data);
      return false;
    },
    get done() {
      return done;
    },
    reading() {
      if (reading.usage === undefined && searches.size > 0) {
        reading.partial = { webSearchRequests: searches.size };
      }
      return reading;
    },
  };
}

/** The OpenAI provider. */
export const openai: Provider = {
  id: "openai",
  endpoint(pathname) {
    if (pathname.endsWith("/chat/completions")) return "chat.completions";
    if (pathname.endsWith("/responses")) return "responses";
    if (pathname.endsWith("/embeddings")) return "embeddings";
    return undefined;
  },
  prepare: prepareChat,
  requestId: (headers) => headers.get("x-request-id") ?? undefined,
  errorBody: openaiErrorBody,
  // a Responses body is parsed whole: its web searches are counted in `output`
  jsonRead: (endpoint) => (endpoint === "responses" ? "whole" : "skim"),
  readJson(endpoint, json) {
    const body = obj(json);
    const reading: Reading = { id: str(body.id), model: str(body.model), outputWeight: 0 };
    if (endpoint === "embeddings") {
      reading.usage = embeddingsUsage(body.usage);
    } else {
      reading.usage = openaiUsage(body.usage);
      if (reading.usage !== undefined && endpoint === "responses") {
        reading.usage.webSearchRequests = webSearches(body.output);
      }
    }
    return reading;
  },
  readStream(facts) {
    return facts.endpoint === "responses" ? readResponsesStream() : readChatStream(facts, false);
  },
};
