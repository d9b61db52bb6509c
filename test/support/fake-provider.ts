/**
 * The fake AI provider: OpenAI (chat completions, responses, embeddings),
 * Anthropic (messages, count_tokens) and OpenRouter (chat completions),
 * speaking each one's wire format, with options that bend the stream the
 * ways real networks and providers do. Web APIs only inside the handler.
 *
 * URL scheme: `/p/<runId>/<opts>/<api path>`, where `<opts>` is `default` or a
 * comma list of `key` / `key=value` (values URL-encoded), and `<api path>` is
 * the provider's own path (`v1/chat/completions`, `v1/responses`,
 * `v1/embeddings`, `v1/messages`, `v1/messages/count_tokens`,
 * `api/v1/chat/completions` for OpenRouter). Also:
 * - `GET /p/<runId>/__requests`: the recorded requests of that run (JSON)
 * - `GET /p/__fixtures/english`: `{ text, tokens }` of the English paragraph
 *
 * Options:
 * - `status=<code>`      answer that HTTP error in the provider's error envelope (`retry-after: 0` for 429/5xx)
 * - `chunk=<n>`          split the SSE bytes into n-byte chunks (default: one event per chunk)
 * - `crlf` / `cr`        `\r\n` / bare `\r` line ends
 * - `bom`                a UTF-8 BOM first
 * - `comments`           `: keep-alive` comment blocks between events
 * - `multiline`          each JSON data payload split over two `data:` lines (outside strings)
 * - `text=hello|unicode|english`  the text: "Hello" + "!" (default), "héllo wörld 你好 🎉" in 6 deltas, or the English paragraph
 * - `events=<n>`         n text deltas of ~4 characters, cycling through the English paragraph
 * - `delay=<ms>`         wait between events
 * - `cut=<k>`            error the body (network cut, socket destroyed) after k events
 * - `error`              the provider's mid-stream error event after the first content delta, then the end; no usage
 * - `nousage`            never send usage
 * - `noblank`            no blank line after the last event
 * - `twice`              the usage chunk twice (OpenAI chat, OpenRouter)
 * - `huge=<bytes>`       one extra ASCII text delta of that many bytes, before the usage event
 * - `websearch=<n>`      n `web_search_call` output items (Responses)
 * - `tools`              tool-call deltas only, no text
 * - `usage=<json>`       the usage object, verbatim (Anthropic: in `message_start` and `message_delta`)
 * - `startusage=<json>`  Anthropic only: the `message_start` usage, verbatim
 * - `emptychoices`       OpenRouter: the usage chunk has `choices: []` instead of one empty-delta choice
 * - `stall=<bytes>`      JSON only: the body's first 16 bytes, then that many spaces, then it never ends
 */
import { decode, encode } from "gpt-tokenizer/encoding/o200k_base";
import { ENGLISH_TEXT } from "./english.ts";

/** How a recorded request ended. `pending` only while the body is still streaming. */
export type RequestOutcome = "completed" | "cancelled" | "cut" | "pending";

/** One request the fake received under `/p/<runId>/…`. */
export interface RecordedRequest {
  /** 1-based, per run; also the `<n>` in the ids of the response. */
  seq: number;
  method: string;
  /** The api path, e.g. `v1/chat/completions` (plus `?query` if any). */
  path: string;
  /** The options segment as sent (`default` or the comma list). */
  opts: string;
  headers: Record<string, string>;
  body: string;
  outcome: RequestOutcome;
}

/** The fixed `created` timestamp of every response. */
export const CREATED = 1767225600;

type TextMode = "hello" | "unicode" | "english";

interface Options {
  status?: number;
  chunk?: number;
  eol: string;
  bom: boolean;
  comments: boolean;
  multiline: boolean;
  text: TextMode;
  events?: number;
  delay: number;
  cut?: number;
  error: boolean;
  nousage: boolean;
  noblank: boolean;
  twice: boolean;
  huge?: number;
  websearch: number;
  tools: boolean;
  usage?: unknown;
  startusage?: unknown;
  emptychoices: boolean;
  stall?: number;
}

type Api = "chat" | "responses" | "embeddings" | "messages" | "count_tokens" | "openrouter";
type Family = "openai" | "anthropic" | "openrouter";

const API_PATHS: Record<string, Api> = {
  "v1/chat/completions": "chat",
  "v1/responses": "responses",
  "v1/embeddings": "embeddings",
  "v1/messages": "messages",
  "v1/messages/count_tokens": "count_tokens",
  "api/v1/chat/completions": "openrouter",
};

const FAMILY: Record<Api, Family> = {
  chat: "openai",
  responses: "openai",
  embeddings: "openai",
  messages: "anthropic",
  count_tokens: "anthropic",
  openrouter: "openrouter",
};

