/**
 * A fake provider for the wire formats of issue 11: Gemini (JSON and SSE, Gemini API and Vertex), Bedrock
 * (Converse JSON, ConverseStream and InvokeModelWithResponseStream as binary `vnd.amazon.eventstream` frames
 * with valid CRCs, InvokeModel JSON), Azure OpenAI (content-filter chunk first), Groq, DeepSeek, xAI and
 * Mistral. Bodies are the recorded fixtures of `provider-facts-more.md`. Web APIs only.
 *
 * `fakeProviderMore(request)` answers in-process; the global setup serves it at `<fakeBase>/m/…` for every
 * test project (workerd included). The event-stream encoder here (`eventStreamFrame`, with a bit-by-bit
 * CRC-32) is written apart from `src/streams/` so it can check the decoder.
 */
import { concat as concatBytes } from "../../src/streams/bytes.ts";

const encoder = new TextEncoder();

/** CRC-32 computed bit by bit (the reference the table-driven `src/streams/crc32.ts` is checked against). */
export function referenceCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** One encoded header: name, type byte, value bytes. */
export function headerBytes(name: string, type: number, value: Uint8Array = new Uint8Array(0)): Uint8Array {
  const nameBytes = encoder.encode(name);
  return concatBytes([new Uint8Array([nameBytes.length]), nameBytes, new Uint8Array([type]), value]);
}

/** A string header (type 7). */
export function stringHeader(name: string, value: string): Uint8Array {
  const bytes = encoder.encode(value);
  return headerBytes(name, 7, concatBytes([new Uint8Array([bytes.length >> 8, bytes.length & 0xff]), bytes]));
}

/**
 * One event-stream message: `headers` as encoded header bytes (or string headers by name), `payload` as
 * bytes or text; both CRCs computed by `referenceCrc32`.
 */
export function eventStreamFrame(
  headers: Record<string, string> | Uint8Array[],
  payload: Uint8Array | string,
): Uint8Array {
  const head = concatBytes(
    Array.isArray(headers) ? headers : Object.entries(headers).map(([name, value]) => stringHeader(name, value)),
  );
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const total = 16 + head.length + body.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, head.length);
  view.setUint32(8, referenceCrc32(out.subarray(0, 8)));
  out.set(head, 12);
  out.set(body, 12 + head.length);
  view.setUint32(total - 4, referenceCrc32(out.subarray(0, total - 4)));
  return out;
}

/** An `event` message of type `eventType` with a JSON payload, headers in Bedrock's order. */
export function bedrockEvent(eventType: string, payload: unknown): Uint8Array {
  return eventStreamFrame(
    { ":event-type": eventType, ":content-type": "application/json", ":message-type": "event" },
    JSON.stringify(payload),
  );
}

/** `parts` as one array: the package's own concat. */
export { concatBytes };

// ---------------------------------------------------------------------------------------------------------
// Fixtures (provider-facts-more.md), as bodies and SSE event data

/** Gemini `google-text.json` (§1.3); `…` cuts filled with short text. */
export const GEMINI_JSON = {
  candidates: [
    {
      content: {
        parts: [{ text: "There are **3** r's in strawberry.", thoughtSignature: "EtoFCtcF" }],
        role: "model",
      },
      finishReason: "STOP",
      index: 0,
    },
  ],
  usageMetadata: {
    promptTokenCount: 9,
    candidatesTokenCount: 28,
    totalTokenCount: 281,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: 9 }],
    thoughtsTokenCount: 244,
  },
  modelVersion: "gemini-3-pro-preview",
  responseId: "Un6LacrVMcjUxs0PmJfWoQc",
};

function geminiChunk(text: string, usage: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    candidates: [{ content: { parts: [{ text }], role: "model" }, index: 0, ...extra }],
    usageMetadata: { promptTokensDetails: [{ modality: "TEXT", tokenCount: 9 }], ...usage },
    modelVersion: "gemini-3-pro-preview",
    responseId: "bH6LaZW8Fp_3nsEPqtaSwQ4",
  });
}

