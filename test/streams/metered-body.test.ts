/**
 * The metered body in filter mode, split every way: the app reads exactly
 * the provider's bytes less the usage-only chunk, and the usage is read.
 */
import { describe, expect, it } from "vitest";
import { openai } from "../../src/providers/openai.ts";
import { meterBody } from "../../src/streams/metered-body.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function chunk(content: string): string {
  return `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}],"usage":null}`;
}
const USAGE = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`;

function stream(eol: string): { full: string; expected: string } {
  const events = [chunk("héllo"), chunk(" wörld 🎉"), USAGE, "data: [DONE]"];
  const full = events.map((e) => `${e}${eol}${eol}`).join("");
  const expected = events
    .filter((e) => e !== USAGE)
    .map((e) => `${e}${eol}${eol}`)
    .join("");
  return { full, expected };
}

/**
 * Runs `parts` through the metered body. Each part arrives a macrotask after
 * the one before, as network chunks do, unless `burst` (then all are there at
 * once; the meter still hands each on as it came).
 */
async function run(parts: Uint8Array[], burst = false): Promise<{ text: string; usage: unknown; reads: number }> {
  const reader = openai.readStream({ endpoint: "chat.completions", body: {}, stream: true, injectedUsage: true });
  let i = 0;
  const source = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!burst && i > 0) await new Promise((resolve) => setTimeout(resolve, 0));
        if (i < parts.length) controller.enqueue(parts[i++] as Uint8Array);
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  const body = meterBody(source, {
    filter: true,
    onEvent: (data, length, head) => reader.event(data, length, head),
    afterChunk: () => reader.done,
    onEnd() {},
    onFault(error) {
      throw error;
    },
  });
  const out: Uint8Array[] = [];
  const r = body.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    out.push(value);
  }
  const bytes = new Uint8Array(out.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of out) {
    bytes.set(p, at);
    at += p.length;
  }
  return { text: decoder.decode(bytes), usage: reader.reading().usage?.outputTokens, reads: out.length };
}

describe("meterBody in filter mode", { timeout: 30_000 }, () => {
  for (const eol of ["\n", "\r\n"]) {
    it(`cuts exactly the usage-only chunk for every two- and three-way split (${JSON.stringify(eol)})`, async () => {
      const { full, expected } = stream(eol);
      const bytes = encoder.encode(full);
      for (let a = 0; a <= bytes.length; a++) {
        const { text, usage } = await run([bytes.slice(0, a), bytes.slice(a)]);
        expect(text).toBe(expected);
        expect(usage).toBe(5);
      }
      for (let a = 0; a <= bytes.length; a += 23) {
        for (let b = a; b <= bytes.length; b += 29) {
          const { text } = await run([bytes.slice(0, a), bytes.slice(a, b), bytes.slice(b)]);
          expect(text).toBe(expected);
        }
      }
    });
  }

  it("hands on chunks that are already there as they came, and the bytes stay the same", async () => {
    const { full, expected } = stream("\n");
    const bytes = encoder.encode(full);
    const parts = Array.from({ length: Math.ceil(bytes.length / 16) }, (_, k) => bytes.slice(k * 16, k * 16 + 16));
    const burst = await run(parts, true);
    expect(burst.text).toBe(expected);
    expect(burst.usage).toBe(5);
    const spread = await run(parts);
    expect(spread.text).toBe(expected);
    expect(spread.reads).toBeGreaterThan(20);
    // no coalescing (it cost more than it saved, issue 13): the same pieces whether or not the chunks wait
    expect(burst.reads).toBe(spread.reads);
  });

  it("hands on a byte at a time", async () => {
    const { full, expected } = stream("\n");
    const bytes = encoder.encode(full);
    const { text, usage } = await run(Array.from(bytes, (b) => Uint8Array.of(b)));
    expect(text).toBe(expected);
    expect(usage).toBe(5);
  });

  it("hands on the bytes that came before an upstream failure, then the failure", async () => {
    const first = encoder.encode(`${chunk("partial")}\n\n`);
    let pulls = 0;
    const source = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulls++ === 0) controller.enqueue(first);
          else controller.error(new Error("connection reset"));
        },
      },
      { highWaterMark: 0 },
    );
    const outcomes: string[] = [];
    const reader = openai.readStream({ endpoint: "chat.completions", body: {}, stream: true, injectedUsage: true });
    const body = meterBody(source, {
      filter: true,
      onEvent: (data, length, head) => reader.event(data, length, head),
      afterChunk: () => reader.done,
      onEnd: (outcome) => outcomes.push(outcome),
      onFault(error) {
        throw error;
      },
    }).getReader();
    const read = await body.read();
    expect(decoder.decode(read.value)).toBe(decoder.decode(first));
    await expect(body.read()).rejects.toThrow("connection reset");
    expect(outcomes).toEqual(["error"]);
    expect(reader.reading().outputWeight).toBe(7);
  });
});
