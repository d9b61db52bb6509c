/**
 * A non-streamed JSON body: read whole by the meter when it arrives at once
 * (metered before the app reads it, handed on as the same bytes), else handed
 * on after 250 ms and served chunk by chunk from what was read. Runs in Node
 * and in workerd.
 */
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { generateText } from "ai";
import OpenAI from "openai";
import { describe, expect, it, vi } from "vitest";
import { StoaProvider, StoaStreamError } from "../../src/index.ts";
import { meterRun } from "../support/meter.ts";

const URL_ = "https://api.openai.com/v1/chat/completions";
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const COMPLETION = JSON.stringify({
  id: "chatcmpl-json",
  object: "chat.completion",
  model: "gpt-4o-2024-08-06",
  choices: [{ index: 0, message: { role: "assistant", content: "ü".repeat(2000) }, finish_reason: "stop" }],
  usage: { prompt_tokens: 21, completion_tokens: 2000, total_tokens: 2021 },
});
const BYTES = encoder.encode(COMPLETION);
const USAGE = { inputTokens: 21, outputTokens: 2000 };

function post(): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A provider that sends `BYTES` in `parts` chunks, waiting `gapMs` before each after the first, then ends (or fails). */
function upstream(parts: number, gapMs: number, failAfter?: number) {
  const log: string[] = [];
  const fetch = async (): Promise<Response> => {
    let sent = 0;
    const size = Math.ceil(BYTES.length / parts);
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (sent > 0) await sleep(gapMs);
          if (failAfter !== undefined && sent === failAfter) {
            log.push("failed");
            return controller.error(new Error("connection reset"));
          }
          if (sent === parts) {
            log.push("ended");
            return controller.close();
          }
          controller.enqueue(BYTES.slice(sent * size, (sent + 1) * size));
          log.push(`chunk ${++sent}`);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_json" } });
  };
  return { fetch, log };
}

describe("a JSON body", () => {
  it("arriving at once is read whole and metered before the app reads it; the app gets the same bytes", async () => {
    const run = await meterRun("json-whole");
    const provider = upstream(4, 5);
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch });
    const response = await meter(URL_, post());
    expect(provider.log).toEqual(["chunk 1", "chunk 2", "chunk 3", "chunk 4", "ended"]);
    const [event] = await run.events(); // before the app reads a byte
    expect(event).toMatchObject({ id: "openai:chatcmpl-json:req_json", status: "completed", usage: USAGE });
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(BYTES);
    expect(await run.events()).toHaveLength(1);
    expect(run.errors).toEqual([]);
  });

  it("still arriving after 250 ms is handed on then, and served chunk by chunk through the openai SDK", async () => {
    const run = await meterRun("json-slow");
    const provider = upstream(3, 400);
    const client = new OpenAI({
      apiKey: "sk-x",
      maxRetries: 0,
      fetch: async (input, init) => {
        const response = await run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch })(
          input,
          init,
        );
        provider.log.push("response");
        return response;
      },
    });
    const completion = await client.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("ü".repeat(2000));
    // the response came 250 ms in, while the second chunk was awaited (at 400 ms)
    expect(provider.log).toEqual(["chunk 1", "response", "chunk 2", "chunk 3", "ended"]);
    const [event, ...more] = await run.events();
    expect(more).toEqual([]);
    expect(event).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
    expect(run.errors).toEqual([]);
  });

  it("served chunk by chunk gives default readers only: a BYOB reader throws a TypeError", async () => {
    const run = await meterRun("json-byob");
    const provider = upstream(2, 300);
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch });
    const body = (await meter(URL_, post())).body as ReadableStream<Uint8Array>;
    expect(provider.log).toEqual(["chunk 1"]); // handed on at 250 ms, before the second chunk
    expect(() => body.getReader({ mode: "byob" })).toThrow(TypeError);
    expect(new Uint8Array(await new Response(body).arrayBuffer())).toEqual(BYTES);
    const [event, ...more] = await run.events();
    expect(more).toEqual([]);
    expect(event).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
  });

  it("failing while the meter reads it fails the app's read the same way, after the bytes before it", async () => {
    const run = await meterRun("json-fail");
    const provider = upstream(4, 5, 2);
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch });
    const response = await meter(URL_, post());
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        read += value.length;
      }
    })().catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe("connection reset");
    expect(read).toBe(2 * Math.ceil(BYTES.length / 4));
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "aborted", estimated: true, usage: { outputTokens: 0 } });
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(StoaStreamError);
    expect(run.errors[0]?.message).toBe("The response body failed; the event is estimated.");
  });
});