/** Gemini `google-text.chunks.txt` (§1.4): cumulative usage on every chunk. */
export const GEMINI_CHUNKS = [
  geminiChunk("There are **3**", {
    promptTokenCount: 9,
    candidatesTokenCount: 5,
    totalTokenCount: 199,
    thoughtsTokenCount: 185,
  }),
  geminiChunk(' "r"s in strawberry.\n\nst**r**awbe**rr**y', {
    promptTokenCount: 9,
    candidatesTokenCount: 23,
    totalTokenCount: 217,
    thoughtsTokenCount: 185,
  }),
  geminiChunk(
    "",
    { promptTokenCount: 9, candidatesTokenCount: 23, totalTokenCount: 217, thoughtsTokenCount: 185 },
    { finishReason: "STOP" },
  ),
];

/** Gemini usage with cached content, thoughts and tool-use prompt tokens (sum = `totalTokenCount`, 250). */
const GEMINI_GROUNDED_USAGE = {
  promptTokenCount: 120,
  cachedContentTokenCount: 100,
  candidatesTokenCount: 40,
  thoughtsTokenCount: 60,
  toolUsePromptTokenCount: 30,
  totalTokenCount: 250,
};

/** Grounding with Google Search (§1.5): the empty query is not billed. */
const GROUNDING = { webSearchQueries: ["stoa billing", "", "edge runtimes"], groundingChunks: [] };

/** A grounded Gemini 3 answer over cached content (model `gemini-3-flash-preview`), JSON. */
export const GEMINI_GROUNDED_JSON = {
  candidates: [
    {
      content: { parts: [{ text: "Stoa bills per call." }], role: "model" },
      finishReason: "STOP",
      index: 0,
      groundingMetadata: GROUNDING,
    },
  ],
  usageMetadata: GEMINI_GROUNDED_USAGE,
  modelVersion: "gemini-3-flash-preview",
  responseId: "grounded-1",
};

/** The same answer streamed: cumulative usage, grounding on the last chunk. */
export const GEMINI_GROUNDED_CHUNKS = [
  JSON.stringify({
    candidates: [{ content: { parts: [{ text: "Stoa bills" }], role: "model" }, index: 0 }],
    usageMetadata: { ...GEMINI_GROUNDED_USAGE, candidatesTokenCount: 3, totalTokenCount: 213 },
    modelVersion: "gemini-3-flash-preview",
    responseId: "grounded-1",
  }),
  JSON.stringify({
    candidates: [
      {
        content: { parts: [{ text: " per call." }], role: "model" },
        finishReason: "STOP",
        index: 0,
        groundingMetadata: GROUNDING,
      },
    ],
    usageMetadata: GEMINI_GROUNDED_USAGE,
    modelVersion: "gemini-3-flash-preview",
    responseId: "grounded-1",
  }),
];

/** Vertex (§1.4): interim chunks carry only `trafficType`, counts arrive on the last. */
export const VERTEX_CHUNKS = [
  JSON.stringify({
    candidates: [{ content: { role: "model", parts: [{ text: "Thinking about it" }] } }],
    usageMetadata: { trafficType: "ON_DEMAND" },
    modelVersion: "gemini-3.1-pro-preview",
    createTime: "2026-04-07T16:49:58.333958Z",
    responseId: "tjXVaYaxFISTq8YP_MWiyAo",
  }),
  JSON.stringify({
    candidates: [
      { content: { role: "model", parts: [{ functionCall: { name: "f", args: { a: 1 } } }] }, finishReason: "STOP" },
    ],
    usageMetadata: {
      promptTokenCount: 31,
      candidatesTokenCount: 684,
      totalTokenCount: 1741,
      trafficType: "ON_DEMAND",
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 31 }],
      candidatesTokensDetails: [{ modality: "TEXT", tokenCount: 684 }],
      thoughtsTokenCount: 1026,
    },
    modelVersion: "gemini-3.1-pro-preview",
    createTime: "2026-04-07T16:49:58.333958Z",
    responseId: "tjXVaYaxFISTq8YP_MWiyAo",
  }),
];

/** Bedrock Converse `amazon-bedrock-text.json` (§2.3). */
export const CONVERSE_JSON = {
  metrics: { latencyMs: 1864 },
  output: { message: { content: [{ text: 'Let me count the "r"s in strawberry.' }], role: "assistant" } },
  stopReason: "end_turn",
  usage: {
    cacheReadInputTokenCount: 0,
    cacheReadInputTokens: 0,
    cacheWriteInputTokenCount: 0,
    cacheWriteInputTokens: 0,
    inputTokens: 22,
    outputTokens: 57,
    serverToolUsage: {},
    totalTokens: 79,
  },
};

