/**
 * Deno KV as the durable outbox: `denoKvOutbox(kv)` makes a queue producer
 * of a `Deno.Kv` (one atomic commit of `enqueue`s per hand-off), and
 * `stoa.handleDenoQueue(value)` is the `kv.listenQueue` side (`consumeDenoQueueValue`,
 * in `queue-consumer.ts`, loaded when first called). A message that
 * Deno could not deliver after its retries is written under
 * `[...deadLetterPrefix, <uuid>]` (`keysIfUndelivered`), to be replayed.
 */

import { QUEUE_LIMITS, type QueueLimits, type QueueProducer, type QueueSendRequest } from "./queue-producer.ts";

/** The part of `Deno.Kv` the outbox uses. */
export interface DenoKvLike {
  atomic(): DenoKvAtomicLike;
}

/** The part of `Deno.AtomicOperation` the outbox uses. */
export interface DenoKvAtomicLike {
  enqueue(
    value: unknown,
    options?: { delay?: number; keysIfUndelivered?: unknown[][]; backoffSchedule?: number[] },
  ): DenoKvAtomicLike;
  commit(): Promise<{ ok: boolean }>;
}

/** Options of {@link denoKvOutbox}. */
export interface DenoKvOutboxOptions {
  /** Where undelivered messages are kept: `[...prefix, <uuid>]` (default `["stoa", "undelivered"]`). */
  deadLetterPrefix?: string[];
  /** Deno's retry delays in ms (default: Deno's own schedule). */
  backoffSchedule?: number[];
}

/**
 * Deno KV: a value is at most 64 KiB once V8-serialised, where a string
 * with any non-Latin-1 character takes two bytes a character; an atomic
 * commit at most 800 KiB. So a message is kept to 30 000 UTF-8 bytes (at
 * most 60 000 serialised), a commit to 10 messages and 300 000 bytes. An
 * event larger than a message is delivered directly instead.
 */
export const DENO_KV_LIMITS: QueueLimits = {
  maxMessageBytes: 30_000,
  maxEventBytes: 30_000 - 40,
  maxBatchMessages: 10,
  maxBatchBytes: 300_000,
};

/**
 * A queue producer on Deno KV, for `new Stoa({ outbox: denoKvOutbox(kv) })`.
 * Consume it with `kv.listenQueue((value) => stoa.handleDenoQueue(value))`.
 *
 * @example
 * ```ts
 * const kv = await Deno.openKv();
 * const stoa = new Stoa({ outbox: denoKvOutbox(kv) });
 * kv.listenQueue(async (value) => {
 *   if (await stoa.handleDenoQueue(value)) return;
 *   // … the app's own messages
 * });
 * ```
 */
export function denoKvOutbox(kv: DenoKvLike, options: DenoKvOutboxOptions = {}): QueueProducer {
  const prefix = options.deadLetterPrefix ?? ["stoa", "undelivered"];
  return {
    [QUEUE_LIMITS]: DENO_KV_LIMITS,
    async sendBatch(messages: Iterable<QueueSendRequest>) {
      let atomic = kv.atomic();
      for (const message of messages) {
        atomic = atomic.enqueue(message.body, {
          keysIfUndelivered: [[...prefix, crypto.randomUUID()]],
          ...(options.backoffSchedule === undefined ? {} : { backoffSchedule: options.backoffSchedule }),
        });
      }
      const result = await atomic.commit();
      if (!result.ok) throw new Error("Deno KV did not commit the enqueue");
    },
  } as QueueProducer;
}