/** A provider that answers `text` as a JSON body, 64 KiB a chunk, with `x-request-id: req_big`. */
function answering(text: string): () => Promise<Response> {
  const bytes = encoder.encode(text);
  return async () => {
    let at = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (at >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(at, at + 65_536));
          at += 65_536;
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_big" } });
  };
}

/** An openai client whose calls go through the run's meter to `upstream`. */
function openaiThrough(run: Awaited<ReturnType<typeof meterRun>>, upstream: () => Promise<Response>): OpenAI {
  return new OpenAI({
    apiKey: "sk-x",
    maxRetries: 0,
    fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: upstream }),
  });
}

/** A chat completion whose content is `size` ASCII letters, its `usage` placed first or last. */
function bigCompletion(id: string, size: number, usageFirst = false): string {
  const usage = { prompt_tokens: 21, completion_tokens: 1_310_720, total_tokens: 1_310_741 };
  const rest = {
    id,
    object: "chat.completion",
    model: "gpt-4o-2024-08-06",
    choices: [{ index: 0, message: { role: "assistant", content: "a".repeat(size) }, finish_reason: "stop" }],
  };
  return JSON.stringify(usageFirst ? { usage, ...rest } : { ...rest, usage });
}

const FIVE_MIB = 5 * 1024 * 1024;

describe("a JSON body over 4 MiB, metered from its first and last 64 KiB", () => {
  it("with blank lines before it and a newline after it (DeepSeek under load) makes its exact event", async () => {
    const run = await meterRun("json-big-blank");
    const openai = openaiThrough(run, answering(`\n\n${bigCompletion("chatcmpl-big", FIVE_MIB)}\n`));
    const completion = await openai.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toHaveLength(FIVE_MIB);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: "openai:chatcmpl-big:req_big",
      model: "gpt-4o-2024-08-06",
      status: "completed",
      estimated: false,
      usage: { inputTokens: 21, outputTokens: 1_310_720 },
    });
    expect(run.errors).toEqual([]);
  });

  it("from Gemini's generateContent (an inline image) is read by its usageMetadata, through @ai-sdk/google", async () => {
    const run = await meterRun("json-big-gemini");
    const answer = {
      candidates: [
        {
          content: { parts: [{ inlineData: { mimeType: "image/png", data: "A".repeat(FIVE_MIB) } }], role: "model" },
          finishReason: "STOP",
          index: 0,
        },
      ],
      usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 1290, totalTokenCount: 1302 },
      modelVersion: "gemini-2.5-flash-image",
      responseId: "big-image-1",
    };
    const google = createGoogleGenerativeAI({
      apiKey: "g-x",
      fetch: run.stoa.fetch({
        provider: StoaProvider.Google,
        userId: "u",
        fetch: answering(`${JSON.stringify(answer, null, 2)}\n`),
      }),
    });
    const generated = await generateText({
      model: google("gemini-2.5-flash-image"),
      prompt: "Draw a cat",
      maxRetries: 0,
    });
    expect(generated.files).toHaveLength(1);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: "google:big-image-1",
      endpoint: "generate_content",
      model: "gemini-2.5-flash-image",
      status: "completed",
      estimated: false,
      usage: { inputTokens: 12, outputTokens: 1290, reasoningTokens: 0 },
    });
    expect(run.errors).toEqual([]);
  });

  it("whose usage is not in its last 64 KiB is still billed: one event estimated from its size", async () => {
    const run = await meterRun("json-big-unskimmed");
    const text = bigCompletion("chatcmpl-first", FIVE_MIB, true);
    expect(encoder.encode(text).length).toBe(5_243_129);
    const openai = openaiThrough(run, answering(text));
    const completion = await openai.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.usage?.completion_tokens).toBe(1_310_720);
    const events = await run.events();
    expect(events).toHaveLength(1);
    // input from the request ("hi": 1 token), output from the body's 5,243,129 bytes (4 a token)
    expect(events[0]).toMatchObject({
      id: "openai:req_big",
      status: "aborted",
      estimated: true,
      usage: { inputTokens: 1, outputTokens: 1_310_783 },
    });
    expect(run.errors.map((e) => [e.constructor.name, e.message])).toEqual([
      [
        "StoaStreamError",
        "The response body was over 4 MiB and its usage was not in its first and last 64 KiB; the event is estimated from its size.",
      ],
    ]);
  });
});