/** Bedrock ConverseStream `amazon-bedrock-text.chunks.txt` (§2.4) as `[event type, payload]`, with `p` padding. */
export const CONVERSE_STREAM_EVENTS: [string, unknown][] = [
  ["messageStart", { p: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0", role: "assistant" }],
  ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Let" }, p: "abcdefghijklmnop" }],
  ["contentBlockDelta", { contentBlockIndex: 0, delta: { text: " me count." }, p: "abcdefgh" }],
  ["contentBlockStop", { contentBlockIndex: 0, p: "abcdefghijklmnopqrs" }],
  [
    "messageStop",
    { additionalModelResponseFields: { delta: { stop_sequence: null } }, p: "abc", stopReason: "end_turn" },
  ],
  [
    "metadata",
    {
      metrics: { latencyMs: 2040 },
      p: "abcdef",
      usage: { inputTokens: 22, outputTokens: 55, serverToolUsage: {}, totalTokens: 77 },
    },
  ],
];

/** An Anthropic-on-Bedrock Invoke stream (§2.6): the Anthropic events, base64 in `chunk` events. */
export const INVOKE_STREAM_EVENTS: unknown[] = [
  {
    type: "message_start",
    message: {
      id: "msg_bdrk_01",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5-20250929",
      content: [],
      usage: { input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 3, output_tokens: 1 },
    },
  },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello, wörld!" } },
  { type: "content_block_stop", index: 0 },
  { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 25 } },
  {
    type: "message_stop",
    "amazon-bedrock-invocationMetrics": {
      inputTokenCount: 10,
      outputTokenCount: 25,
      invocationLatency: 812,
      firstByteLatency: 301,
    },
  },
];

/** The `chunk` event-stream frame of one Anthropic event, as Bedrock sends it. */
export function invokeChunk(event: unknown): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(event));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return bedrockEvent("chunk", { bytes: btoa(binary), p: "abcd" });
}

/** Azure's content-filter chunk that opens every chat stream (§3.2). */
export const AZURE_FILTER_CHUNK = JSON.stringify({
  choices: [],
  created: 0,
  id: "",
  model: "",
  object: "",
  prompt_filter_results: [
    {
      prompt_index: 0,
      content_filter_results: {
        hate: { filtered: false, severity: "safe" },
        self_harm: { filtered: false, severity: "safe" },
        sexual: { filtered: false, severity: "safe" },
        violence: { filtered: false, severity: "safe" },
      },
    },
  ],
});

function azureChunk(delta: Record<string, unknown>, finish: string | null): string {
  return JSON.stringify({
    choices: [{ content_filter_results: {}, delta, finish_reason: finish, index: 0, logprobs: null }],
    created: 1750697159,
    id: "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j",
    model: "gpt-4o-2024-08-06",
    object: "chat.completion.chunk",
    system_fingerprint: "fp_ee1d74bde0",
  });
}

/** The Azure usage object of the streams and JSON bodies below. */
export const AZURE_USAGE = {
  prompt_tokens: 20,
  completion_tokens: 9,
  total_tokens: 29,
  prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
};

/** An Azure chat stream with `include_usage` (§3.2): filter chunk, content, finish, usage chunk, `[DONE]`. */
export const AZURE_CHUNKS = [
  AZURE_FILTER_CHUNK,
  azureChunk({ content: "", refusal: null, role: "assistant" }, null),
  azureChunk({ content: "Hello!" }, null),
  azureChunk({}, "stop"),
  JSON.stringify({
    choices: [],
    created: 1750697159,
    id: "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j",
    model: "gpt-4o-2024-08-06",
    object: "chat.completion.chunk",
    usage: AZURE_USAGE,
  }),
  "[DONE]",
];

const GROQ_ID = "chatcmpl-7eb08824-2c5b-4c4d-9a1f-4c4b1c1e9d01";
const GROQ_STREAM_USAGE = {
  queue_time: 0.041905864,
  prompt_tokens: 45,
  prompt_time: 0.003940145,
  completion_tokens: 662,
  completion_time: 2.652230333,
  total_tokens: 707,
  total_time: 2.656170478,
};

