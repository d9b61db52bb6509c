// Run by test/node-only/deno-kv-queue.test.ts under the real Deno: for each backoffSchedule and
// deadLetterPrefix, whether denoKvOutbox() takes it and whether Deno's kv.enqueue does.
// Prints one JSON line: { [case]: { stoa: "ok" | <error name>, deno: "ok" | <error name> } }.
import { type DenoKvLike, denoKvOutbox } from "../../../src/index.ts";

declare const Deno: { openKv(path: string): Promise<DenoKvLike & { close(): void }> };

const kv = await Deno.openKv(":memory:");
const schedules: Record<string, unknown> = {
  "5 delays": [1, 2, 3, 4, 5],
  "6 delays": [1, 2, 3, 4, 5, 6],
  empty: [],
  "0 and 1 hour": [0, 3_600_000],
  "1 hour + 1 ms": [3_600_001],
  negative: [-1],
  NaN: [Number.NaN],
  Infinity: [Number.POSITIVE_INFINITY],
  string: ["1000"],
  fraction: [1.5],
};
const prefixes: Record<string, unknown> = {
  "every key part": ["a", 1, 2n, true, new Uint8Array([1])],
  "empty prefix": [],
  null: [null],
  object: [{}],
  ArrayBuffer: [new ArrayBuffer(1)],
};

/** "ok", or the name of what `step` threw. */
async function verdict(step: () => unknown): Promise<string> {
  try {
    await step();
    return "ok";
  } catch (error) {
    return (error as Error).name;
  }
}

const report: Record<string, { stoa: string; deno: string }> = {};
for (const [name, backoffSchedule] of Object.entries(schedules)) {
  report[`backoffSchedule ${name}`] = {
    stoa: await verdict(() => denoKvOutbox(kv, { backoffSchedule: backoffSchedule as number[] })),
    deno: await verdict(() =>
      kv
        .atomic()
        .enqueue("x", { backoffSchedule: backoffSchedule as number[] })
        .commit(),
    ),
  };
}
for (const [name, prefix] of Object.entries(prefixes)) {
  const keysIfUndelivered = [[...(prefix as unknown[]), "id"]];
  report[`deadLetterPrefix ${name}`] = {
    stoa: await verdict(() => denoKvOutbox(kv, { deadLetterPrefix: prefix as string[] })),
    deno: await verdict(() => kv.atomic().enqueue("x", { keysIfUndelivered }).commit()),
  };
}
console.log(JSON.stringify(report));
kv.close();
