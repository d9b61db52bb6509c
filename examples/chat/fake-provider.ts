/**
 * The chat app's built-in fake provider: a `fetch` that answers like OpenAI
 * chat completions (`POST …/chat/completions`) and Anthropic messages
 * (`POST …/messages`), in their real wire formats (JSON, and SSE with the
 * usage where each provider puts it), without any network. The app hands it
 * to the meter as the upstream fetch, so metering runs over real HTTP
 * Responses.
 *
 * The answer is a pure function of the messages ({@link fakeAnswer}), streamed
 * word by word with a small delay so streaming is visible; the usage is a pure
 * function too ({@link fakeUsage}), so tests can compute the exact numbers.
 */
import type { FetchLike } from "../../src/index.ts";

/** One message of a chat, text only. */
export interface FakeMessage {
  role: string;
  content: string;
}

/** The token counts the fake reports: `prompt_tokens`/`input_tokens` and `completion_tokens`/`output_tokens`. */
export interface FakeUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Options of {@link createFakeProvider}. */
export interface FakeProviderOptions {
  /** Wait between streamed words, in ms (default 20). */
  delayMs?: number;
}

/**
 * The fake's answer to `messages`: a few sentences about the last user
 * message (its first words, length and a digest), the same every time.
 */
export function fakeAnswer(messages: readonly FakeMessage[]): string {
  const question = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
  const words = question.split(/\s+/).filter((w) => w !== "");
  const excerpt = words.slice(0, 8).join(" ");
  const quoted = excerpt.length > 60 ? `${excerpt.slice(0, 60)}…` : words.length > 8 ? `${excerpt}…` : excerpt;
  return [
    `You asked: “${quoted}” (${words.length} ${words.length === 1 ? "word" : "words"}, ${[...question].length} characters, digest ${digest(question)}).`,
    "I am the built-in fake provider of the Stoa chat example, so this answer costs nothing real and is the same every time you ask the same question.",
    "Each word arrives as its own streamed chunk, metered by @onstoa/sdk on its way to you.",
    "Set OPENAI_API_KEY or ANTHROPIC_API_KEY to talk to a real model.",
  ].join(" ");
}

/** The streamed pieces of an answer: each word with the spaces after it. */
export function fakePieces(answer: string): string[] {
  return answer.match(/\s*\S+\s*/g) ?? [];
}

/**
 * The usage the fake reports for `messages` (a stand-in for a tokenizer):
 * input is 3 plus, per message, 4 plus one token per 4 UTF-8 bytes of its
 * content, rounded up; output is one token per streamed word of the answer.
 */
export function fakeUsage(messages: readonly FakeMessage[]): FakeUsage {
  const encoder = new TextEncoder();
  let inputTokens = 3;
  for (const m of messages) inputTokens += 4 + Math.ceil(encoder.encode(m.content).byteLength / 4);
  return { inputTokens, outputTokens: fakePieces(fakeAnswer(messages)).length };
}

/**
 * A fetch that plays the provider: OpenAI chat completions at any URL ending
 * in `/chat/completions` (header `x-request-id`; with
 * `stream_options.include_usage` a final `choices: []` chunk carries the
 * usage), Anthropic messages at any URL ending in `/messages` (header
 * `request-id`; the usage in `message_start` and `message_delta`). Anything
 * else is a 404 in OpenAI's error envelope. Ids are fresh per response, so
 * two equal questions are two billable responses.
 */