function groqChunk(delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    id: GROQ_ID,
    object: "chat.completion.chunk",
    created: 1770770839,
    model: "llama-3.3-70b-versatile",
    system_fingerprint: "fp_f8b414701e",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  });
}

/** Groq `groq-text.chunks.txt` (§4.1): the finish chunk carries `x_groq.usage` and the same top-level `usage`. */
export const GROQ_CHUNKS = [
  groqChunk({ role: "assistant", content: "" }, null, {
    x_groq: { id: "req_01kh52ndshfr2azv0xe6tnv4fx", seed: 1535227698 },
  }),
  groqChunk({ content: "Hello!" }, null),
  groqChunk({}, "stop", {
    x_groq: { id: "req_01kh52ndshfr2azv0xe6tnv4fx", usage: GROQ_STREAM_USAGE },
    usage: GROQ_STREAM_USAGE,
  }),
  "[DONE]",
];

/** A Groq JSON completion: top-level `usage`, and the different `x_groq.usage` (cache and hardware stats) last. */
export const GROQ_JSON = {
  id: GROQ_ID,
  object: "chat.completion",
  created: 1770770839,
  model: "llama-3.3-70b-versatile",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello!" }, logprobs: null, finish_reason: "stop" }],
  usage: {
    queue_time: 0.02,
    prompt_tokens: 45,
    prompt_time: 0.004,
    completion_tokens: 662,
    completion_time: 2.6,
    total_tokens: 707,
    total_time: 2.61,
    prompt_tokens_details: { cached_tokens: 32 },
    completion_tokens_details: { reasoning_tokens: 100 },
  },
  usage_breakdown: null,
  system_fingerprint: "fp_f8b414701e",
  x_groq: { id: "req_01kh52ndshfr2azv0xe6tnv4fx", usage: { dram_cached_tokens: 0, sram_cached_tokens: 32 } },
};

/** DeepSeek `deepseek-reasoning.json` usage (§4.2). */
export const DEEPSEEK_REASONING_USAGE = {
  prompt_tokens: 18,
  completion_tokens: 345,
  total_tokens: 363,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 315 },
  prompt_cache_hit_tokens: 0,
  prompt_cache_miss_tokens: 18,
};

/** A DeepSeek usage object with a cache hit. */
export const DEEPSEEK_CACHED_USAGE = {
  prompt_tokens: 100,
  completion_tokens: 10,
  total_tokens: 110,
  prompt_tokens_details: { cached_tokens: 64 },
  prompt_cache_hit_tokens: 64,
  prompt_cache_miss_tokens: 36,
};

/** xAI chat `xai-text.json` usage (§4.3): reasoning outside `completion_tokens`, cost in ticks. */
export const XAI_CHAT_USAGE = {
  prompt_tokens: 12,
  completion_tokens: 1,
  total_tokens: 241,
  prompt_tokens_details: { text_tokens: 12, audio_tokens: 0, image_tokens: 0, cached_tokens: 2 },
  completion_tokens_details: {
    reasoning_tokens: 228,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
  num_sources_used: 0,
  cost_in_usd_ticks: 1176500,
};

/** xAI Responses usage (§4.3): `output_tokens` includes reasoning. */
export const XAI_RESPONSES_USAGE = {
  input_tokens: 216,
  input_tokens_details: { cached_tokens: 150 },
  output_tokens: 923,
  output_tokens_details: { reasoning_tokens: 323 },
  total_tokens: 1139,
  num_sources_used: 0,
  num_server_side_tools_used: 0,
  cost_in_usd_ticks: 123456789,
};

/** Mistral `mistral-text.chunks.txt` (§4.4): usage on the finish chunk, unasked. */
export const MISTRAL_CHUNKS = [
  JSON.stringify({
    id: "5319bd0299614c679a0068a4f2c8ffd0",
    object: "chat.completion.chunk",
    created: 1769088720,
    model: "mistral-small-latest",
    choices: [{ index: 0, delta: { role: "assistant", content: "Hello!" }, finish_reason: null }],
  }),
  JSON.stringify({
    id: "5319bd0299614c679a0068a4f2c8ffd0",
    object: "chat.completion.chunk",
    created: 1769088720,
    model: "mistral-small-latest",
    choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop", logprobs: null }],
    usage: { prompt_tokens: 13, total_tokens: 21, completion_tokens: 8 },
  }),
  "[DONE]",
];

// ---------------------------------------------------------------------------------------------------------
// The handler

/** The providers the handler speaks, by the first segment of the URL path. */
export type MoreProvider = "google" | "bedrock" | "azure" | "groq" | "deepseek" | "xai" | "mistral";

/** Request ids the handler sends, per provider (none for Gemini, which sends none). */
export const MORE_REQUEST_IDS = {
  bedrock: "7b0a1c2d-bedrock-req",
  azure: "apim-0f1e2d3c",
  groq: "req_01kh52ndshfr2azv0xe6tnv4fx",
  deepseek: "ds-req-1",
  xai: "xai-req-1",
  mistral: "mistral-req-1",
} as const;

const SSE = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" };
const JSON_TYPE = { "content-type": "application/json" };

function sse(events: string[], eol = "\n", headers: Record<string, string> = {}): Response {
  const text = events.map((data) => `data: ${data}${eol}${eol}`).join("");
  return new Response(chunked([encoder.encode(text)], 37), { headers: { ...SSE, ...headers } });
}

function json(body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { headers: { ...JSON_TYPE, ...headers } });
}