describe("a pretty-printed JSON body", () => {
  it("keeps its id and model", async () => {
    const run = await meterRun("json-pretty");
    const openai = openaiThrough(run, answering(JSON.stringify(JSON.parse(COMPLETION), null, 2)));
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    const [event, ...more] = await run.events();
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      id: "openai:chatcmpl-json:req_big",
      model: "gpt-4o-2024-08-06",
      status: "completed",
      estimated: false,
      usage: USAGE,
    });
    expect(run.errors).toEqual([]);
  });
});

/**
 * A provider whose JSON body sends its first 18 bytes and then stalls, for
 * ever; `log` says whether it was cancelled, `called` settles when the meter
 * calls it.
 */
function stalling() {
  const log: string[] = [];
  let onCall: () => void = () => {};
  const called = new Promise<void>((resolve) => {
    onCall = resolve;
  });
  const fetch = async (): Promise<Response> => {
    onCall();
    let sent = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (sent) return new Promise<void>(() => {});
          sent = true;
          controller.enqueue(encoder.encode('{"id":"x","usage":'));
        },
        cancel() {
          log.push("cancelled");
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_stall" } });
  };
  return { fetch, log, called };
}

/** Waits (microtasks only: the clock is fake) until the meter set its 250 ms wait for a whole body. */
async function untilWaiting(called: Promise<void>): Promise<void> {
  await called;
  for (let turn = 0; turn < 100 && vi.getTimerCount() === 0; turn++) await Promise.resolve();
  expect(vi.getTimerCount()).toBe(1);
}

/**
 * The metering fetch of these tests, on a fake clock: no chargeability gate,
 * whose check and cache run on timers of their own.
 */
function stalledMeter(run: Awaited<ReturnType<typeof meterRun>>, provider: ReturnType<typeof stalling>) {
  return run.stoa.fetch({
    provider: StoaProvider.OpenAI,
    userId: "u",
    fetch: provider.fetch,
    checkChargeability: false,
  });
}

/** The estimated event of a stalled JSON body the meter gave up on: input from the request ("hi"), no output seen. */
const STALLED_EVENT = {
  id: "openai:req_stall",
  status: "aborted",
  estimated: true,
  usage: { inputTokens: 1, outputTokens: 0 },
};

describe("a JSON body that stalls", () => {
  it("cancelled by the app while its read waits is billed as aborted and estimated 20 s on", async () => {
    const run = await meterRun("json-stall-cancel");
    const provider = stalling();
    const meter = stalledMeter(run, provider);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const answer = meter(URL_, post());
      await untilWaiting(provider.called);
      await vi.advanceTimersByTimeAsync(250); // no whole body by then: handed on
      const reader = ((await answer).body as ReadableStream<Uint8Array>).getReader();
      expect(decoder.decode((await reader.read()).value)).toBe('{"id":"x","usage":');
      const waiting = reader.read();
      await reader.cancel();
      await vi.advanceTimersByTimeAsync(19_999);
      expect(provider.log).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(provider.log).toEqual(["cancelled"]);
      expect(await waiting).toEqual({ done: true, value: undefined });
    } finally {
      vi.useRealTimers();
    }
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject(STALLED_EVENT);
    expect(run.errors.map((e) => [e.constructor.name, e.message])).toEqual([
      [
        "StoaStreamError",
        "The app cancelled a JSON body whose rest did not end within 20 s; it was cancelled upstream and the event is estimated.",
      ],
    ]);
  });

  it("left unread is read by the meter for 20 s after 5 s unread, then cancelled and billed: 25 s in all", async () => {
    const run = await meterRun("json-stall-unread");
    const provider = stalling();
    const meter = stalledMeter(run, provider);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const answer = meter(URL_, post());
      await untilWaiting(provider.called);
      await vi.advanceTimersByTimeAsync(250);
      expect((await answer).status).toBe(200);
      await vi.advanceTimersByTimeAsync(24_999);
      expect(provider.log).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(provider.log).toEqual(["cancelled"]);
      expect(run.errors.map((e) => [e.constructor.name, e.message])).toEqual([
        [
          "StoaStreamError",
          "The app left a JSON body unread, and the meter's read of it did not end within 20 s; it was cancelled upstream and the event is estimated.",
        ],
      ]);
    } finally {
      vi.useRealTimers();
    }
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject(STALLED_EVENT);
  });
});
