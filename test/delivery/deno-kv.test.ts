/**
 * `denoKvOutbox()` checks its options when it is called, against the limits
 * of Deno's `kv.enqueue` (the real Deno agrees: test/node-only/deno-kv-queue.test.ts),
 * so a schedule Deno would refuse never reaches `sendBatch`. Deno KV itself
 * is stood in for by a recorder of what is enqueued.
 */
import { describe, expect, it } from "vitest";
import type { DenoKvAtomicLike } from "../../src/delivery/deno-kv.ts";
import { type DenoKvLike, denoKvOutbox, StoaConfigError } from "../../src/index.ts";

type EnqueueOptions = Parameters<DenoKvAtomicLike["enqueue"]>[1];

/** A Deno KV that records each enqueue and commits. */
function recordingKv() {
  const enqueued: { value: unknown; options: EnqueueOptions }[] = [];
  const kv: DenoKvLike = {
    atomic() {
      const atomic: DenoKvAtomicLike = {
        enqueue(value, options) {
          enqueued.push({ value, options });
          return atomic;
        },
        commit: async () => ({ ok: true }),
      };
      return atomic;
    },
  };
  return { kv, enqueued };
}

const SCHEDULE_HINT =
  "denoKvOutbox({ backoffSchedule }) must be an array of at most 5 delays, each a whole number of milliseconds from 0 to 3 600 000 (1 hour), e.g. [1000, 5000, 30000]; leave it out for Deno's own schedule.";
const PREFIX_HINT =
  'denoKvOutbox({ deadLetterPrefix }) must be an array of Deno KV key parts (strings, numbers, bigints, booleans or Uint8Arrays), e.g. ["stoa", "undelivered"].';

/** The error `denoKvOutbox(kv, options)` throws, or undefined. */
function thrownBy(options: object): unknown {
  try {
    denoKvOutbox(recordingKv().kv, options);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe("denoKvOutbox options", () => {
  it.each([
    ["six delays", [1, 2, 3, 4, 5, 6]],
    ["a negative delay", [100, -1]],
    ["NaN", [Number.NaN]],
    ["a fraction of a millisecond", [1.5]],
    ["a delay over 1 hour", [3_600_001]],
    ["Infinity", [Number.POSITIVE_INFINITY]],
    ["a string", ["1000"]],
    ["not an array", 1000],
  ])("refuses a backoffSchedule with %s, saying how to fix it", (_, backoffSchedule) => {
    const error = thrownBy({ backoffSchedule });
    expect(error).toBeInstanceOf(StoaConfigError);
    expect((error as StoaConfigError).code).toBe("config_error");
    expect((error as StoaConfigError).message).toBe(SCHEDULE_HINT);
  });

  it.each([
    ["null", [null]],
    ["an object", [{}]],
    ["undefined", ["stoa", undefined]],
    ["an ArrayBuffer", [new ArrayBuffer(1)]],
    ["a symbol", [Symbol("stoa")]],
    ["not an array", "stoa"],
  ])("refuses a deadLetterPrefix with %s, saying how to fix it", (_, deadLetterPrefix) => {
    const error = thrownBy({ deadLetterPrefix });
    expect(error).toBeInstanceOf(StoaConfigError);
    expect((error as StoaConfigError).message).toBe(PREFIX_HINT);
  });

  it("takes the limits themselves and every kind of key part, and enqueues with them", async () => {
    const { kv, enqueued } = recordingKv();
    const backoffSchedule = [0, 1, 100, 60_000, 3_600_000];
    const bytes = new Uint8Array([1, 2]);
    const outbox = denoKvOutbox(kv, { backoffSchedule, deadLetterPrefix: ["app", 7, 8n, true, bytes] });
    backoffSchedule.push(5); // a change after the call is not seen
    await outbox.sendBatch([{ body: "message" }]);
    expect(enqueued).toHaveLength(1);
    expect(enqueued[0]?.value).toBe("message");
    expect(enqueued[0]?.options?.backoffSchedule).toEqual([0, 1, 100, 60_000, 3_600_000]);
    const [key] = enqueued[0]?.options?.keysIfUndelivered ?? [];
    expect(key?.slice(0, 5)).toEqual(["app", 7, 8n, true, bytes]);
    expect(key?.[5]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(key).toHaveLength(6);
  });

  it("takes an empty schedule (no retries) and leaves Deno's schedule alone when none is given", async () => {
    const empty = recordingKv();
    await denoKvOutbox(empty.kv, { backoffSchedule: [] }).sendBatch([{ body: "a" }]);
    expect(empty.enqueued[0]?.options?.backoffSchedule).toEqual([]);
    const none = recordingKv();
    await denoKvOutbox(none.kv).sendBatch([{ body: "b" }]);
    expect(Object.keys(none.enqueued[0]?.options ?? {})).toEqual(["keysIfUndelivered"]);
    expect(none.enqueued[0]?.options?.keysIfUndelivered?.[0]?.slice(0, 2)).toEqual(["stoa", "undelivered"]);
  });
});