class OptionError extends Error {}

/** One request's context: ids, options, parsed body. */
interface Ctx {
  runId: string;
  n: number;
  opts: Options;
  body: Record<string, unknown>;
  record: RecordedRequest;
}

interface Run {
  seq: number;
  requests: RecordedRequest[];
}

/** Creates the fake provider handler; its state (runs, recordings) lives in the closure. */
export function createFakeProvider(): (req: Request) => Promise<Response> {
  const runs = new Map<string, Run>();

  return async function fakeProvider(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const parts = url.pathname.split("/");
    // ["", "p", runId, opts, ...apiPath]
    const runId = parts[2] ?? "";
    if (parts[1] !== "p" || runId === "") return openaiError(404, "fake provider: expected /p/<runId>/…", {});

    if (runId === "__fixtures" && parts[3] === "english") {
      const { tokens } = english();
      return json({ text: ENGLISH_TEXT, tokens }, {});
    }
    if (parts[3] === "__requests" && parts.length === 4) {
      const run = runs.get(runId);
      await settle(run);
      return json(run?.requests ?? [], {});
    }

    let run = runs.get(runId);
    if (run === undefined) {
      run = { seq: 0, requests: [] };
      runs.set(runId, run);
    }
    const n = ++run.seq;
    const optsRaw = parts[3] ?? "";
    const apiPath = parts.slice(4).join("/");
    const bodyText = await req.text();
    const headers: Record<string, string> = {};
    req.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const record: RecordedRequest = {
      seq: n,
      method: req.method,
      path: apiPath + url.search,
      opts: optsRaw,
      headers,
      body: bodyText,
      outcome: "pending",
    };
    run.requests.push(record);

    const api = API_PATHS[apiPath];
    if (api === undefined) {
      record.outcome = "completed";
      return openaiError(404, `fake provider: unknown api path ${JSON.stringify(apiPath)}`, reqIdHeader(runId, n));
    }
    const family = FAMILY[api];
    let opts: Options;
    try {
      opts = parseOptions(optsRaw);
    } catch (error) {
      record.outcome = "completed";
      return errorResponse(family, 400, (error as Error).message, runId, n);
    }
    if (opts.status !== undefined) {
      record.outcome = "completed";
      return errorResponse(family, opts.status, defaultErrorMessage(opts.status), runId, n);
    }
    let body: Record<string, unknown> = {};
    if (bodyText !== "") {
      try {
        const parsed: unknown = JSON.parse(bodyText);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
          body = parsed as Record<string, unknown>;
        }
      } catch {
        record.outcome = "completed";
        return errorResponse(family, 400, "fake provider: the request body is not JSON", runId, n);
      }
    }

    const ctx: Ctx = { runId, n, opts, body, record };
    const streamed = body.stream === true && api !== "embeddings" && api !== "count_tokens";
    if (!streamed) {
      if (opts.stall !== undefined) return stalled(jsonFor(api, ctx), opts.stall, record);
      record.outcome = "completed";
      return jsonFor(api, ctx);
    }
    const events = sseFor(api, ctx);
    const headersOut: Record<string, string> = {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      ...idHeaders(family, runId, n),
    };
    return new Response(sseBody(events, ctx), { status: 200, headers: headersOut });
  };
}