/** `parts` joined and cut into `size`-byte chunks: frames and events do not align with reads. */
function chunked(parts: Uint8Array[], size: number): ReadableStream<Uint8Array> {
  const bytes = concatBytes(parts);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

function notFound(path: string): Response {
  const body = JSON.stringify({ error: { message: `fake-provider-more: no route for ${path}` } });
  return new Response(body, { status: 404, headers: JSON_TYPE });
}

function chatMessage(id: string, model: string, text: string, usage: unknown, extra: Record<string, unknown> = {}) {
  return {
    id,
    object: "chat.completion",
    created: 1767225600,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop", logprobs: null }],
    usage,
    ...extra,
  };
}

function chatChunks(id: string, model: string, text: string): string[] {
  const chunk = (delta: object, finish: string | null) =>
    JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created: 1767225600,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
  return [chunk({ role: "assistant", content: "" }, null), chunk({ content: text }, null), chunk({}, "stop")];
}

function usageChunk(id: string, model: string, usage: unknown): string {
  return JSON.stringify({ id, object: "chat.completion.chunk", created: 1767225600, model, choices: [], usage });
}

function responsesBody(id: string, model: string, text: string, usage: unknown, status = "completed") {
  return {
    id,
    object: "response",
    created_at: 1767225600,
    status,
    model,
    output:
      status === "completed"
        ? [
            {
              id: "msg_1",
              type: "message",
              status: "completed",
              role: "assistant",
              content: [{ type: "output_text", text, annotations: [] }],
            },
          ]
        : [],
    usage,
  };
}

function responsesEvents(id: string, model: string, text: string, usage: unknown): string[] {
  const item = { id: "msg_1", type: "message", status: "in_progress", role: "assistant", content: [] };
  const events: object[] = [
    { type: "response.created", sequence_number: 0, response: responsesBody(id, model, "", null, "in_progress") },
    { type: "response.output_item.added", sequence_number: 1, output_index: 0, item },
    {
      type: "response.content_part.added",
      sequence_number: 2,
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      part: { type: "output_text", text: "", annotations: [] },
    },
    {
      type: "response.output_text.delta",
      sequence_number: 3,
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      delta: text,
    },
    {
      type: "response.output_text.done",
      sequence_number: 4,
      item_id: "msg_1",
      output_index: 0,
      content_index: 0,
      text,
    },
    {
      type: "response.output_item.done",
      sequence_number: 5,
      output_index: 0,
      item: { ...item, status: "completed", content: [{ type: "output_text", text, annotations: [] }] },
    },
    { type: "response.completed", sequence_number: 6, response: responsesBody(id, model, text, usage) },
  ];
  return events.map((event) => JSON.stringify(event));
}

async function bodyOf(request: Request): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(await request.text());
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function wantsUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  return typeof options === "object" && options !== null && (options as Record<string, unknown>).include_usage === true;
}

