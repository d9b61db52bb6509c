/**
 * The byte-level SSE parser against eventsource-parser as a reference: the
 * same events for every way a stream can be cut into chunks.
 */
import { createParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { createSseParser } from "../../src/streams/sse.ts";

const encoder = new TextEncoder();

/** Events as eventsource-parser sees the whole text. */
function reference(text: string): string[] {
  const out: string[] = [];
  const parser = createParser({ onEvent: (event) => out.push(event.data) });
  parser.feed(text);
  return out;
}

/** Events as our parser sees the bytes in the given chunks. */
interface Info {
  dataLength: number;
  head: string | undefined;
}

function ours(chunks: Uint8Array[], maxEventLength?: number): { data: string[]; infos: Info[] } {
  const data: string[] = [];
  const infos: Info[] = [];
  const parser = createSseParser(
    (value, dataLength, head) => {
      data.push(value);
      infos.push({ dataLength, head });
      return undefined;
    },
    maxEventLength === undefined ? {} : { maxEventLength },
  );
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return { data, infos };
}

function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(bytes.slice(from, cut));
    from = cut;
  }
  out.push(bytes.slice(from));
  return out;
}

const SAMPLE = [
  "\uFEFF: a comment first\n",
  'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"h\\u00e9llo"}}]}\n\n',
  "event: ping\ndata: {}\n\n",
  "data: first line\ndata: second line\n\n",
  'data: {"content":"wörld 你好 🎉"}\r\n\r\n',
  "data:no-space\r\rdata: after a bare CR\r\n\r\n",
  ": OPENROUTER PROCESSING\n\n",
  "id: 7\nretry: 10\ndata:  two spaces\n\n",
  "data: [DONE]\n\n",
].join("");

describe("createSseParser", () => {
  const bytes = encoder.encode(SAMPLE);
  const expected = reference(SAMPLE);

  it("reads the sample like eventsource-parser", () => {
    expect(expected).toHaveLength(8);
    expect(ours([bytes]).data).toEqual(expected);
  });

  it("gives the same events when cut at every byte", () => {
    const oneByte = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(ours(oneByte).data).toEqual(expected);
  });

  it("gives the same events for every split into two chunks and many three-chunk splits", () => {
    for (let i = 0; i <= bytes.length; i++) {
      expect(ours(splitAt(bytes, i)).data).toEqual(expected);
    }
    for (let i = 0; i <= bytes.length; i += 7) {
      for (let j = i; j <= bytes.length; j += 5) {
        expect(ours(splitAt(bytes, i, j)).data).toEqual(expected);
      }
    }
  });

  it("strips a BOM split across chunks", () => {
    const text = "\uFEFFdata: x\n\n";
    const b = encoder.encode(text);
    expect(ours(splitAt(b, 1, 2)).data).toEqual(["x"]);
    expect(ours(splitAt(b, 2)).data).toEqual(["x"]);
  });

  it("reports the byte offset after the last complete event, multi-byte text and a BOM included", () => {
    const text = "\uFEFFdata: a\n\n: c\ndata: bé🎉\r\n\r\ndata: tail";
    const bytes = encoder.encode(text);
    const [first, last] = [3 + 9, bytes.length - 10];
    for (let cut = 0; cut <= bytes.length; cut++) {
      const parser = createSseParser(() => undefined, { offsets: true });
      const seen: number[] = [];
      for (const chunk of splitAt(bytes, cut)) {
        parser.feed(chunk);
        seen.push(parser.boundary);
      }
      expect(parser.boundary).toBe(last);
      // a cut between the CR and the LF of the last CRLF: the boundary moves past the LF with the next chunk
      const expected = cut === last - 1 ? cut : cut >= last ? last : cut >= first ? first : 0;
      expect(seen[0]).toBe(expected);
    }
  });

  it("marks the byte range of each dropped event, for every split", () => {
    const text = "data: keep\n\ndata: dröp\r\n\r\ndata: keep\n\n";
    const bytes = encoder.encode(text);
    const start = 12;
    const end = start + encoder.encode("data: dröp\r\n\r\n").length;
    for (let cut = 0; cut <= bytes.length; cut++) {
      const parser = createSseParser((data) => data === "dröp", { offsets: true });
      for (const chunk of splitAt(bytes, cut)) parser.feed(chunk);
      parser.end();
      // a CRLF cut between its CR and LF drops the LF as a range of its own: merge touching ranges
      const merged = parser.dropped.reduce<[number, number][]>((all, [from, to]) => {
        const last = all[all.length - 1];
        if (last !== undefined && last[1] === from) last[1] = to;
        else all.push([from, to]);
        return all;
      }, []);
      expect(merged).toEqual([[start, end]]);
    }
  });

  it("dispatches a last event that has no blank line after it (metering policy)", () => {
    expect(reference("data: a\n\ndata: b")).toEqual(["a"]);
    expect(ours([encoder.encode("data: a\n\ndata: b")]).data).toEqual(["a", "b"]);
    expect(ours([encoder.encode("data: a\n\ndata: b\n")]).data).toEqual(["a", "b"]);
  });

  it("keeps the head and the tail of an event past maxEventLength, with its true size", () => {
    const big = "x".repeat(300_000);
    const text = `data: {"type":"big","content":"${big}","usage":{"n":1}}\n\ndata: after\n\n`;
    const b = encoder.encode(text);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < b.length; i += 1000) chunks.push(b.slice(i, i + 1000));
    const { data, infos } = ours(chunks, 100_000);
    expect(data).toHaveLength(2);
    expect(infos[0]?.dataLength).toBe(text.indexOf("\n\n") - 6);
    expect(infos[0]?.head?.startsWith('{"type":"big"')).toBe(true);
    expect(data[0]?.endsWith('"usage":{"n":1}}')).toBe(true);
    expect(data[0]?.length).toBeLessThanOrEqual(64 * 1024);
    expect(data[1]).toBe("after");
  });

  it("bounds memory on a 10 MB single line that arrives in one chunk", () => {
    const big = "y".repeat(10 * 1024 * 1024);
    const text = `data: {"content":"${big}"}\n\ndata: {"usage":{"total_tokens":3}}\n\n`;
    const { data, infos } = ours([encoder.encode(text)]);
    expect(infos[0]?.dataLength).toBe(big.length + 14);
    expect(data[0]?.length).toBe(64 * 1024);
    expect(data[1]).toBe('{"usage":{"total_tokens":3}}');
  });

  it("joins many data lines of one huge event without holding them all", () => {
    const line = `data: ${"z".repeat(1000)}\n`;
    const text = `${line.repeat(2000)}\ndata: next\n\n`;
    const { data, infos } = ours([encoder.encode(text)], 100_000);
    expect(infos[0]?.dataLength).toBe(2000 * 1000 + 1999);
    expect(data[0]?.length).toBe(64 * 1024);
    expect(data[1]).toBe("next");
  });
});

