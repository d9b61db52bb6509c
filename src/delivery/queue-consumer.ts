/**
 * The queue consumer: delivers the usage events of a queue batch to Stoa
 * with the existing delivery code, for a Cloudflare `queue()` handler
 * (`stoa.handleQueue`) and for Deno KV's `listenQueue` (`stoa.handleDenoQueue`).
 * Whole messages go into each `POST /v1/usage/events` (≤ 500 events, ≤ 1 MiB),
 * so a message is acked or retried with the POST that carried it. The
 * idempotency key is a hash of the POST's event ids, and Stoa ignores an
 * event id it already has: a redelivered message never bills twice.
 */

import type { ApiClient } from "../api/types.ts";
import {
  ENVELOPE_BYTES,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  postUsageEvents,
  type Rejection,
  rejectionError,
} from "../api/usage-events.ts";
import { StoaConfigError, StoaDeliveryError } from "../errors.ts";
import { utf8Length } from "../streams/bytes.ts";
import type { UsageEvent } from "../usage.ts";
import { QUEUE_MESSAGE_FORMAT, readQueueMessage } from "./queue-message.ts";

/** One message of a Cloudflare `MessageBatch`, as far as Stoa uses it. */
export interface QueueMessage {
  readonly id: string;
  /** 1 on the first delivery. */
  readonly attempts: number;
  readonly body: unknown;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/** A Cloudflare `MessageBatch`, as far as Stoa uses it. */
export interface QueueBatch {
  readonly queue: string;
  readonly messages: readonly QueueMessage[];
}

/** Options of `stoa.handleQueue()`. */
export interface HandleQueueOptions {
  /**
   * The consumer's `max_retries` in wrangler.toml, a whole number from 0 to
   * 100 (default 3, Cloudflare's): a message that fails on its last attempt
   * goes to the dead-letter queue, and `onError` hears of its events then.
   */
  maxRetries?: number;
  /**
   * The delay before a failed message's next attempt, by the number of
   * attempts made so far. Default: 10 s doubling per attempt, at most 15 min.
   */
  retryDelaySeconds?: (attempts: number) => number;
}

/** 10 s, 20 s, 40 s, … up to 15 min. */
export function defaultRetryDelaySeconds(attempts: number): number {
  return Math.min(900, 10 * 2 ** Math.max(0, Math.min(attempts - 1, 16)));
}

/** What one delivery of a group of events came to. */
export type Outcome = { ok: true } | { ok: false; cause: unknown };

/**
 * The idempotency key of a POST of `events`: a SHA-256 of their ids in
 * order, so the same events in the same order (a redelivered batch) reuse
 * the key and Stoa answers the first POST's result again.
 */
export async function queueIdempotencyKey(events: readonly UsageEvent[]): Promise<string> {
  const ids = events.map((event) => event.id).join("\n");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ids)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return `stoa-queue-${hex}`;
}

/**
 * Posts `events` (at most one POST's worth) and reports what Stoa
 * rejected. Resolves `ok` when Stoa answered 2xx (stored or rejected: both
 * final), else with the cause. Never rejects.
 */
export async function deliverEvents(
  api: ApiClient,
  events: readonly UsageEvent[],
  report: (error: Error) => void,
): Promise<Outcome> {
  let rejected: Rejection[];
  try {
    ({ rejected } = await postUsageEvents(api, events, await queueIdempotencyKey(events)));
  } catch (cause) {
    return { ok: false, cause };
  }
  if (rejected.length > 0) {
    report(rejectionError(events, rejected));
  }
  return { ok: true };
}

