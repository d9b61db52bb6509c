import { describe, expect, it } from "vitest";
import { ENVELOPE_BYTES } from "../../src/api/usage-events.ts";
import { packBatches } from "../../src/delivery/batch.ts";
import { utf8Length } from "../../src/streams/bytes.ts";

describe("utf8Length", () => {
  it("matches TextEncoder on ASCII, 2-, 3- and 4-byte characters and lone surrogates", () => {
    const samples = ["", "abc", "é", "€", "😀", "a😀é€z", "\ud800", "x\udc00y", "\ud83d"];
    expect(samples.map((s) => utf8Length(s))).toEqual(samples.map((s) => new TextEncoder().encode(s).byteLength));
    expect(samples.map((s) => utf8Length(s))).toEqual([0, 3, 2, 3, 4, 11, 3, 5, 3]);
  });
});

describe("packBatches", () => {
  const items = (sizes: number[]) => sizes.map((bytes, i) => ({ item: i, bytes }));

  it("is 13 bytes of envelope", () => {
    expect(ENVELOPE_BYTES).toBe('{"events":[]}'.length);
  });

  it("cuts by count", () => {
    expect(packBatches(items([1, 1, 1, 1, 1]), 2, 1000)).toEqual([[0, 1], [2, 3], [4]]);
    expect(packBatches(items([]), 2, 1000)).toEqual([]);
  });

  it("fills a body to the exact byte limit, commas included", () => {
    // 13 + 10 + 1 + 10 = 34 bytes: two fit in 34, not in 33
    expect(packBatches(items([10, 10, 10]), 500, 34)).toEqual([[0, 1], [2]]);
    expect(packBatches(items([10, 10, 10]), 500, 33)).toEqual([[0], [1], [2]]);
  });

  it("keeps the order of the items", () => {
    expect(packBatches(items([5, 30, 5, 5]), 500, 50)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
