/**
 * The OpenAI-shaped SSE events every figure reads. No Node imports: the
 * bench worker (workerd) uses this file too.
 */
import { emptyUsage, type UsageEvent } from "../src/usage.ts";

const WORDS = [
  " the",
  " meter",
  " reads",
  " every",
  " event",
  " on",
  " its",
  " way",
  " to",
  " app",
  ",",
  " then",
  " bills",
  ".",
];
const HEAD =
  '{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[';

/** One `chat.completion.chunk` event (~260 bytes), `usage: null` as OpenAI sends with `include_usage`. */
export function contentEvent(content: string, finish: string | null = null): string {
  const delta = finish === null ? `{"content":${JSON.stringify(content)}}` : "{}";
  const reason = finish === null ? "null" : JSON.stringify(finish);
  return `data: ${HEAD}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${reason}}],"usage":null}\n\n`;
}

/** Non-streamed calls per request of figure 3's JSON pair. */
export const JSON_CALLS = 20;

/** A non-streamed chat completion (~1 KB), as OpenAI answers one. */
export const COMPLETION_JSON = JSON.stringify({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion",
  created: 1741569952,
  model: "gpt-4o-2024-08-06",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content:
          "Metering an AI app means counting what each user's calls cost: the tokens in, the tokens out, cached input and reasoning, read from the usage the provider reports with every response. A metering fetch sits between the SDK and the provider, forwards each call untouched, and reads that usage on the side, so the app keeps its own client and its own code. Events go out in batches after the response, never in its way, and a call the meter cannot read still reaches the app.",
        refusal: null,
        annotations: [],
      },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: {
    prompt_tokens: 19,
    completion_tokens: 98,
    total_tokens: 117,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  service_tier: "default",
  system_fingerprint: "fp_f9f4fb6dbf",
});

/** The usage-only chunk OpenAI sends last with `include_usage`, then `[DONE]`. */
export const USAGE_EVENT = `data: ${HEAD}],"usage":{"prompt_tokens":19,"completion_tokens":2000,"total_tokens":2019,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n`;
export const DONE_EVENT = "data: [DONE]\n\n";

/** `n` content events (the last one carries `finish_reason`), the usage chunk and `[DONE]`: one string per chunk. */
export function chatStream(n: number): string[] {
  const events: string[] = [];
  for (let i = 0; i < n - 1; i++) events.push(contentEvent(WORDS[i % WORDS.length] as string));
  events.push(contentEvent("", "stop"));
  events.push(USAGE_EVENT, DONE_EVENT);
  return events;
}

/** A chat completions request body as an app sends it (no `stream_options`: the meter adds it). */
export function chatRequest(stream: boolean): {
  model: string;
  messages: { role: "user"; content: string }[];
  stream: boolean;
} {
  return { model: "gpt-4o", messages: [{ role: "user", content: "Say something long." }], stream };
}

/** An Anthropic Messages stream of `n` text deltas, as `@anthropic-ai/sdk` reads it: one string per event. */
export function anthropicStream(n: number): string[] {
  const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const events = [
    event("message_start", {
      message: {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-5",
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 19, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
      },
    }),
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  ];
  for (let i = 0; i < n; i++) {
    events.push(
      event("content_block_delta", { index: 0, delta: { type: "text_delta", text: WORDS[i % WORDS.length] } }),
    );
  }
  events.push(
    event("content_block_stop", { index: 0 }),
    event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } }),
    event("message_stop", {}),
  );
  return events;
}

/** An Anthropic Messages request body as an app sends it. */
export function messagesRequest(): {
  model: string;
  max_tokens: number;
  messages: { role: "user"; content: string }[];
} {
  return { model: "claude-sonnet-5", max_tokens: 4096, messages: [{ role: "user", content: "Say something long." }] };
}

/** A finished usage event of a chat stream, the `i`-th of a run named `run`, as the meter builds one. */
export function usageEvent(run: string, i: number): UsageEvent {
  return {
    id: `openai:chatcmpl-${run}-${i}`,
    userId: "user_bench",
    provider: "openai",
    endpoint: "chat.completions",
    model: "gpt-4o-mini-2024-07-18",
    requestedModel: "gpt-4o-mini",
    providerRequestId: `req_${i}`,
    stream: true,
    status: "completed",
    estimated: false,
    usage: { ...emptyUsage(), inputTokens: 176, cacheReadTokens: 1024, outputTokens: 300, reasoningTokens: 128 },
    occurredAt: "2026-12-01T12:00:00.000Z",
    durationMs: 812,
    timeToFirstByteMs: 230,
    metadata: { feature: "chat" },
  };
}