/** Waits up to 200 ms for the run's in-flight requests to reach an outcome. */
async function settle(run: Run | undefined): Promise<void> {
  if (run === undefined) return;
  const deadline = Date.now() + 200;
  while (run.requests.some((r) => r.outcome === "pending") && Date.now() < deadline) {
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------
// Options

function parseOptions(raw: string): Options {
  const opts: Options = {
    eol: "\n",
    bom: false,
    comments: false,
    multiline: false,
    text: "hello",
    delay: 0,
    error: false,
    nousage: false,
    noblank: false,
    twice: false,
    websearch: 0,
    tools: false,
    emptychoices: false,
  };
  if (raw === "default" || raw === "") return opts;
  for (const item of raw.split(",")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = decodeURIComponent(eq === -1 ? item : item.slice(0, eq));
    const value = eq === -1 ? undefined : decodeURIComponent(item.slice(eq + 1));
    const int = (min: number): number => {
      const v = Number(value);
      if (value === undefined || !Number.isInteger(v) || v < min) {
        throw new OptionError(`fake provider: option ${key} needs an integer >= ${min}, got ${String(value)}`);
      }
      return v;
    };
    const flag = (): true => {
      if (value !== undefined) throw new OptionError(`fake provider: option ${key} takes no value`);
      return true;
    };
    const jsonValue = (): unknown => {
      try {
        return JSON.parse(value ?? "");
      } catch {
        throw new OptionError(`fake provider: option ${key} needs URL-encoded JSON`);
      }
    };
    switch (key) {
      case "status":
        opts.status = int(100);
        break;
      case "chunk":
        opts.chunk = int(1);
        break;
      case "crlf":
        opts.eol = flag() && "\r\n";
        break;
      case "cr":
        opts.eol = flag() && "\r";
        break;
      case "bom":
      case "comments":
      case "multiline":
      case "error":
      case "nousage":
      case "noblank":
      case "twice":
      case "tools":
      case "emptychoices":
        opts[key] = flag();
        break;
      case "text":
        if (value !== "hello" && value !== "unicode" && value !== "english") {
          throw new OptionError(`fake provider: text must be hello, unicode or english, got ${String(value)}`);
        }
        opts.text = value;
        break;
      case "events":
        opts.events = int(1);
        break;
      case "delay":
        opts.delay = int(0);
        break;
      case "cut":
        opts.cut = int(0);
        break;
      case "huge":
        opts.huge = int(1);
        break;
      case "websearch":
        opts.websearch = int(0);
        break;
      case "usage":
        opts.usage = jsonValue();
        break;
      case "startusage":
        opts.startusage = jsonValue();
        break;
      case "stall":
        opts.stall = int(0);
        break;
      default:
        throw new OptionError(`fake provider: unknown option ${JSON.stringify(key)}`);
    }
  }
  return opts;
}

// ---------------------------------------------------------------------------
// Content

const UNICODE_DELTAS = ["hé", "llo wö", "rld ", "你", "好 ", "🎉"];
const TOOL_NAME = "get_weather";
const TOOL_ARG_DELTAS = ['{"city', '": "Par', 'is", "unit"', ': "celsius"}'];

let englishCache: { pieces: string[]; tokens: number } | undefined;

/** The English paragraph in token-sized pieces, and its o200k token count. */
function english(): { pieces: string[]; tokens: number } {
  if (englishCache === undefined) {
    const ids = encode(ENGLISH_TEXT);
    englishCache = { pieces: ids.map((id) => decode([id])), tokens: ids.length };
  }
  return englishCache;
}

/** The text deltas of a response (empty with `tools`). */
function textDeltas(opts: Options): string[] {
  if (opts.tools) return [];
  let deltas: string[];
  if (opts.events !== undefined) {
    deltas = [];
    const length = ENGLISH_TEXT.length;
    for (let i = 0; i < opts.events; i++) {
      const start = (i * 4) % length;
      deltas.push(ENGLISH_TEXT.slice(start, start + 4));
    }
  } else if (opts.text === "english") {
    deltas = english().pieces;
  } else if (opts.text === "unicode") {
    deltas = UNICODE_DELTAS;
  } else {
    deltas = ["Hello", "!"];
  }
  if (opts.huge !== undefined) deltas = [...deltas, hugeText(opts.huge)];
  return deltas;
}

function hugeText(bytes: number): string {
  const pattern = "abcdefghijklmnopqrstuvwxyz0123456789 ";
  return pattern.repeat(Math.ceil(bytes / pattern.length)).slice(0, bytes);
}

/** Output tokens to report: the true count for `text=english`, else the fixed value. */
function outputTokens(opts: Options, fixed: number): number {
  return opts.text === "english" && opts.events === undefined && !opts.tools ? english().tokens : fixed;
}

function requestedModel(ctx: Ctx, fallback: string): string {
  return typeof ctx.body.model === "string" ? ctx.body.model : fallback;
}

function openaiModel(ctx: Ctx): string {
  return `${requestedModel(ctx, "gpt-4o-mini")}-2024-07-18`;
}

// ---------------------------------------------------------------------------
// Usage

function chatUsage(opts: Options): unknown {
  if (opts.usage !== undefined) return opts.usage;
  const english = opts.text === "english" && opts.events === undefined && !opts.tools;
  const completion = outputTokens(opts, 300);
  return {
    prompt_tokens: 1200,
    completion_tokens: completion,
    total_tokens: 1200 + completion,
    prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: english ? 0 : 128,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function responsesUsage(opts: Options): unknown {
  if (opts.usage !== undefined) return opts.usage;
  const english = opts.text === "english" && opts.events === undefined && !opts.tools;
  const output = outputTokens(opts, 400);
  return {
    input_tokens: 2048,
    input_tokens_details: { cached_tokens: 1536 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: english ? 0 : 256 },
    total_tokens: 2048 + output,
  };
}

function anthropicUsage(opts: Options): Record<string, unknown> {
  if (opts.usage !== undefined) return opts.usage as Record<string, unknown>;
  return {
    input_tokens: 25,
    cache_creation_input_tokens: 1200,
    cache_read_input_tokens: 3400,
    cache_creation: { ephemeral_5m_input_tokens: 1200, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens(opts, 12),
    server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
    service_tier: "standard",
  };
}

function anthropicStartUsage(opts: Options): unknown {
  if (opts.startusage !== undefined) return opts.startusage;
  if (opts.usage !== undefined) return opts.usage;
  return {
    input_tokens: 25,
    cache_creation_input_tokens: 1200,
    cache_read_input_tokens: 3400,
    cache_creation: { ephemeral_5m_input_tokens: 1200, ephemeral_1h_input_tokens: 0 },
    output_tokens: 1,
    service_tier: "standard",
  };
}

function anthropicDeltaUsage(opts: Options): unknown {
  if (opts.usage !== undefined) return opts.usage;
  return {
    input_tokens: 25,
    cache_creation_input_tokens: 1200,
    cache_read_input_tokens: 3400,
    output_tokens: outputTokens(opts, 12),
    server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
  };
}

function openrouterUsage(opts: Options): unknown {
  if (opts.usage !== undefined) return opts.usage;
  const completion = outputTokens(opts, 3);
  return {
    prompt_tokens: 14,
    completion_tokens: completion,
    total_tokens: 14 + completion,
    cost: 0.0000039,
    is_byok: false,
    prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0, audio_tokens: 0, video_tokens: 0 },
    cost_details: {
      upstream_inference_cost: 0.0000039,
      upstream_inference_prompt_cost: 0.0000021,
      upstream_inference_completions_cost: 0.0000018,
    },
    completion_tokens_details: { reasoning_tokens: 0, image_tokens: 0, audio_tokens: 0 },
  };
}

// ---------------------------------------------------------------------------
// Ids and headers

function reqIdHeader(runId: string, n: number): Record<string, string> {
  return { "x-request-id": `req_${runId}_${n}` };
}

function idHeaders(family: Family, runId: string, n: number): Record<string, string> {
  if (family === "anthropic") return { "request-id": `req_${runId}_${n}` };
  if (family === "openrouter") return { "x-generation-id": `gen-${runId}-${n}` };
  return reqIdHeader(runId, n);
}

const ids = {
  chat: (c: Ctx) => `chatcmpl-${c.runId}-${c.n}`,
  gen: (c: Ctx) => `gen-${c.runId}-${c.n}`,
  resp: (c: Ctx) => `resp_${c.runId}_${c.n}`,
  respMsg: (c: Ctx) => `msg_${c.runId}_${c.n}`,
  respFn: (c: Ctx) => `fc_${c.runId}_${c.n}`,
  webSearch: (c: Ctx, i: number) => `ws_${c.runId}_${c.n}_${i}`,
  call: (c: Ctx) => `call_${c.runId}_${c.n}`,
  msg: (c: Ctx) => `msg_${c.runId}_${c.n}`,
  toolu: (c: Ctx) => `toolu_${c.runId}_${c.n}`,
};

// ---------------------------------------------------------------------------
// Errors

function defaultErrorMessage(status: number): string {
  if (status === 429) return "Rate limit reached (fake provider).";
  if (status >= 500) return "The server had an error while processing your request (fake provider).";
  return `Fake provider error ${status}.`;
}

function retryHeaders(status: number): Record<string, string> {
  return status === 429 || status >= 500 ? { "retry-after": "0" } : {};
}

function errorResponse(family: Family, status: number, message: string, runId: string, n: number): Response {
  const headers = { ...idHeaders(family, runId, n), ...retryHeaders(status) };
  if (family === "anthropic") {
    return json(
      { type: "error", error: { type: anthropicErrorType(status), message }, request_id: `req_${runId}_${n}` },
      headers,
      status,
    );
  }
  if (family === "openrouter") return json({ error: { code: status, message, metadata: {} } }, headers, status);
  return openaiError(status, message, headers);
}

function openaiError(status: number, message: string, headers: Record<string, string>): Response {
  let type = "invalid_request_error";
  let code: string | null = null;
  if (status === 401) code = "invalid_api_key";
  else if (status === 403) type = "permission_error";
  else if (status === 404) code = "not_found";
  else if (status === 429) {
    type = "requests";
    code = "rate_limit_exceeded";
  } else if (status >= 500) type = "server_error";
  return json({ error: { message, type, param: null, code } }, headers, status);
}

function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

// ---------------------------------------------------------------------------
// JSON bodies

function json(value: unknown, headers: Record<string, string>, status = 200): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return new Response(bytes, {
    status,
    headers: { "content-type": "application/json", "content-length": String(bytes.byteLength), ...headers },
  });
}

/** `response` with a body that stops after its first 16 bytes and `spaces` spaces, and never ends (`stall`). */
function stalled(response: Response, spaces: number, record: RecordedRequest): Response {
  let sent = false;
  let left = spaces;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(new Uint8Array(await response.arrayBuffer()).slice(0, 16));
        } else if (left > 0) {
          const size = Math.min(left, 64 * 1024);
          left -= size;
          controller.enqueue(new Uint8Array(size).fill(32));
        } else await new Promise<never>(() => {});
      },
      cancel() {
        record.outcome = "cancelled";
      },
    },
    { highWaterMark: 0 },
  );
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response(body, { status: response.status, headers });
}

