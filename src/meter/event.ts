/**
 * Turning what a response reported into the usage event of the contract.
 */
import type { Provider, Reading, RequestFacts } from "../providers/types.ts";
import type { UsageEvent } from "../usage.ts";
import { str } from "../util/json.ts";
import { estimateUsage } from "./estimate.ts";

/** Everything known about one metered call when it ends. */
export interface CallRecord {
  provider: Provider;
  userId: string;
  metadata: Record<string, string> | undefined;
  facts: RequestFacts;
  reading: Reading;
  requestId: string | undefined;
  startedAt: number;
  endedAt: number;
  timeToFirstByteMs: number;
}

/** Longest event id the contract allows. */
const MAX_ID = 128;

/**
 * The event id: the provider's response id, else its request id, so the same
 * provider response always gives the same id and a re-sent batch is a duplicate.
 */
export function eventId(provider: string, responseId: string | undefined, requestId: string | undefined): string {
  const base = responseId ?? requestId;
  const id = base === undefined ? `${provider}:local_${crypto.randomUUID()}` : `${provider}:${base}`;
  return id.length <= MAX_ID ? id : `${provider}:h_${hash(base ?? id)}`;
}

/** A stable 64-bit hex digest (FNV-1a over UTF-16 units, two lanes) for ids over the length limit. */
function hash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return `${a.toString(16).padStart(8, "0")}${b.toString(16).padStart(8, "0")}${text.length.toString(16)}`;
}

/** Builds the usage event; `completed` when the provider reported final usage, else an estimated `aborted`. */
export function buildEvent(call: CallRecord): UsageEvent {
  const { provider, reading, facts } = call;
  const requestedModel = str(facts.body.model) ?? "unknown";
  const providerRequestId = call.requestId ?? (provider.requestIdFromResponseId === true ? reading.id : undefined);
  const completed = reading.usage !== undefined;
  const event: UsageEvent = {
    id: eventId(provider.id, reading.id, call.requestId),
    userId: call.userId,
    provider: provider.id,
    endpoint: facts.endpoint,
    model: reading.model ?? requestedModel,
    requestedModel,
    stream: facts.stream,
    status: completed ? "completed" : "aborted",
    estimated: !completed,
    usage: reading.usage ?? estimateUsage(reading.partial, facts.body, reading.outputWeight),
    occurredAt: new Date(call.startedAt).toISOString(),
    durationMs: Math.max(0, call.endedAt - call.startedAt),
    timeToFirstByteMs: Math.max(0, call.timeToFirstByteMs),
  };
  if (providerRequestId !== undefined) event.providerRequestId = providerRequestId;
  if (reading.costUsd !== undefined) event.costUsd = reading.costUsd;
  if (call.metadata !== undefined) event.metadata = call.metadata;
  return event;
}
