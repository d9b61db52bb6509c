/**
 * The queue producer an app passes as `new Stoa({ outbox })`: its shape,
 * the limits it may state, and the check made when `Stoa` is built. The
 * queue outbox itself (`queue-outbox.ts`) loads with the first event.
 */
import { StoaConfigError } from "../errors.ts";

/** One message of a `sendBatch` (Cloudflare's `MessageSendRequest`). */
export interface QueueSendRequest {
  body: unknown;
  contentType?: "text" | "json" | "bytes" | "v8";
  delaySeconds?: number;
}

/**
 * A queue producer: a Cloudflare Queues binding (`env.STOA_EVENTS`), or
 * anything else with the same `sendBatch`, such as {@link denoKvOutbox}'s.
 * It resolves once the messages are durably queued and rejects otherwise.
 */
export interface QueueProducer {
  sendBatch(messages: Iterable<QueueSendRequest>, options?: { delaySeconds?: number }): Promise<unknown>;
}

/** The size limits a producer's messages and batches keep to, in UTF-8 bytes of message text. */
export interface QueueLimits {
  /** Target size of one message; one event larger than it goes alone (if the queue takes it). */
  maxMessageBytes: number;
  /** The most one event may be to go through the queue; a larger one is delivered directly. */
  maxEventBytes: number;
  /** Messages in one `sendBatch`. */
  maxBatchMessages: number;
  /** Bytes in one `sendBatch`. */
  maxBatchBytes: number;
}

/** A producer may state its own limits under this key (Deno KV does); else {@link CLOUDFLARE_QUEUE_LIMITS}. */
export const QUEUE_LIMITS: unique symbol = Symbol.for("@onstoa/sdk/queue-limits");

/** What a value passed as `outbox` is: a producer, or why not. */
export function checkQueueProducer(value: unknown): QueueProducer {
  const hint =
    "outbox must be a Cloudflare Queues producer binding (e.g. `outbox: env.STOA_EVENTS`, declared under [[queues.producers]] in wrangler.toml) or `denoKvOutbox(await Deno.openKv())`; leave it out to deliver from memory.";
  if (typeof value !== "object" || value === null) {
    throw new StoaConfigError(`${hint} Got ${value === null ? "null" : typeof value}: is the binding missing?`);
  }
  if (typeof (value as { sendBatch?: unknown }).sendBatch !== "function") {
    if (typeof (value as { enqueue?: unknown }).enqueue === "function") {
      throw new StoaConfigError(
        "outbox was given a Deno KV handle: wrap it, `outbox: denoKvOutbox(kv)`, so that messages keep to KV's limits.",
      );
    }
    throw new StoaConfigError(`${hint} Got an object without sendBatch().`);
  }
  return value as QueueProducer;
}
