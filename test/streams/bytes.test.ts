/** The package's one UTF-8 length, held against `TextEncoder`. */
import { describe, expect, it } from "vitest";
import { utf8Length } from "../../src/streams/bytes.ts";

const encoder = new TextEncoder();
const SAMPLES = [
  "",
  "abc",
  "é",
  "€",
  "🎉",
  "héllo 你好 🎉",
  "\uD800",
  "\uDC00",
  "\uD800é",
  "\uD800\uD800\uDC00",
  "a\uDBFF",
  "\uDFFF\uD800x",
];

describe("utf8Length", () => {
  it("is the length TextEncoder writes, lone surrogates included (3 bytes: U+FFFD)", () => {
    expect(SAMPLES.map((s) => utf8Length(s))).toEqual(SAMPLES.map((s) => encoder.encode(s).length));
    expect(SAMPLES.map((s) => utf8Length(s))).toEqual([0, 3, 2, 3, 4, 18, 3, 3, 5, 7, 4, 7]);
  });

  it("measures text[0, end) as TextEncoder measures the slice, a pair cut by end included", () => {
    for (const sample of SAMPLES) {
      for (let end = 0; end <= sample.length; end++) {
        expect(utf8Length(sample, end)).toBe(encoder.encode(sample.slice(0, end)).length);
      }
    }
  });
});