function jsonFor(api: Api, c: Ctx): Response {
  const o = c.opts;
  const text = textDeltas(o).join("");
  const args = TOOL_ARG_DELTAS.join("");
  switch (api) {
    case "chat":
      return json(
        {
          id: ids.chat(c),
          object: "chat.completion",
          created: CREATED,
          model: openaiModel(c),
          choices: [
            {
              index: 0,
              message: o.tools
                ? {
                    role: "assistant",
                    content: null,
                    tool_calls: [{ id: ids.call(c), type: "function", function: { name: TOOL_NAME, arguments: args } }],
                    refusal: null,
                    annotations: [],
                  }
                : { role: "assistant", content: text, refusal: null, annotations: [] },
              logprobs: null,
              finish_reason: o.tools ? "tool_calls" : "stop",
            },
          ],
          ...(o.nousage ? {} : { usage: chatUsage(o) }),
          service_tier: "default",
          system_fingerprint: "fp_fake",
        },
        reqIdHeader(c.runId, c.n),
      );
    case "openrouter":
      return json(
        {
          id: ids.gen(c),
          provider: "OpenAI",
          model: requestedModel(c, "openai/gpt-4o-mini"),
          object: "chat.completion",
          created: CREATED,
          choices: [
            {
              logprobs: null,
              finish_reason: o.tools ? "tool_calls" : "stop",
              native_finish_reason: o.tools ? "tool_calls" : "stop",
              index: 0,
              message: o.tools
                ? {
                    role: "assistant",
                    content: "",
                    refusal: null,
                    reasoning: null,
                    tool_calls: [
                      { id: ids.call(c), type: "function", index: 0, function: { name: TOOL_NAME, arguments: args } },
                    ],
                  }
                : { role: "assistant", content: text, refusal: null, reasoning: null },
            },
          ],
          ...(o.nousage ? {} : { usage: openrouterUsage(o) }),
        },
        idHeaders("openrouter", c.runId, c.n),
      );
    case "responses":
      return json(
        responseObject(c, "completed", [...webSearchItems(c, "completed"), outputItem(c, "completed", text)], true),
        reqIdHeader(c.runId, c.n),
      );
    case "embeddings":
      return json(embeddings(c), reqIdHeader(c.runId, c.n));
    case "messages":
      return json(
        {
          id: ids.msg(c),
          type: "message",
          role: "assistant",
          model: requestedModel(c, "claude-sonnet-5"),
          content: o.tools
            ? [{ type: "tool_use", id: ids.toolu(c), name: TOOL_NAME, input: JSON.parse(args) }]
            : [{ type: "text", text }],
          stop_reason: o.tools ? "tool_use" : "end_turn",
          stop_sequence: null,
          ...(o.nousage ? {} : { usage: anthropicUsage(o) }),
        },
        idHeaders("anthropic", c.runId, c.n),
      );
    case "count_tokens":
      return json({ input_tokens: 25 }, idHeaders("anthropic", c.runId, c.n));
  }
}