async function google(path: string, request: Request): Promise<Response> {
  const grounded = path.includes("/gemini-3-flash-preview:");
  if (path.endsWith(":generateContent")) return json(grounded ? GEMINI_GROUNDED_JSON : GEMINI_JSON);
  if (path.endsWith(":streamGenerateContent") && grounded) return sse(GEMINI_GROUNDED_CHUNKS, "\r\n");
  if (path.endsWith(":streamGenerateContent")) {
    if (new URL(request.url).searchParams.get("alt") !== "sse") return json(GEMINI_CHUNKS.map((c) => JSON.parse(c)));
    return sse(path.includes("/publishers/google/") ? VERTEX_CHUNKS : GEMINI_CHUNKS, "\r\n");
  }
  return notFound(path);
}

async function bedrock(path: string): Promise<Response> {
  const headers = { "x-amzn-requestid": MORE_REQUEST_IDS.bedrock };
  const binary = { ...headers, "content-type": "application/vnd.amazon.eventstream" };
  if (path.endsWith("/converse")) return json(CONVERSE_JSON, headers);
  if (path.endsWith("/converse-stream")) {
    const frames = CONVERSE_STREAM_EVENTS.map(([type, payload]) => bedrockEvent(type, payload));
    return new Response(chunked(frames, 29), { headers: binary });
  }
  if (path.endsWith("/invoke-with-response-stream")) {
    return new Response(chunked(INVOKE_STREAM_EVENTS.map(invokeChunk), 29), { headers: binary });
  }
  if (path.endsWith("/invoke")) {
    return json(
      {
        id: "msg_bdrk_01",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5-20250929",
        content: [{ type: "text", text: "Hello, wörld!" }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 3, output_tokens: 25 },
      },
      { ...headers, "x-amzn-bedrock-input-token-count": "10", "x-amzn-bedrock-output-token-count": "25" },
    );
  }
  return notFound(path);
}

async function azure(path: string, request: Request): Promise<Response> {
  const body = await bodyOf(request);
  const headers = { "apim-request-id": MORE_REQUEST_IDS.azure };
  const id = "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j";
  if (path.endsWith("/chat/completions")) {
    if (body.stream !== true) {
      return json(chatMessage(id, "gpt-4o-2024-08-06", "Hello!", AZURE_USAGE, { prompt_filter_results: [] }), headers);
    }
    return sse(wantsUsage(body) ? AZURE_CHUNKS : [...AZURE_CHUNKS.slice(0, 4), "[DONE]"], "\n", headers);
  }
  if (path.endsWith("/responses")) {
    const usage = {
      input_tokens: 20,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 29,
    };
    if (body.stream !== true) return json(responsesBody("resp_azure_1", "gpt-4o-2024-08-06", "Hello!", usage), headers);
    return sse(responsesEvents("resp_azure_1", "gpt-4o-2024-08-06", "Hello!", usage), "\n", headers);
  }
  if (path.endsWith("/embeddings")) {
    return json(
      {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }],
        model: "text-embedding-3-small",
        usage: { prompt_tokens: 5, total_tokens: 5 },
      },
      headers,
    );
  }
  return notFound(path);
}

