/**
 * Deno KV as the durable outbox: `denoKvOutbox(kv)` makes a queue producer
 * of a `Deno.Kv` (one atomic commit of `enqueue`s per hand-off), and
 * `stoa.handleDenoQueue(value)` is the `kv.listenQueue` side (`consumeDenoQueueValue`,
 * in `queue-consumer.ts`, loaded when first called). A message that
 * Deno could not deliver after its retries is written under
 * `[...deadLetterPrefix, <uuid>]` (`keysIfUndelivered`), to be replayed.
 */

import { StoaConfigError } from "../errors.ts";
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

/** A part of a Deno KV key, as `kv.enqueue` takes it. */
export type DenoKvKeyPart = string | number | bigint | boolean | Uint8Array;

/** Options of {@link denoKvOutbox}. */
export interface DenoKvOutboxOptions {
  /** Where undelivered messages are kept: `[...prefix, <uuid>]` (default `["stoa", "undelivered"]`). */
  deadLetterPrefix?: readonly DenoKvKeyPart[];
  /**
   * Deno's retry delays in ms (default: Deno's own schedule): at most 5, each
   * a whole number from 0 to 3 600 000 (1 hour), as `kv.enqueue` requires.
   */
  backoffSchedule?: readonly number[];
}

/** `kv.enqueue`'s limits on `backoffSchedule`: intervals, and the longest one in ms. */
const MAX_BACKOFF_INTERVALS = 5;
const MAX_BACKOFF_MS = 3_600_000;

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
 * A copy of `schedule` once it is one `kv.enqueue` takes (else Deno would
 * throw at every `sendBatch`), or `undefined` for Deno's own.
 *
 * @throws {StoaConfigError} when it is not at most 5 whole numbers of ms from 0 to 1 hour.
 */
function checkBackoffSchedule(schedule: unknown): number[] | undefined {
  if (schedule === undefined) return undefined;
  const valid =
    Array.isArray(schedule) &&
    schedule.length <= MAX_BACKOFF_INTERVALS &&
    schedule.every((ms) => Number.isInteger(ms) && ms >= 0 && ms <= MAX_BACKOFF_MS);
  if (!valid) {
    throw new StoaConfigError(
      "denoKvOutbox({ backoffSchedule }) must be an array of at most 5 delays, each a whole number of milliseconds from 0 to 3 600 000 (1 hour), e.g. [1000, 5000, 30000]; leave it out for Deno's own schedule.",
    );
  }
  return [...(schedule as number[])];
}

/** True for a value Deno KV takes as a key part. */
function isKeyPart(part: unknown): part is DenoKvKeyPart {
  const type = typeof part;
  return (
    type === "string" || type === "number" || type === "bigint" || type === "boolean" || part instanceof Uint8Array
  );
}

/**
 * A copy of `prefix` once it is an array of Deno KV key parts, or the default.
 *
 * @throws {StoaConfigError} when it is not.
 */
function checkDeadLetterPrefix(prefix: unknown): DenoKvKeyPart[] {
  if (prefix === undefined) return ["stoa", "undelivered"];
  if (!Array.isArray(prefix) || !prefix.every(isKeyPart)) {
    throw new StoaConfigError(
      'denoKvOutbox({ deadLetterPrefix }) must be an array of Deno KV key parts (strings, numbers, bigints, booleans or Uint8Arrays), e.g. ["stoa", "undelivered"].',
    );
  }
  return [...prefix];
}

/**
 * A queue producer on Deno KV, for `new Stoa({ outbox: denoKvOutbox(kv) })`.
 * Consume it with `kv.listenQueue((value) => stoa.handleDenoQueue(value))`.
 * The options are checked at once, against `kv.enqueue`'s limits.
 *
 * @throws {StoaConfigError} for a `backoffSchedule` or `deadLetterPrefix` Deno would refuse.
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
  const prefix = checkDeadLetterPrefix(options.deadLetterPrefix);
  const backoffSchedule = checkBackoffSchedule(options.backoffSchedule);
  return {
    [QUEUE_LIMITS]: DENO_KV_LIMITS,
    async sendBatch(messages: Iterable<QueueSendRequest>) {
      let atomic = kv.atomic();
      for (const message of messages) {
        atomic = atomic.enqueue(message.body, {
          keysIfUndelivered: [[...prefix, crypto.randomUUID()]],
          ...(backoffSchedule === undefined ? {} : { backoffSchedule }),
        });
      }
      const result = await atomic.commit();
      if (!result.ok) throw new Error("Deno KV did not commit the enqueue");
    },
  } as QueueProducer;
}
