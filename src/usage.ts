/**
 * The normalised usage record and the usage event of the Stoa wire contract
 * (`stoa-api.md`, "Usage events"). Raw provider shapes live in `providers/`.
 */

/**
 * Token counts of one provider response, normalised. Every field but
 * `reasoningTokens` and `webSearchRequests` is exclusive: their sum equals the
 * provider's total.
 */
export interface Usage {
  /** Input billed at the base input rate (cache and audio input excluded). */
  inputTokens: number;
  /** Input read from the prompt cache. */
  cacheReadTokens: number;
  /** Input written to the prompt cache. */
  cacheWriteTokens: number;
  /** Audio input. */
  audioInputTokens: number;
  /** Output, reasoning included, audio output excluded. */
  outputTokens: number;
  /** Audio output. */
  audioOutputTokens: number;
  /** The part of `outputTokens` spent on reasoning (not exclusive). */
  reasoningTokens: number;
  /** Server-side web searches, billed per call. */
  webSearchRequests: number;
}

/** Whether the provider reported final usage (`completed`) or the response ended first (`aborted`). */
export type UsageEventStatus = "completed" | "aborted";

/** One metered provider response, as sent to `POST /v1/usage/events`. */
export interface UsageEvent {
  /** Stable per provider response, so a re-sent batch never bills twice. */
  id: string;
  /** The app's own user id. */
  userId: string;
  /** Lowercase provider id: `openai`, `anthropic`, `openrouter`, … */
  provider: string;
  /** Dotted endpoint name: `chat.completions`, `responses`, `embeddings`, `messages`. */
  endpoint: string;
  /** The model the response names, else the requested one. */
  model: string;
  /** The `model` of the request body. */
  requestedModel: string;
  /** The provider's request id, when it gave one. */
  providerRequestId?: string;
  /** Whether the call was streamed. */
  stream: boolean;
  /** `completed` when the provider reported final usage. */
  status: UsageEventStatus;
  /** True when any number in `usage` was estimated. */
  estimated: boolean;
  /** The counts. */
  usage: Usage;
  /** Cost reported by the provider itself (OpenRouter); never invented. */
  costUsd?: number;
  /** The spend hold the call was made under; Stoa takes the event's cost from it first. */
  holdId?: string;
  /** RFC 3339 time the provider call started. */
  occurredAt: string;
  /** From the call's start to its last byte. */
  durationMs: number;
  /** From the call's start to the response headers. */
  timeToFirstByteMs?: number;
  /** The app's own labels. */
  metadata?: Record<string, string>;
}

/** A `Usage` with every count at zero. */
export function emptyUsage(): Usage {
  return {
    inputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    audioInputTokens: 0,
    outputTokens: 0,
    audioOutputTokens: 0,
    reasoningTokens: 0,
    webSearchRequests: 0,
  };
}

/**
 * The largest token count one field of one event may carry: 10^9. The largest
 * context windows hold about 10^7 tokens, so a count 100 times that is a
 * malformed report, not usage; and 500 events at the bound still sum exactly
 * in a double. A count above it is a fault: reported, and the event estimated.
 */
export const MAX_TOKEN_COUNT = 1_000_000_000;

/**
 * The largest cost one event may carry, in USD: 10,000. The priciest public
 * models (USD 600 per million output tokens) with a full context cost well
 * under USD 1,000 per call, so more is a wrong unit or a malformed report that
 * would empty a member's balance. A cost above it is a fault: reported,
 * dropped, and the event estimated.
 */
export const MAX_COST_USD = 10_000;
