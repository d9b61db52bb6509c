/**
 * Turning what a response reported into the usage event of the contract.
 */
import { StoaStreamError } from "../errors.ts";
import type { Provider, Reading, RequestFacts } from "../providers/types.ts";
import { MAX_COST_USD, MAX_TOKEN_COUNT, type Usage, type UsageEvent } from "../usage.ts";
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
  /** The spend hold the call was made under, when it has one. */
  holdId: string | undefined;
  startedAt: number;
  endedAt: number;
  timeToFirstByteMs: number;
}

/** Longest event id the contract allows. */
const MAX_ID = 128;

/**
 * The event id: everything that tells provider responses apart, so the same
 * response always gives the same id (a re-sent event is a duplicate) and two
 * responses never share one, even from a host that repeats its response ids
 * (some self-hosted OpenAI-compatible servers answer `chatcmpl-626` every
 * time) while each response has its own request id:
 * `<provider>:<response id>:<request id>`, one of them alone when the other
 * is missing or the same (OpenRouter's generation id), and a random local id
 * when there is neither. A form that could read two ways (a colon inside an
 * id) or is over 128 characters becomes `<provider>:h_<digest>`.
 */
export function eventId(provider: string, responseId: string | undefined, requestId: string | undefined): string {
  if (responseId === undefined || requestId === undefined || responseId === requestId) {
    const only = responseId ?? requestId;
    if (only === undefined) return `${provider}:local_${crypto.randomUUID()}`;
    const id = `${provider}:${only}`;
    return id.length <= MAX_ID && !only.includes(":") ? id : `${provider}:h_${hash(only)}`;
  }
  const id = `${provider}:${responseId}:${requestId}`;
  if (id.length <= MAX_ID && !responseId.includes(":")) return id;
  return `${provider}:h_${hash(`${responseId.length}:${responseId}${requestId}`)}`;
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

/**
 * The `Usage` fields in groups that are kept or estimated together: the input
 * fields are carved out of one reported input total (and so are the output
 * fields), so one malformed member makes its siblings untrustworthy too.
 */
const GROUPS: readonly (readonly (keyof Usage)[])[] = [
  ["inputTokens", "cacheReadTokens", "cacheWriteTokens", "audioInputTokens"],
  ["outputTokens", "audioOutputTokens", "reasoningTokens"],
  ["webSearchRequests"],
];

/** True for a count an event may carry: an integer from 0 to `MAX_TOKEN_COUNT`. */
function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKEN_COUNT;
}

/** The groups of `usage` whose present fields are all valid counts; the names of the others go to `bad`. */
function validGroups(usage: Partial<Usage>, bad: string[]): Partial<Usage> {
  const kept: Partial<Usage> = {};
  for (const group of GROUPS) {
    if (group.every((field) => usage[field] === undefined || isCount(usage[field]))) {
      for (const field of group) if (usage[field] !== undefined) kept[field] = usage[field];
    } else {
      bad.push(...group);
    }
  }
  return kept;
}

/**
 * True when `buildEvent` will estimate the output counts of `reading`
 * because one it reports is malformed or out of range: the estimate then
 * comes from `reading.outputWeight`.
 */
export function outputMalformed(reading: Reading): boolean {
  const bad: string[] = [];
  validGroups({ ...reading.partial, ...reading.usage }, bad);
  return bad.includes("outputTokens");
}

/**
 * Builds the usage event; `completed` when the provider reported final usage,
 * else an estimated `aborted`. Every number that leaves in the event is
 * checked here: a count that is not an integer from 0 to `MAX_TOKEN_COUNT`
 * (malformed counts arrive as `NaN`) is reported to `onFault` and its group
 * estimated, and a cost outside 0 to `MAX_COST_USD` is reported and dropped;
 * either makes the event `estimated`.
 */
export function buildEvent(call: CallRecord, onFault: (error: StoaStreamError) => void): UsageEvent {
  const { provider, reading, facts } = call;
  const requestedModel = facts.requestedModel ?? str(facts.body.model) ?? "unknown";
  const providerRequestId = call.requestId ?? (provider.requestIdFromResponseId === true ? reading.id : undefined);
  const completed = reading.usage !== undefined;
  const bad: string[] = [];
  const partial = validGroups({ ...reading.partial, ...reading.usage }, bad);
  const exact = completed && bad.length === 0;
  if (bad.length > 0) {
    onFault(new StoaStreamError(`The provider reported malformed usage (${bad.join(", ")}); the event is estimated.`));
  }
  let costUsd = reading.costUsd;
  if (costUsd !== undefined && !(costUsd >= 0 && costUsd <= MAX_COST_USD)) {
    onFault(
      new StoaStreamError(
        "The provider reported a malformed or out-of-range cost; it was dropped and the event is estimated.",
      ),
    );
    costUsd = undefined;
  }
  const usage = exact ? (reading.usage as Usage) : estimateUsage(partial, facts.body, reading.outputWeight);
  const event: UsageEvent = {
    id: eventId(provider.id, reading.id, call.requestId),
    userId: call.userId,
    provider: provider.id,
    endpoint: facts.endpoint,
    model: reading.model ?? requestedModel,
    requestedModel,
    stream: facts.stream,
    status: completed ? "completed" : "aborted",
    estimated: !exact || costUsd !== reading.costUsd,
    usage: bounded(usage),
    occurredAt: new Date(call.startedAt).toISOString(),
    durationMs: Math.max(0, call.endedAt - call.startedAt),
    timeToFirstByteMs: Math.max(0, call.timeToFirstByteMs),
  };
  if (providerRequestId !== undefined) event.providerRequestId = providerRequestId;
  if (costUsd !== undefined) event.costUsd = costUsd;
  if (call.holdId !== undefined) event.holdId = call.holdId;
  if (call.metadata !== undefined) event.metadata = call.metadata;
  return event;
}

/** `usage` with each estimate held to `MAX_TOKEN_COUNT` (an estimate of an endless stream, say); reported counts are already checked. */
function bounded(usage: Usage): Usage {
  const out = { ...usage };
  for (const group of GROUPS) for (const field of group) out[field] = Math.min(out[field], MAX_TOKEN_COUNT);
  return out;
}