export function createFakeProvider(options: FakeProviderOptions = {}): FetchLike {
  const delayMs = options.delayMs ?? 20;
  return async function fakeProvider(input, init) {
    const request = new Request(input, init);
    const { pathname } = new URL(request.url);
    const family = pathname.endsWith("/chat/completions")
      ? "openai"
      : pathname.endsWith("/messages")
        ? "anthropic"
        : undefined;
    if (family === undefined || request.method !== "POST") {
      return errorResponse("openai", 404, `The fake provider has no ${request.method} ${pathname}.`);
    }
    let body: Record<string, unknown>;
    try {
      body = (await request.json()) as Record<string, unknown>;
    } catch {
      return errorResponse(family, 400, "The body must be JSON.");
    }
    const messages = readMessages(body);
    if (messages === undefined) return errorResponse(family, 400, "`messages` must be a non-empty array.");
    const model = typeof body.model === "string" ? body.model : "gpt-4o-mini";
    const answer = fakeAnswer(messages);
    const usage = fakeUsage(messages);
    const requestId = `req_${crypto.randomUUID().replaceAll("-", "")}`;
    const stream = body.stream === true;
    if (family === "openai") {
      const id = `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
      const includeUsage = (body.stream_options as { include_usage?: unknown } | null)?.include_usage === true;
      const headers = { "x-request-id": requestId };
      if (!stream) return Response.json(openaiCompletion(id, model, answer, usage), { headers });
      return sse(openaiChunks(id, model, answer, usage, includeUsage), headers, delayMs, request.signal);
    }
    const id = `msg_${crypto.randomUUID().replaceAll("-", "")}`;
    const headers = { "request-id": requestId };
    if (!stream) return Response.json(anthropicMessage(id, model, answer, usage), { headers });
    return sse(anthropicEvents(id, model, answer, usage), headers, delayMs, request.signal);
  };
}

/** The request's messages as text (Anthropic's `system` first), or undefined when malformed. */
function readMessages(body: Record<string, unknown>): FakeMessage[] | undefined {
  if (!Array.isArray(body.messages) || body.messages.length === 0) return undefined;
  const messages: FakeMessage[] = [];
  if (body.system !== undefined) messages.push({ role: "system", content: textOf(body.system) });
  for (const m of body.messages as unknown[]) {
    if (typeof m !== "object" || m === null) return undefined;
    const { role, content } = m as { role?: unknown; content?: unknown };
    messages.push({ role: typeof role === "string" ? role : "user", content: textOf(content) });
  }
  return messages;
}

/** A content field's text: a string, or the `text` of its parts. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("");
}

/** FNV-1a, 32 bits, as 8 hex digits. */
function digest(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

const CREATED = () => Math.floor(Date.now() / 1000);

function openaiUsage(usage: FakeUsage) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function openaiCompletion(id: string, model: string, answer: string, usage: FakeUsage) {
  return {
    id,
    object: "chat.completion",
    created: CREATED(),
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: answer, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: openaiUsage(usage),
    service_tier: "default",
    system_fingerprint: "fp_fake",
  };
}

/** One SSE event: its optional name and its JSON data (or `[DONE]`). */
interface SseEvent {
  event?: string;
  data: unknown;
  /** A content delta: wait before sending it. */
  paced?: boolean;
}

function openaiChunks(id: string, model: string, answer: string, usage: FakeUsage, includeUsage: boolean): SseEvent[] {
  const created = CREATED();
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    service_tier: "default",
    system_fingerprint: "fp_fake",
    choices,
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  });
  const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  const events: SseEvent[] = [{ data: chunk([choice({ role: "assistant", content: "", refusal: null })]) }];
  for (const piece of fakePieces(answer)) events.push({ data: chunk([choice({ content: piece })]), paced: true });
  events.push({ data: chunk([choice({}, "stop")]) });
  if (includeUsage) events.push({ data: chunk([], { usage: openaiUsage(usage) }) });
  events.push({ data: "[DONE]" });
  return events;
}

function anthropicUsage(inputTokens: number, outputTokens: number) {
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: null,
    server_tool_use: null,
    service_tier: "standard",
  };
}

function anthropicMessage(id: string, model: string, answer: string, usage: FakeUsage) {
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: answer }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: anthropicUsage(usage.inputTokens, usage.outputTokens),
  };
}

function anthropicEvents(id: string, model: string, answer: string, usage: FakeUsage): SseEvent[] {
  const named = (event: string, data: Record<string, unknown>, paced = false): SseEvent => ({
    event,
    data: { type: event, ...data },
    paced,
  });
  const start = { ...anthropicMessage(id, model, "", usage), content: [], stop_reason: null };
  start.usage = anthropicUsage(usage.inputTokens, 1);
  const events = [
    named("message_start", { message: start }),
    named("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    named("ping", {}),
  ];
  for (const text of fakePieces(answer)) {
    events.push(named("content_block_delta", { index: 0, delta: { type: "text_delta", text } }, true));
  }
  events.push(named("content_block_stop", { index: 0 }));
  events.push(
    named("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: {
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        server_tool_use: null,
      },
    }),
  );
  events.push(named("message_stop", {}));
  return events;
}

/** An SSE response that sends `events` one per chunk, pausing before each paced one; stops when cancelled or aborted. */
function sse(events: SseEvent[], headers: Record<string, string>, delayMs: number, signal: AbortSignal): Response {
  const encoder = new TextEncoder();
  let next = 0;
  let cancelled = false;
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const item = events[next++];
      if (item === undefined) {
        controller.close();
        return;
      }
      if (item.paced && delayMs > 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, delayMs);
        });
      }
      if (cancelled) return;
      if (signal.aborted) {
        controller.error(signal.reason);
        return;
      }
      const data = typeof item.data === "string" ? item.data : JSON.stringify(item.data);
      controller.enqueue(
        encoder.encode(`${item.event === undefined ? "" : `event: ${item.event}\n`}data: ${data}\n\n`),
      );
    },
    cancel() {
      cancelled = true;
      clearTimeout(timer);
      wake?.();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers },
  });
}

function errorResponse(family: "openai" | "anthropic", status: number, message: string): Response {
  const type = status === 404 ? "not_found_error" : "invalid_request_error";
  const body =
    family === "openai"
      ? { error: { message, type, param: null, code: null } }
      : { type: "error", error: { type, message } };
  return Response.json(body, { status });
}
