import { describe, expect, it } from "vitest";
import { prefixedReader } from "../../src/streams/prefixed-reader.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

function upstream(chunks: Uint8Array[]) {
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
  return stream.getReader();
}

describe("prefixedReader", () => {
  it("gives the chunks already read, then the read in flight, then reads on", async () => {
    const reader = upstream([bytes(3), bytes(4), bytes(5)]);
    const pending = reader.read(); // the read the meter had in flight: 3
    const prefixed = prefixedReader([bytes(1), bytes(2)], pending, reader);
    const seen: number[] = [];
    for (let result = await prefixed.read(); !result.done; result = await prefixed.read()) seen.push(...result.value);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it("passes on the failure of the read in flight after the chunks before it", async () => {
    const failure = new Error("connection reset");
    const prefixed = prefixedReader([bytes(1)], Promise.reject(failure), upstream([]));
    expect(await prefixed.read()).toEqual({ done: false, value: bytes(1) });
    await expect(prefixed.read()).rejects.toBe(failure);
  });

  it("drops the chunks not yet given when cancelled, and cancels the upstream", async () => {
    let reason: unknown;
    const stream = new ReadableStream<Uint8Array>({
      cancel(why) {
        reason = why;
      },
    });
    const prefixed = prefixedReader([bytes(1), bytes(2)], undefined, stream.getReader());
    expect(await prefixed.read()).toEqual({ done: false, value: bytes(1) });
    await prefixed.cancel("enough");
    expect(reason).toBe("enough");
    expect(await prefixed.read()).toEqual({ done: true, value: undefined });
  });
});