/** Groups items, in order, into POSTs of at most 500 events and 1 MiB. */
function groupForPosts<T extends { events: UsageEvent[]; bytes: number }>(items: readonly T[]): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let count = 0;
  let bytes = ENVELOPE_BYTES;
  for (const item of items) {
    if (current.length > 0 && (count + item.events.length > MAX_BATCH_EVENTS || bytes + item.bytes > MAX_BATCH_BYTES)) {
      groups.push(current);
      current = [];
      count = 0;
      bytes = ENVELOPE_BYTES;
    }
    current.push(item);
    count += item.events.length;
    bytes += item.bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The JSON bytes `events` add to a POST body, commas included. */
function eventBytes(events: readonly UsageEvent[]): number {
  let bytes = 0;
  for (const event of events) bytes += utf8Length(JSON.stringify(event)) + 1;
  return bytes;
}

/** What reading one message came to: its events and their JSON bytes, not Stoa's, or unreadable. */
type MessageRead =
  | { kind: "events"; events: UsageEvent[]; bytes: number }
  | { kind: "foreign" }
  | { kind: "unreadable"; events: UsageEvent[]; cause: unknown };

/**
 * Reads one message's body and sizes its events, never throwing: a body
 * that cannot be read (a `v8` body whose deserialisation fails) or an event
 * JSON cannot carry (a BigInt, a cycle) makes it `unreadable`, with the
 * events read so far.
 */
function readMessage(message: { readonly body: unknown }): MessageRead {
  let events: UsageEvent[] | undefined;
  try {
    events = readQueueMessage(message.body);
    return events === undefined ? { kind: "foreign" } : { kind: "events", events, bytes: eventBytes(events) };
  } catch (cause) {
    return { kind: "unreadable", events: events ?? [], cause };
  }
}

/**
 * The report of a message in Stoa's format that could not be read, with the
 * events read from it: `what` names the message, `fate` says what became of
 * it and how to keep it from happening.
 */
function unreadableError(
  what: string,
  read: { events: UsageEvent[]; cause: unknown },
  fate: string,
): StoaDeliveryError {
  const why = read.cause instanceof Error ? `${read.cause.name}: ${read.cause.message}` : String(read.cause);
  return new StoaDeliveryError(`${what} could not be read as a Stoa usage batch (${why}); ${fate}`, read.events, {
    cause: read.cause,
  });
}

/** Cloudflare's largest `max_retries`. */
const MAX_QUEUE_RETRIES = 100;

/**
 * The `maxRetries` option, or Cloudflare's default 3.
 *
 * @throws {StoaConfigError} when it is not a whole number from 0 to 100 (a
 * wrong one would silently keep `onError` from hearing of lost events).
 */
function checkMaxRetries(maxRetries: unknown): number {
  if (maxRetries === undefined) return 3;
  if (
    typeof maxRetries === "number" &&
    Number.isInteger(maxRetries) &&
    maxRetries >= 0 &&
    maxRetries <= MAX_QUEUE_RETRIES
  ) {
    return maxRetries;
  }
  throw new StoaConfigError(
    "handleQueue({ maxRetries }) must be the consumer's max_retries from wrangler.toml, a whole number from 0 to 100; leave it out for Cloudflare's default, 3.",
  );
}

/**
 * Handles a Cloudflare queue batch: acks each message whose events Stoa
 * stored or rejected (rejections reach `report`), retries with a delay each
 * message whose POST failed (on its last attempt `report` hears of its
 * events, which go to the dead-letter queue), and acks and reports a message
 * that is not a Stoa usage batch or cannot be read, while the others go on.
 *
 * @throws {StoaConfigError} for a bad `maxRetries`, before any message is
 * acked or retried; otherwise never throws.
 */
export async function consumeQueueBatch(
  api: ApiClient,
  batch: QueueBatch,
  report: (error: Error) => void,
  options: HandleQueueOptions = {},
): Promise<void> {
  const maxRetries = checkMaxRetries(options.maxRetries);
  const delayFor = options.retryDelaySeconds ?? defaultRetryDelaySeconds;
  const items: { message: QueueMessage; events: UsageEvent[]; bytes: number }[] = [];
  for (const message of batch.messages) {
    const read = readMessage(message);
    if (read.kind === "events") {
      items.push({ message, events: read.events, bytes: read.bytes });
      continue;
    }
    report(
      read.kind === "foreign" ? foreignMessageError(message, batch) : unreadableMessageError(message, batch, read),
    );
    safely(() => message.ack());
  }
  await Promise.all(
    groupForPosts(items).map(async (group) => {
      const events = group.flatMap((item) => item.events);
      const outcome = await deliverEvents(api, events, report);
      for (const { message, events } of group) {
        if (outcome.ok) {
          safely(() => message.ack());
          continue;
        }
        const attempts = Number.isInteger(message.attempts) && message.attempts > 0 ? message.attempts : 1;
        if (attempts > maxRetries) {
          const why = outcome.cause instanceof Error ? outcome.cause.message : String(outcome.cause);
          report(
            new StoaDeliveryError(
              `${events.length} usage event(s) of message ${message.id} were not delivered after ${attempts} attempts (${why}); the message goes to the queue's dead-letter queue, if it has one.`,
              events,
              { cause: outcome.cause },
            ),
          );
        }
        const delaySeconds = Math.max(0, Math.min(43_200, Math.round(delayFor(attempts)) || 0));
        safely(() => message.retry({ delaySeconds }));
      }
    }),
  );
}

/** The hint for a queue that carries more than Stoa's messages. */
const ONLY_STOA_MESSAGES = "Send only `new Stoa({ outbox })`'s messages to the queue that stoa.handleQueue() consumes.";

/** The report of a message that is not a Stoa usage batch. */
function foreignMessageError(message: QueueMessage, batch: QueueBatch): StoaConfigError {
  return new StoaConfigError(
    `Message ${message.id} on queue ${batch.queue} is not a Stoa usage batch; it was acked and dropped. ${ONLY_STOA_MESSAGES}`,
  );
}

/** The report of a message that could not be read, with the events read from it. */
function unreadableMessageError(
  message: QueueMessage,
  batch: QueueBatch,
  read: { events: UsageEvent[]; cause: unknown },
): StoaDeliveryError {
  return unreadableError(
    `Message ${message.id} on queue ${batch.queue}`,
    read,
    `it was acked and dropped, with what events could be read attached. ${ONLY_STOA_MESSAGES}`,
  );
}

/** Runs an ack or retry, ignoring that the message was already acked or retried. */
function safely(step: () => void): void {
  try {
    step();
  } catch {
    // a message already acked or retried: nothing more to do
  }
}

/**
 * Delivers one Deno KV queue value. Resolves `false` when it is not a Stoa
 * message (the app's own), `true` once Stoa stored or rejected its events
 * (rejections reach `report`) or when it is in Stoa's format but cannot be
 * read (reported, not retried). When Stoa could not be reached or refused
 * the POST, `report` hears of the events and the same `StoaDeliveryError`
 * is thrown, so that Deno retries the message: Deno gives no attempt
 * count, so `report` hears of every failed attempt, the last one included.
 */
export async function consumeDenoQueueValue(
  api: ApiClient,
  value: unknown,
  report: (error: Error) => void,
): Promise<boolean> {
  const read = readMessage({ body: value });
  if (read.kind === "foreign") return false;
  if (read.kind === "unreadable") {
    const fate = `it was dropped, with what events could be read attached. Enqueue nothing else with a \`stoa\` field of "${QUEUE_MESSAGE_FORMAT}".`;
    report(unreadableError("A Deno KV queue message", read, fate));
    return true;
  }
  const outcome = await deliverEvents(api, read.events, report);
  if (outcome.ok) return true;
  const why = outcome.cause instanceof Error ? outcome.cause.message : String(outcome.cause);
  const error = new StoaDeliveryError(
    `${read.events.length} usage event(s) were not delivered to Stoa (${why}); Deno will retry the message, and after its last retry keeps it under denoKvOutbox()'s deadLetterPrefix (["stoa", "undelivered", …] by default). onError hears of every failed attempt, so it may hear of these events again.`,
    read.events,
    { cause: outcome.cause },
  );
  report(error);
  throw error;
}