async function openaiShaped(provider: "groq" | "deepseek" | "xai" | "mistral", path: string, request: Request) {
  const body = await bodyOf(request);
  const headers = { "x-request-id": MORE_REQUEST_IDS[provider] };
  if (provider === "groq" && path.endsWith("/chat/completions")) {
    return body.stream === true ? sse(GROQ_CHUNKS, "\n", headers) : json(GROQ_JSON, headers);
  }
  if (provider === "mistral" && path.endsWith("/chat/completions")) {
    if (body.stream === true) return sse(MISTRAL_CHUNKS, "\n", headers);
    const usage = { prompt_tokens: 13, total_tokens: 21, completion_tokens: 8 };
    return json(chatMessage("5319bd0299614c679a0068a4f2c8ffd0", "mistral-small-latest", "Hello!", usage), headers);
  }
  if (provider === "deepseek" && path.endsWith("/chat/completions")) {
    const id = "ds-chatcmpl-1";
    if (body.stream !== true) return json(chatMessage(id, "deepseek-chat", "Hello!", DEEPSEEK_CACHED_USAGE), headers);
    const chunks = chatChunks(id, "deepseek-chat", "Hello!");
    if (wantsUsage(body)) {
      // DeepSeek puts the usage on the finish chunk, `"usage":null` before it
      const finish = JSON.parse(chunks[2] as string);
      chunks[2] = JSON.stringify({ ...finish, usage: DEEPSEEK_CACHED_USAGE });
    }
    return sse([...chunks, "[DONE]"], "\n", headers);
  }
  if (provider === "xai" && path.endsWith("/chat/completions")) {
    const id = "xai-chatcmpl-1";
    if (body.stream !== true) return json(chatMessage(id, "grok-4", "Hello!", XAI_CHAT_USAGE), headers);
    const chunks = chatChunks(id, "grok-4", "Hello!");
    if (wantsUsage(body)) chunks.push(usageChunk(id, "grok-4", XAI_CHAT_USAGE));
    return sse([...chunks, "[DONE]"], "\n", headers);
  }
  if (provider === "xai" && path.endsWith("/responses")) {
    if (body.stream !== true)
      return json(responsesBody("resp_xai_1", "grok-4", "Hello!", XAI_RESPONSES_USAGE), headers);
    return sse(responsesEvents("resp_xai_1", "grok-4", "Hello!", XAI_RESPONSES_USAGE), "\n", headers);
  }
  return notFound(path);
}

/**
 * The fake provider: `/<provider>/<the provider's own path>`, e.g.
 * `/groq/openai/v1/chat/completions`, `/google/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse`,
 * `/bedrock/model/<id>/converse-stream`, `/azure/openai/deployments/<d>/chat/completions`.
 * A first segment changes the body: `cut=<n>` errors it after its first n bytes (a network cut, over
 * HTTP), `end=<n>` ends it cleanly after n bytes (a truncated frame), `flip=<n>` inverts its byte n (a bad CRC), `stall=<n>` sends n bytes and then nothing until cancelled.
 */
export async function fakeProviderMore(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const change = /^\/(cut|end|flip|stall)=(\d+)(\/.*)$/.exec(url.pathname);
  if (change !== null) {
    url.pathname = change[3] as string;
    const inner = new Request(url, {
      method: request.method,
      headers: request.headers,
      body: await request.arrayBuffer(),
    });
    const response = await fakeProviderMore(inner);
    if (response.body === null) return response;
    const changed = alter(response.body, change[1] as Alteration, Number(change[2]));
    return new Response(changed, { status: response.status, headers: response.headers });
  }
  const slash = url.pathname.indexOf("/", 1);
  const provider = url.pathname.slice(1, slash === -1 ? undefined : slash);
  const path = slash === -1 ? "/" : url.pathname.slice(slash);
  if (request.method !== "POST") return notFound(path);
  switch (provider as MoreProvider) {
    case "google":
      return google(path, request);
    case "bedrock":
      return bedrock(path);
    case "azure":
      return azure(path, request);
    case "groq":
    case "deepseek":
    case "xai":
    case "mistral":
      return openaiShaped(provider as "groq" | "deepseek" | "xai" | "mistral", path, request);
    default:
      return notFound(url.pathname);
  }
}

/** How `alter` changes a body. */
type Alteration = "cut" | "end" | "flip" | "stall";

/** `body` changed at byte `n`: cut there with an error, ended there, stalled there, or with that byte inverted. */
function alter(body: ReadableStream<Uint8Array>, how: Alteration, n: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let at = 0;
  let cancelled: () => void = () => {};
  return new ReadableStream({
    async pull(controller) {
      if (how === "stall" && at >= n) {
        await new Promise<void>((resolve) => {
          cancelled = resolve;
        });
        return;
      }
      const result = how !== "flip" && at >= n ? { done: true as const } : await reader.read();
      if (result.done) {
        if (at >= n && how !== "flip") await reader.cancel().catch(() => {});
        if (how === "cut") controller.error(new Error(`fake-provider-more: network cut after ${n} bytes`));
        else controller.close();
        return;
      }
      const chunk = how === "flip" ? result.value.slice() : result.value.subarray(0, n - at);
      if (how === "flip" && n >= at && n < at + chunk.length) chunk[n - at] = (chunk[n - at] as number) ^ 0xff;
      at += result.value.length;
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled();
      return reader.cancel();
    },
  });
}