function embeddings(c: Ctx): unknown {
  const input = c.body.input;
  let count = 1;
  if (Array.isArray(input) && input.length > 0 && typeof input[0] !== "number") count = input.length;
  const dims = typeof c.body.dimensions === "number" ? c.body.dimensions : 8;
  const base64 = c.body.encoding_format === "base64";
  const data = [];
  for (let index = 0; index < count; index++) {
    const vector = Array.from({ length: dims }, (_, i) => Math.round(Math.sin(index * 31 + i + 1) * 10000) / 10000);
    data.push({ object: "embedding", index, embedding: base64 ? float32Base64(vector) : vector });
  }
  return {
    object: "list",
    data,
    model: requestedModel(c, "text-embedding-3-small"),
    ...(c.opts.nousage ? {} : { usage: c.opts.usage ?? { prompt_tokens: 8, total_tokens: 8 } }),
  };
}

function float32Base64(vector: number[]): string {
  const bytes = new Uint8Array(new Float32Array(vector).buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// --- Responses objects

function responseObject(c: Ctx, status: string, output: unknown[], withUsage: boolean): Record<string, unknown> {
  return {
    id: ids.resp(c),
    object: "response",
    created_at: CREATED,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: openaiModel(c),
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: true,
    temperature: 1,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    truncation: "disabled",
    usage: withUsage && !c.opts.nousage ? responsesUsage(c.opts) : null,
    user: null,
    metadata: {},
  };
}

function webSearchItem(c: Ctx, i: number, status: string): Record<string, unknown> {
  return {
    id: ids.webSearch(c, i),
    type: "web_search_call",
    status,
    action: { type: "search", query: `fake query ${i + 1}` },
  };
}

function webSearchItems(c: Ctx, status: string): unknown[] {
  return Array.from({ length: c.opts.websearch }, (_, i) => webSearchItem(c, i, status));
}

/** The message (or function_call with `tools`) output item. */
function outputItem(c: Ctx, status: string, text: string): Record<string, unknown> {
  if (c.opts.tools) {
    return {
      id: ids.respFn(c),
      type: "function_call",
      status,
      arguments: status === "completed" ? TOOL_ARG_DELTAS.join("") : "",
      call_id: ids.call(c),
      name: TOOL_NAME,
    };
  }
  return {
    id: ids.respMsg(c),
    type: "message",
    status,
    content: status === "completed" ? [outputText(text)] : [],
    role: "assistant",
  };
}

function outputText(text: string): Record<string, unknown> {
  return { type: "output_text", annotations: [], logprobs: [], text };
}

// ---------------------------------------------------------------------------
// SSE events

/** An SSE event (`data` is JSON or `[DONE]`) or a comment block. */
type SseItem = { event?: string; data: string } | { comment: string };

function data(value: unknown): SseItem {
  return { data: JSON.stringify(value) };
}

function named(event: string, value: unknown): SseItem {
  return { event, data: JSON.stringify(value) };
}

function sseFor(api: Api, c: Ctx): SseItem[] {
  switch (api) {
    case "chat":
      return chatEvents(c, false);
    case "openrouter":
      return chatEvents(c, true);
    case "responses":
      return responsesEvents(c);
    case "messages":
      return anthropicEvents(c);
    default:
      return [];
  }
}

function chatEvents(c: Ctx, openrouter: boolean): SseItem[] {
  const o = c.opts;
  const includeUsage =
    openrouter || (c.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const base = openrouter
    ? {
        id: ids.gen(c),
        provider: "OpenAI",
        model: requestedModel(c, "openai/gpt-4o-mini"),
        object: "chat.completion.chunk",
        created: CREATED,
      }
    : {
        id: ids.chat(c),
        object: "chat.completion.chunk",
        created: CREATED,
        model: openaiModel(c),
        service_tier: "default",
        system_fingerprint: "fp_fake",
      };
  const usageNull = !openrouter && includeUsage ? { usage: null } : {};
  const choice = (delta: unknown, finish: string | null): unknown =>
    openrouter
      ? { index: 0, delta, finish_reason: finish, native_finish_reason: finish, logprobs: null }
      : { index: 0, delta, logprobs: null, finish_reason: finish };
  const chunk = (delta: unknown, finish: string | null = null): SseItem =>
    data({ ...base, choices: [choice(delta, finish)], ...usageNull });

  const items: SseItem[] = [];
  if (openrouter) items.push({ comment: "OPENROUTER PROCESSING" }, { comment: "OPENROUTER PROCESSING" });

  const contentDeltas: SseItem[] = [];
  if (o.tools) {
    TOOL_ARG_DELTAS.forEach((piece, i) => {
      const call =
        i === 0
          ? { index: 0, id: ids.call(c), type: "function", function: { name: TOOL_NAME, arguments: piece } }
          : { index: 0, function: { arguments: piece } };
      const delta = i === 0 ? { role: "assistant", content: null, tool_calls: [call] } : { tool_calls: [call] };
      contentDeltas.push(chunk(delta));
    });
  } else {
    for (const piece of textDeltas(o)) {
      contentDeltas.push(chunk(openrouter ? { role: "assistant", content: piece } : { content: piece }));
    }
  }

  // OpenAI opens with a role chunk; with tools the first tool-call delta carries the role instead.
  if (!openrouter && !o.tools) items.push(chunk({ role: "assistant", content: "", refusal: null }));
  if (o.error) {
    items.push(...contentDeltas.slice(0, 1));
    if (openrouter) {
      items.push(
        data({
          ...base,
          error: { code: 502, message: "Provider returned error", metadata: { provider_name: "OpenAI" } },
          choices: [{ index: 0, delta: { content: "" }, finish_reason: "error", native_finish_reason: "error" }],
        }),
      );
    } else {
      items.push(
        data({
          error: {
            message: "The server had an error while processing your request. Sorry about that!",
            type: "server_error",
            param: null,
            code: null,
          },
        }),
      );
    }
    items.push({ data: "[DONE]" });
    return items;
  }
  items.push(...contentDeltas);
  const finish = o.tools ? "tool_calls" : "stop";
  items.push(chunk(openrouter ? { role: "assistant", content: "" } : {}, finish));
  if (includeUsage && !o.nousage) {
    const usageChunk = openrouter
      ? data({
          ...base,
          choices: o.emptychoices ? [] : [choice({ role: "assistant", content: "" }, null)],
          usage: openrouterUsage(o),
        })
      : data({ ...base, choices: [], usage: chatUsage(o) });
    items.push(usageChunk);
    if (o.twice) items.push(usageChunk);
  }
  items.push({ data: "[DONE]" });
  return items;
}

function responsesEvents(c: Ctx): SseItem[] {
  const o = c.opts;
  let seq = 0;
  const ev = (type: string, fields: Record<string, unknown>): SseItem =>
    named(type, { type, ...fields, sequence_number: seq++ });
  const items: SseItem[] = [];
  items.push(ev("response.created", { response: responseObject(c, "in_progress", [], false) }));
  items.push(ev("response.in_progress", { response: responseObject(c, "in_progress", [], false) }));

  const done: unknown[] = [];
  for (let i = 0; i < o.websearch; i++) {
    const item_id = ids.webSearch(c, i);
    items.push(ev("response.output_item.added", { output_index: i, item: webSearchItem(c, i, "in_progress") }));
    items.push(ev("response.web_search_call.in_progress", { output_index: i, item_id }));
    items.push(ev("response.web_search_call.searching", { output_index: i, item_id }));
    items.push(ev("response.web_search_call.completed", { output_index: i, item_id }));
    const item = webSearchItem(c, i, "completed");
    items.push(ev("response.output_item.done", { output_index: i, item }));
    done.push(item);
  }

  const output_index = o.websearch;
  items.push(ev("response.output_item.added", { output_index, item: outputItem(c, "in_progress", "") }));
  const errorEvent = (): SseItem =>
    ev("error", {
      code: "server_error",
      message: "The server had an error while processing your request. Sorry about that!",
      param: null,
    });

  if (o.tools) {
    const item_id = ids.respFn(c);
    for (const [i, delta] of TOOL_ARG_DELTAS.entries()) {
      items.push(ev("response.function_call_arguments.delta", { item_id, output_index, delta }));
      if (o.error && i === 0) {
        items.push(errorEvent());
        return items;
      }
    }
    items.push(
      ev("response.function_call_arguments.done", { item_id, output_index, arguments: TOOL_ARG_DELTAS.join("") }),
    );
  } else {
    const item_id = ids.respMsg(c);
    const deltas = textDeltas(o);
    const text = deltas.join("");
    items.push(ev("response.content_part.added", { item_id, output_index, content_index: 0, part: outputText("") }));
    for (const [i, delta] of deltas.entries()) {
      items.push(ev("response.output_text.delta", { item_id, output_index, content_index: 0, delta, logprobs: [] }));
      if (o.error && i === 0) {
        items.push(errorEvent());
        return items;
      }
    }
    items.push(ev("response.output_text.done", { item_id, output_index, content_index: 0, text, logprobs: [] }));
    items.push(ev("response.content_part.done", { item_id, output_index, content_index: 0, part: outputText(text) }));
  }
  const final = outputItem(c, "completed", textDeltas(o).join(""));
  items.push(ev("response.output_item.done", { output_index, item: final }));
  done.push(final);
  items.push(ev("response.completed", { response: responseObject(c, "completed", done, true) }));
  return items;
}

function anthropicEvents(c: Ctx): SseItem[] {
  const o = c.opts;
  const items: SseItem[] = [];
  items.push(
    named("message_start", {
      type: "message_start",
      message: {
        id: ids.msg(c),
        type: "message",
        role: "assistant",
        model: requestedModel(c, "claude-sonnet-5"),
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(o.nousage ? {} : { usage: anthropicStartUsage(o) }),
      },
    }),
  );
  const block = o.tools
    ? { type: "tool_use", id: ids.toolu(c), name: TOOL_NAME, input: {} }
    : { type: "text", text: "" };
  items.push(named("content_block_start", { type: "content_block_start", index: 0, content_block: block }));
  items.push(named("ping", { type: "ping" }));
  const deltas = o.tools
    ? TOOL_ARG_DELTAS.map((partial_json) => ({ type: "input_json_delta", partial_json }))
    : textDeltas(o).map((text) => ({ type: "text_delta", text }));
  for (const [i, delta] of deltas.entries()) {
    items.push(named("content_block_delta", { type: "content_block_delta", index: 0, delta }));
    if (o.error && i === 0) {
      items.push(named("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }));
      return items;
    }
  }
  items.push(named("content_block_stop", { type: "content_block_stop", index: 0 }));
  items.push(
    named("message_delta", {
      type: "message_delta",
      delta: { stop_reason: o.tools ? "tool_use" : "end_turn", stop_sequence: null },
      ...(o.nousage ? {} : { usage: anthropicDeltaUsage(o) }),
    }),
  );
  items.push(named("message_stop", { type: "message_stop" }));
  return items;
}

// ---------------------------------------------------------------------------
// SSE framing and the body stream

/** Splits JSON text at a comma (outside strings) near its middle; `null` when there is none. */
function splitJson(text: string): [string, string] | null {
  let inString = false;
  let escaped = false;
  let best = -1;
  const middle = text.length / 2;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "," && (best === -1 || Math.abs(i - middle) < Math.abs(best - middle))) best = i;
  }
  return best === -1 ? null : [text.slice(0, best + 1), text.slice(best + 1)];
}

function frame(item: SseItem, o: Options, last: boolean): string {
  const lines: string[] = [];
  if ("comment" in item) lines.push(`: ${item.comment}`);
  else {
    if (item.event !== undefined) lines.push(`event: ${item.event}`);
    const split = o.multiline && item.data.startsWith("{") ? splitJson(item.data) : null;
    if (split) lines.push(`data: ${split[0]}`, `data: ${split[1]}`);
    else lines.push(`data: ${item.data}`);
  }
  return lines.join(o.eol) + o.eol + (last && o.noblank ? "" : o.eol);
}

interface Unit {
  bytes: Uint8Array;
  event: boolean;
}

function units(items: SseItem[], o: Options): Unit[] {
  const encoder = new TextEncoder();
  const out: Unit[] = [];
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    if (o.comments && i > 0) out.push({ bytes: encoder.encode(`: keep-alive${o.eol}${o.eol}`), event: false });
    let text = frame(item, o, last);
    if (i === 0 && o.bom) text = `\uFEFF${text}`;
    out.push({ bytes: encoder.encode(text), event: !("comment" in item) });
  });
  return out;
}

class NetworkCut extends Error {}

/** The chunks of the body, honouring `chunk`, `delay` and `cut`. */
async function* chunks(list: Unit[], o: Options, stopped: () => boolean): AsyncGenerator<Uint8Array> {
  let pending = new Uint8Array(0);
  let events = 0;
  const cut = async function* (): AsyncGenerator<Uint8Array> {
    if (pending.byteLength > 0) yield pending;
    throw new NetworkCut(`fake provider: network cut after ${events} events`);
  };
  for (const unit of list) {
    if (o.cut !== undefined && events >= o.cut) yield* cut();
    if (unit.event && events > 0 && o.delay > 0) await sleep(o.delay);
    if (stopped()) return;
    if (o.chunk === undefined) yield unit.bytes;
    else {
      const joined = new Uint8Array(pending.byteLength + unit.bytes.byteLength);
      joined.set(pending, 0);
      joined.set(unit.bytes, pending.byteLength);
      let offset = 0;
      while (joined.byteLength - offset >= o.chunk) {
        yield joined.slice(offset, offset + o.chunk);
        offset += o.chunk;
      }
      pending = joined.slice(offset);
    }
    if (unit.event) events++;
  }
  if (o.cut !== undefined && events >= o.cut) yield* cut();
  if (pending.byteLength > 0) yield pending;
}

function sseBody(items: SseItem[], c: Ctx): ReadableStream<Uint8Array> {
  const o = c.opts;
  const record = c.record;
  let stopped = false;
  const list = units(items, o);
  const iterator = chunks(list, o, () => stopped);
  const settle = (outcome: RequestOutcome): void => {
    if (record.outcome === "pending") record.outcome = outcome;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (error) {
          if (stopped) return;
          settle("cut");
          controller.error(error);
          return;
        }
        if (stopped) return;
        if (next.done) {
          settle("completed");
          controller.close();
        } else controller.enqueue(next.value);
      },
      cancel() {
        stopped = true;
        settle("cancelled");
      },
    },
    { highWaterMark: 0 },
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
