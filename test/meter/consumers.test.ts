/**
 * Every way an app (or a runtime) can consume a metered body, for SSE and
 * JSON: each reads exactly the provider's bytes (less the injected usage
 * chunk, cut in filter mode), and each call makes exactly one usage event
 * with the exact usage. Cancelled half-way, each makes one aborted event
 * (SSE) or still bills the whole body (JSON). The three SDKs read through
 * the meter the same way. Runs in Node and in workerd.
 */

import { createOpenAI } from "@ai-sdk/openai";
import Anthropic from "@anthropic-ai/sdk";
import { streamText } from "ai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider, type UsageEvent } from "../../src/index.ts";
import { ANTHROPIC_USAGE, type MeterRun, meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY } from "../support/meter.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const URL_ = "https://api.openai.com/v1/chat/completions";
const CONTENT = 40;

function sseEvent(content: string): string {
  return `data: {"id":"chatcmpl-9","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}],"usage":null}\n\n`;
}
const USAGE_EVENT =
  'data: {"id":"chatcmpl-9","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":40,"total_tokens":52}}\n\n';
const EVENTS = [...Array.from({ length: CONTENT }, (_, i) => sseEvent(`wörd ${i} `)), USAGE_EVENT, "data: [DONE]\n\n"];
const SSE = EVENTS.join("");
/** What the app must read in filter mode: everything but the usage chunk. */
const SSE_CUT = EVENTS.filter((event) => event !== USAGE_EVENT).join("");
const JSON_BODY = JSON.stringify({
  id: "chatcmpl-9",
  object: "chat.completion",
  model: "gpt-4o",
  choices: [{ index: 0, message: { role: "assistant", content: "x".repeat(3000) }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 },
});

/** `text` in chunks of `size` bytes, each arriving a macrotask after the one before, as from a network. */
function upstreamOf(text: string, type: string, size: number) {
  const bytes = encoder.encode(text);
  return async (): Promise<Response> => {
    let at = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (at > 0) await new Promise((resolve) => setTimeout(resolve, 0));
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, at + size));
          at += size;
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { "content-type": type } });
  };
}

type Kind = "sse" | "json";

async function call(run: MeterRun, kind: Kind): Promise<Response> {
  const upstream =
    kind === "sse" ? upstreamOf(SSE, "text/event-stream", 97) : upstreamOf(JSON_BODY, "application/json", 500);
  const fetch = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_c", fetch: upstream });
  // no stream_options: the meter injects include_usage and cuts the usage chunk (filter mode)
  return fetch(URL_, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: kind === "sse" }),
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder(); // one per stream: tee() branches are read at once
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}

async function readText(stream: ReadableStream<string>): Promise<string> {
  let text = "";
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += value;
  }
}

/** Each consumer reads the body its own way and returns the text it read. */
const CONSUMERS: Record<string, (response: Response) => Promise<string>> = {
  "getReader() loop": (r) => readAll(r.body as ReadableStream<Uint8Array>),
  "for await on the body": async (r) => {
    let text = "";
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>)
      text += decoder.decode(chunk, { stream: true });
    return text + decoder.decode();
  },
  "values()": async (r) => {
    let text = "";
    const body = r.body as unknown as { values(): AsyncIterable<Uint8Array> };
    for await (const chunk of body.values()) text += decoder.decode(chunk, { stream: true });
    return text + decoder.decode();
  },
  "text()": (r) => r.text(),
  "arrayBuffer()": async (r) => decoder.decode(await r.arrayBuffer()),
  "clone() then both read": async (r) => {
    const copy = r.clone();
    const [a, b] = await Promise.all([r.text(), copy.text()]);
    expect(b).toBe(a);
    return a;
  },
  "tee()": async (r) => {
    const [a, b] = (r.body as ReadableStream<Uint8Array>).tee();
    const [x, y] = await Promise.all([readAll(a), readAll(b)]);
    expect(y).toBe(x);
    return x;
  },
  "pipeThrough(new TextDecoderStream())": (r) =>
    readText((r.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream())),
  pipeTo: async (r) => {
    let text = "";
    await (r.body as ReadableStream<Uint8Array>).pipeTo(
      new WritableStream<Uint8Array>({
        write(chunk) {
          text += decoder.decode(chunk, { stream: true });
        },
      }),
    );
    return text + decoder.decode();
  },
  "new Response(body) returned, as a Worker does": (r) =>
    new Response(r.body, { status: r.status, headers: r.headers }).text(),
  "a reader released half-way, then piped": async (r) => {
    const body = r.body as ReadableStream<Uint8Array>;
    const reader = body.getReader();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      const { done, value } = await reader.read();
      if (!done) parts.push(value);
    }
    reader.releaseLock();
    const head = parts.map((part) => decoder.decode(part, { stream: true })).join("");
    return head + decoder.decode() + (await readText(body.pipeThrough(new TextDecoderStream())));
  },
};

