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

async function run(parts: Uint8Array[]): Promise<{ text: string; usage: unknown }> {
  const reader = openai.readStream({ endpoint: "chat.completions", body: {}, stream: true, injectedUsage: true });
  let i = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < parts.length) controller.enqueue(parts[i++] as Uint8Array);
      else controller.close();
    },
  });
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
  return { text: decoder.decode(bytes), usage: reader.reading().usage?.outputTokens };
}

describe("meterBody in filter mode", () => {
  for (const eol of ["\n", "\r\n"]) {
    it(`cuts exactly the usage-only chunk for every two- and three-way split (${JSON.stringify(eol)})`, async () => {
      const { full, expected } = stream(eol);
      const bytes = encoder.encode(full);
      for (let a = 0; a <= bytes.length; a++) {
        const { text, usage } = await run([bytes.slice(0, a), bytes.slice(a)]);
        expect(text).toBe(expected);
        expect(usage).toBe(5);
      }
      for (let a = 0; a <= bytes.length; a += 9) {
        for (let b = a; b <= bytes.length; b += 13) {
          const { text } = await run([bytes.slice(0, a), bytes.slice(a, b), bytes.slice(b)]);
          expect(text).toBe(expected);
        }
      }
    });
  }

  it("hands on a byte at a time", async () => {
    const { full, expected } = stream("\n");
    const bytes = encoder.encode(full);
    const { text, usage } = await run(Array.from(bytes, (b) => Uint8Array.of(b)));
    expect(text).toBe(expected);
    expect(usage).toBe(5);
  });
});
