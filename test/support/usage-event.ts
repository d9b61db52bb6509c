/** Valid usage events for delivery tests, each with a fresh id. */
import type { UsageEvent } from "../../src/usage.ts";

let counter = 0;

/** A valid `completed` event; `overrides` replace fields. */
export function usageEvent(overrides: Partial<UsageEvent> = {}): UsageEvent {
  counter++;
  return {
    id: `evt_${crypto.randomUUID().slice(0, 8)}_${counter}`,
    userId: "user_123",
    provider: "openai",
    endpoint: "chat.completions",
    model: "gpt-4o-mini-2024-07-18",
    requestedModel: "gpt-4o-mini",
    providerRequestId: `req_${counter}`,
    stream: false,
    status: "completed",
    estimated: false,
    usage: {
      inputTokens: 12,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      audioInputTokens: 0,
      outputTokens: 34,
      audioOutputTokens: 0,
      reasoningTokens: 0,
      webSearchRequests: 0,
    },
    occurredAt: "2026-11-27T18:00:00.000Z",
    durationMs: 420,
    timeToFirstByteMs: 180,
    ...overrides,
  };
}

/** `n` valid events. */
export function usageEvents(n: number, overrides: Partial<UsageEvent> = {}): UsageEvent[] {
  return Array.from({ length: n }, () => usageEvent(overrides));
}