/** Each consumer reads a little and then stops: the body is cancelled. */
const CANCELLERS: Record<string, (response: Response) => Promise<void>> = {
  "getReader() loop": async (r) => {
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel("enough");
  },
  "for await on the body": async (r) => {
    let n = 0;
    for await (const _ of r.body as unknown as AsyncIterable<Uint8Array>) if (++n === 2) break;
  },
  "values()": async (r) => {
    let n = 0;
    const body = r.body as unknown as { values(): AsyncIterable<Uint8Array> };
    for await (const _ of body.values()) if (++n === 2) break;
  },
  "tee()": async (r) => {
    const [a, b] = (r.body as ReadableStream<Uint8Array>).tee();
    const ra = a.getReader();
    const rb = b.getReader();
    await ra.read();
    await rb.read();
    await Promise.all([ra.cancel("enough"), rb.cancel("enough")]);
  },
  "pipeThrough(new TextDecoderStream())": async (r) => {
    const reader = (r.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel("enough");
  },
  pipeTo: async (r) => {
    const abort = new AbortController();
    let n = 0;
    const piped = (r.body as ReadableStream<Uint8Array>).pipeTo(
      new WritableStream<Uint8Array>({
        write() {
          if (++n === 2) abort.abort(new Error("enough"));
        },
      }),
      { signal: abort.signal },
    );
    // a JSON body that arrived whole is one chunk: the pipe then ends before a second write
    const outcome = await piped.then(
      () => "ended",
      (error: Error) => error.message,
    );
    expect(outcome).toBe(n < 2 ? "ended" : "enough");
  },
  "new Response(body)": async (r) => {
    const reader = (new Response(r.body).body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel("enough");
  },
  "a reader released half-way, then piped": async (r) => {
    const body = r.body as ReadableStream<Uint8Array>;
    const first = body.getReader();
    await first.read();
    first.releaseLock();
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    await reader.read();
    await reader.cancel("enough");
  },
};

const USAGE = { inputTokens: 12, outputTokens: 40 };

async function onlyEvent(run: MeterRun): Promise<UsageEvent> {
  const events = await run.events();
  expect(events).toHaveLength(1);
  return events[0] as UsageEvent;
}

describe("every consumer of a metered body", { timeout: 30_000 }, () => {
  for (const [name, consume] of Object.entries(CONSUMERS)) {
    it(`SSE, ${name}: the provider's bytes less the usage chunk, one event`, async () => {
      const run = await meterRun("consumer-sse");
      const text = await consume(await call(run, "sse"));
      expect(text).toBe(SSE_CUT);
      const event = await onlyEvent(run);
      expect(event).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
      expect(run.errors).toEqual([]);
    });

    it(`JSON, ${name}: the provider's bytes, one event`, async () => {
      const run = await meterRun("consumer-json");
      const text = await consume(await call(run, "json"));
      expect(text).toBe(JSON_BODY);
      const event = await onlyEvent(run);
      expect(event).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
      expect(run.errors).toEqual([]);
    });
  }

  it("JSON, json(): the provider's object, one event", async () => {
    const run = await meterRun("consumer-json");
    expect(await (await call(run, "json")).json()).toEqual(JSON.parse(JSON_BODY));
    expect(await onlyEvent(run)).toMatchObject({ status: "completed", usage: USAGE });
  });

  it("a read body cannot be handed to new Response() again, whichever way it was read", async () => {
    const run = await meterRun("consumer-disturbed");
    const response = await call(run, "sse");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    reader.releaseLock();
    expect(() => new Response(response.body)).toThrow(TypeError);
    await (response.body as ReadableStream<Uint8Array>).cancel();
    expect(await onlyEvent(run)).toMatchObject({ status: "aborted" });
  });

  it("a stream gives default readers only: a BYOB reader throws a TypeError, and the body reads on", async () => {
    const run = await meterRun("consumer-byob");
    const body = (await call(run, "sse")).body as ReadableStream<Uint8Array>;
    expect(() => body.getReader({ mode: "byob" })).toThrow(TypeError);
    expect(await readAll(body)).toBe(SSE_CUT);
    expect(await onlyEvent(run)).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
  });

  it("a reader released with a read in flight: that chunk goes to the next reader, in order", async () => {
    const run = await meterRun("consumer-release");
    const body = (await call(run, "sse")).body as ReadableStream<Uint8Array>;
    const first = body.getReader();
    const text = new TextDecoder(); // one decoder for both readers: a character may span them
    let read = text.decode((await first.read()).value, { stream: true }); // through pull
    // then served directly: a read of a piece already cut resolves at once, as a native read of a
    // queued chunk does; read on until one waits for the provider
    const WAITING = Symbol("waiting");
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    while (pending === undefined) {
      const next = first.read();
      const won = await Promise.race([next, Promise.resolve(WAITING)]);
      if (won === WAITING) pending = next;
      else read += text.decode((won as ReadableStreamReadResult<Uint8Array>).value, { stream: true });
    }
    first.releaseLock(); // a read in flight is rejected, and its chunk stays with the stream
    await expect(pending).rejects.toThrow(TypeError);
    const second = body.getReader();
    for (let result = await second.read(); !result.done; result = await second.read()) {
      read += text.decode(result.value, { stream: true });
    }
    expect(read + text.decode()).toBe(SSE_CUT);
    expect(await onlyEvent(run)).toMatchObject({ status: "completed", usage: USAGE });
  });

  for (const [name, cancel] of Object.entries(CANCELLERS)) {
    it(`SSE, ${name}, cancelled half-way: one aborted, estimated event`, async () => {
      const run = await meterRun("cancel-sse");
      await cancel(await call(run, "sse"));
      const event = await onlyEvent(run);
      expect(event).toMatchObject({ status: "aborted", estimated: true });
      expect(event.usage.outputTokens).toBeGreaterThan(0);
      expect(event.usage.outputTokens).toBeLessThan(40);
    });

    it(`JSON, ${name}, cancelled half-way: the rest is read, one event with the whole usage`, async () => {
      const run = await meterRun("cancel-json");
      await cancel(await call(run, "json"));
      const event = await onlyEvent(run);
      expect(event).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
    });
  }

  it("a cancel half-way bills the same estimate whichever way the app read the same bytes", async () => {
    const estimates: number[] = [];
    for (const read of ["reader", "piped"] as const) {
      const run = await meterRun("cancel-same");
      const body = (await call(run, "sse")).body as ReadableStream<Uint8Array>;
      const reader = read === "reader" ? body.getReader() : body.pipeThrough(new TransformStream()).getReader();
      let bytes = 0;
      while (bytes < 97 * 10) bytes += ((await reader.read()).value as Uint8Array).length;
      await reader.cancel();
      estimates.push((await onlyEvent(run)).usage.outputTokens);
    }
    expect(estimates[1]).toBe(estimates[0]);
  });
});

describe("the app receives every event no later than the chunk that completes it", { timeout: 60_000 }, () => {
  /** Reads `SSE` split at `cuts` through the meter; checks, before each upstream chunk, that the app has every event completed so far. */
  let calls = 0;
  async function check(run: MeterRun, cuts: number[], read: "reader" | "piped"): Promise<void> {
    // a response id of its own (of the same length), so that each call's event is stored
    const id = `cmpl${String(++calls).padStart(6, "0")}`;
    const events = EVENTS.map((event) => event.replace("chatcmpl-9", id));
    const usageEvent = USAGE_EVENT.replace("chatcmpl-9", id);
    const bytes = encoder.encode(events.join(""));
    const bounds = [0, ...cuts, bytes.length];
    let received = "";
    let next = 0;
    const upstream = async (): Promise<Response> =>
      new Response(
        new ReadableStream<Uint8Array>(
          {
            pull(controller) {
              // every event completed by the chunks already given must be with the app
              const given = decoder.decode(bytes.subarray(0, bounds[next]));
              const complete = given.slice(0, given.lastIndexOf("\n\n") + 2);
              const due = events.filter((event) => event !== usageEvent && complete.includes(event)).join("");
              expect(received.startsWith(due)).toBe(true);
              if (next + 1 >= bounds.length) return controller.close();
              controller.enqueue(bytes.slice(bounds[next], bounds[next + 1]));
              next++;
            },
          },
          { highWaterMark: 0 },
        ),
        { headers: { "content-type": "text/event-stream" } },
      );
    const fetch = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_c", fetch: upstream });
    const response = await fetch(URL_, {
      method: "POST",
      body: JSON.stringify({ model: "gpt-4o", messages: [], stream: true }),
    });
    const body = response.body as ReadableStream<Uint8Array>;
    const reader = read === "reader" ? body.getReader() : body.pipeThrough(new TransformStream()).getReader();
    const parts: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      const all = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
      let at = 0;
      for (const part of parts) {
        all.set(part, at);
        at += part.length;
      }
      received = decoder.decode(all);
    }
    expect(received).toBe(events.filter((event) => event !== usageEvent).join(""));
  }

  /** The run's events: one per call, each with the whole usage. */
  async function checkEvents(run: MeterRun, calls: number): Promise<void> {
    const events = await run.events();
    expect(events).toHaveLength(calls);
    for (const event of events) expect(event).toMatchObject({ status: "completed", usage: USAGE });
    expect(run.errors).toEqual([]);
  }

  it("split in two at every 7th byte, read by the body's reader and through a pipe", async () => {
    const run = await meterRun("no-later");
    const length = encoder.encode(SSE).length;
    let made = 0;
    for (let a = 1; a < length; a += 7) {
      await check(run, [a], "reader");
      await check(run, [a], "piped");
      made += 2;
    }
    await checkEvents(run, made);
  });

  it("a byte at a time", async () => {
    const run = await meterRun("no-later");
    const length = encoder.encode(SSE).length;
    const cuts = Array.from({ length: length - 1 }, (_, i) => i + 1);
    await check(run, cuts, "reader");
    await check(run, cuts, "piped");
    await checkEvents(run, 2);
  });
});

describe("the three SDKs through the meter", { timeout: 30_000 }, () => {
  it("openai: a stream, the usage chunk cut, one event", async () => {
    const run = await meterRun("sdk-openai");
    const client = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_c" }),
    });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Say hello" }],
      stream: true,
    });
    let text = "";
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage != null) usageChunks++;
    }
    expect(text).toBe("Hello!");
    expect(usageChunks).toBe(0);
    expect(await onlyEvent(run)).toMatchObject({ status: "completed", usage: OPENAI_CHAT_USAGE });
  });

  it("@anthropic-ai/sdk: a stream, one event", async () => {
    const run = await meterRun("sdk-anthropic");
    const client = new Anthropic({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().anthropic,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_c" }),
    });
    const stream = await client.messages.create({
      model: "claude-sonnet-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "Say hello" }],
      stream: true,
    });
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(await onlyEvent(run)).toMatchObject({ status: "completed", usage: ANTHROPIC_USAGE });
  });

  it("the AI SDK: streamText, one event", async () => {
    const run = await meterRun("sdk-ai");
    const openai = createOpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_c" }),
    });
    const result = streamText({ model: openai.chat("gpt-4o-mini"), prompt: "Say hello", maxRetries: 0 });
    let text = "";
    for await (const part of result.textStream) text += part;
    expect(text).toBe("Hello!");
    expect(await onlyEvent(run)).toMatchObject({ status: "completed", usage: OPENAI_CHAT_USAGE });
  });
});