/** A seeded PRNG (mulberry32): a failing run is reproduced from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pieces of SSE text: fields, line ends, multi-byte text, and the marker of an event to drop. */
const PIECES = [
  "data:",
  "data: ",
  "data",
  "dat",
  "data:x",
  "event: ping",
  "event:",
  "id: 7",
  "retry: 10",
  ": comment",
  ":",
  " ",
  "\n",
  "\n",
  "\r",
  "\r\n",
  "\r\n",
  "\n\n",
  "\r\n\r\n",
  "\r\r",
  "{}",
  "ab",
  "é",
  "你好",
  "🎉",
  "DROP",
];

/** A random stream of SSE text and a random cut of its bytes into chunks, empty chunks included. */
function fuzzCase(next: () => number): { text: string; chunks: Uint8Array[] } {
  const count = 1 + Math.floor(next() * 40);
  let text = next() < 0.1 ? "\uFEFF" : "";
  for (let i = 0; i < count; i++) text += PIECES[Math.floor(next() * PIECES.length)];
  const bytes = encoder.encode(text);
  const chunks: Uint8Array[] = [];
  let from = 0;
  while (from < bytes.length) {
    if (next() < 0.2) chunks.push(new Uint8Array(0));
    const size = next() < 0.5 ? 1 + Math.floor(next() * 3) : Math.floor(next() * 12);
    chunks.push(bytes.slice(from, from + size));
    from += size;
  }
  if (next() < 0.2) chunks.push(new Uint8Array(0));
  return { text, chunks };
}

/** `bytes` less the `[from, to)` ranges. */
function without(bytes: Uint8Array, ranges: [number, number][]): Uint8Array {
  const out: number[] = [];
  let at = 0;
  for (const [from, to] of ranges) {
    for (let i = at; i < from; i++) out.push(bytes[i] as number);
    at = Math.max(at, to);
  }
  for (let i = at; i < bytes.length; i++) out.push(bytes[i] as number);
  return Uint8Array.from(out);
}

describe("createSseParser against eventsource-parser, fuzzed", () => {
  it("reads empty chunks anywhere, a CRLF split around one included", () => {
    const bytes = encoder.encode(SAMPLE);
    const expected = reference(SAMPLE);
    const empty = new Uint8Array(0);
    for (let i = 0; i <= bytes.length; i++) {
      const [a, b] = splitAt(bytes, i) as [Uint8Array, Uint8Array];
      expect(ours([empty, a, empty, empty, b, empty]).data).toEqual(expected);
    }
    // a usage-only event after a CR|empty|LF cut stays its own event and can be dropped
    const text = "data: a\r\n\r\ndata: usage\r\n\r\ndata: b\r\n\r\n";
    const b = encoder.encode(text);
    const cr = text.indexOf("\r\n\r\ndata: usage") + 3;
    const parser = createSseParser((data) => data === "usage", { offsets: true });
    for (const chunk of [b.slice(0, cr), empty, b.slice(cr)]) parser.feed(chunk);
    parser.end();
    expect(new TextDecoder().decode(without(b, parser.dropped))).toBe("data: a\r\n\r\ndata: b\r\n\r\n");
  });

  it("reads a bare `data` line as an empty data field, as the SSE spec does", () => {
    const text = "data\n\ndata\ndata: x\n\ndatax\n\n";
    expect(reference(text)).toEqual(["", "\nx"]);
    expect(ours([encoder.encode(text)]).data).toEqual(["", "\nx"]);
  });

  it("gives the same events and drops exactly the marked ones, for 20,000 random streams and cuts", () => {
    const SEED = 0x5eed;
    const next = random(SEED);
    for (let run = 0; run < 20_000; run++) {
      const { text, chunks } = fuzzCase(next);
      // the metering policy dispatches a last event left without its blank line: the reference needs one
      const expected = reference(`${text}\n\n`);
      const data: string[] = [];
      const parser = createSseParser(
        (value) => {
          data.push(value);
          return value.includes("DROP");
        },
        { offsets: true },
      );
      for (const chunk of chunks) parser.feed(chunk);
      parser.end();
      const kept = reference(`${new TextDecoder().decode(without(encoder.encode(text), parser.dropped))}\n\n`);
      const context = `seed ${SEED}, run ${run}: ${JSON.stringify(text)} cut ${JSON.stringify(chunks.map((c) => c.length))}`;
      expect(data, context).toEqual(expected);
      expect(kept, context).toEqual(expected.filter((value) => !value.includes("DROP")));
    }
  });
});
