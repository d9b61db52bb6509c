/**
 * The real `openai` SDK through `stoa.fetch()` and `stoa.wrap()` against the
 * fake OpenAI: chat completions, Responses, embeddings, JSON and streams.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { type MeterRun, meterRun, OPENAI_CHAT_USAGE, OPENAI_RESPONSES_USAGE, PROVIDER_KEY } from "../support/meter.ts";
import { type FakeOptions, providerRequests } from "../support/provider.ts";

function client(run: MeterRun, opts?: FakeOptions, extra: Partial<OpenAI["_options"]> = {}) {
  return new OpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: run.bases(opts).openai,
    maxRetries: 0,
    fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_123", metadata: { feature: "chat" } }),
    ...extra,
  });
}

const MESSAGES = [{ role: "user" as const, content: "Say hello" }];

describe("openai chat completions", () => {
  it("meters a JSON completion exactly", async () => {
    const run = await meterRun("oai-json");
    const completion = await client(run).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(completion.choices[0]?.message.content).toBe("Hello!");
    const events = await run.events();
    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event).toMatchObject({
      id: `openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`,
      userId: "user_123",
      provider: "openai",
      endpoint: "chat.completions",
      model: "gpt-4o-mini-2024-07-18",
      requestedModel: "gpt-4o-mini",
      providerRequestId: `req_${run.runId}_1`,
      stream: false,
      status: "completed",
      estimated: false,
      usage: OPENAI_CHAT_USAGE,
      metadata: { feature: "chat" },
    });
    expect(event?.costUsd).toBeUndefined();
    expect(Date.parse(event?.occurredAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(event?.durationMs).toBeGreaterThanOrEqual(0);
    expect(run.errors).toEqual([]);
  });

  it("adds include_usage to a stream, hides the usage chunk, and meters it", async () => {
    const run = await meterRun("oai-stream");
    const stream = await client(run).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      expect(chunk.choices).toHaveLength(1); // `chunk.choices[0].delta` never throws
      expect(chunk.usage ?? null).toBeNull();
    }
    expect(text).toBe("Hello!");
    expect(chunks).toBe(4);
    const [request] = await providerRequests(run.runId);
    expect(JSON.parse(request?.body ?? "{}").stream_options).toEqual({ include_usage: true });
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ stream: true, status: "completed", estimated: false, usage: OPENAI_CHAT_USAGE });
    expect(events[0]?.id).toBe(`openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`);
  });

  it("replaces stream_options: null instead of adding a second key", async () => {
    const run = await meterRun("oai-null-options");
    const stream = await client(run).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: null,
    });
    let text = "";
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      expect(chunk.usage ?? null).toBeNull();
    }
    expect(text).toBe("Hello!");
    const [request] = await providerRequests(run.runId);
    const body = request?.body ?? "";
    expect(body.split('"stream_options"')).toHaveLength(2); // one key
    expect(JSON.parse(body)).toEqual({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "completed", estimated: false, usage: OPENAI_CHAT_USAGE });
    expect(run.errors).toEqual([]);
  });

  it("leaves a stream alone when the app asked for usage itself", async () => {
    const run = await meterRun("oai-own-usage");
    const stream = await client(run).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const usages: unknown[] = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toHaveLength(1);
    const events = await run.events();
    expect(events.map((e) => e.usage)).toEqual([OPENAI_CHAT_USAGE]);
  });

  it("gives one event through withResponse(), toReadableStream() and tee()", async () => {
    const run = await meterRun("oai-helpers");
    const openai = client(run);
    const { data, response, request_id } = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: MESSAGES })
      .withResponse();
    expect(data.id).toBe(`chatcmpl-${run.runId}-1`);
    expect(response.status).toBe(200);
    expect(request_id).toBe(`req_${run.runId}_1`);

    const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
    const [left, right] = stream.tee();
    let a = "";
    let b = "";
    for await (const chunk of left) a += chunk.choices[0]?.delta.content ?? "";
    for await (const chunk of right) b += chunk.choices[0]?.delta.content ?? "";
    expect([a, b]).toEqual(["Hello!", "Hello!"]);

    const third = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
    const readable = third.toReadableStream();
    const reader = readable.getReader();
    let lines = 0;
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      lines++;
    }
    expect(lines).toBe(4);

    const events = await run.events();
    expect(events.map((e) => e.id).sort()).toEqual(
      [1, 2, 3].map((n) => `openai:chatcmpl-${run.runId}-${n}:req_${run.runId}_${n}`).sort(),
    );
    for (const event of events) expect(event.usage).toEqual(OPENAI_CHAT_USAGE);
  });

  it("meters the chat.completions.stream() helper once", async () => {
    const run = await meterRun("oai-stream-helper");
    const runner = client(run).chat.completions.stream({ model: "gpt-4o-mini", messages: MESSAGES });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("Hello!");
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]?.usage).toEqual(OPENAI_CHAT_USAGE);
  });

  it("reads the same usage from streams cut at every byte, CRLF, comments, multi-line data and a BOM", async () => {
    const run = await meterRun("oai-splits");
    const variants: FakeOptions[] = [
      { chunk: 1 },
      { chunk: 1, crlf: true },
      { chunk: 3, cr: true },
      { comments: true, multiline: true, bom: true },
      { chunk: 2, text: "unicode", crlf: true },
    ];
    for (const opts of variants) {
      const stream = await client(run, opts).chat.completions.create({
        model: "gpt-4o-mini",
        messages: MESSAGES,
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      expect(text).toBe(opts === variants[4] ? "héllo wörld 你好 🎉" : "Hello!");
    }
    const events = await run.events();
    expect(events).toHaveLength(variants.length);
    for (const event of events) expect(event).toMatchObject({ status: "completed", usage: OPENAI_CHAT_USAGE });
  });

  it("bills a usage chunk sent twice once, with the last one", async () => {
    const run = await meterRun("oai-twice");
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
    const stream = await client(run, { twice: true, usage }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    for await (const chunk of stream) expect(chunk.choices).toHaveLength(1);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]?.usage).toMatchObject({ inputTokens: 10, outputTokens: 5 });
  });

  it("keeps the usage after a 10 MB event", async () => {
    const run = await meterRun("oai-huge");
    const stream = await client(run, { huge: 10 * 1024 * 1024 }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let length = 0;
    for await (const chunk of stream) length += chunk.choices[0]?.delta.content?.length ?? 0;
    expect(length).toBe(10 * 1024 * 1024 + 6);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "completed", usage: OPENAI_CHAT_USAGE });
  });

  it("maps audio, cached and cache-write tokens exclusively", async () => {
    const run = await meterRun("oai-audio");
    const usage = {
      prompt_tokens: 1000,
      completion_tokens: 500,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 300, cache_write_tokens: 100, audio_tokens: 50 },
      completion_tokens_details: { reasoning_tokens: 200, audio_tokens: 120 },
    };
    await client(run, { usage }).chat.completions.create({ model: "gpt-4o-audio-preview", messages: MESSAGES });
    const [event] = await run.events();
    expect(event?.usage).toEqual({
      inputTokens: 550,
      cacheReadTokens: 300,
      cacheWriteTokens: 100,
      audioInputTokens: 50,
      outputTokens: 380,
      audioOutputTokens: 120,
      reasoningTokens: 200,
      webSearchRequests: 0,
    });
    const u = event?.usage;
    expect(
      (u?.inputTokens ?? 0) +
        (u?.cacheReadTokens ?? 0) +
        (u?.cacheWriteTokens ?? 0) +
        (u?.audioInputTokens ?? 0) +
        (u?.outputTokens ?? 0) +
        (u?.audioOutputTokens ?? 0),
    ).toBe(1500);
  });

  it("makes no event for 429 and 500 answers", async () => {
    const run = await meterRun("oai-errors");
    for (const status of [429, 500]) {
      await expect(
        client(run, { status }).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }),
      ).rejects.toMatchObject({ status });
    }
    expect(await run.events()).toEqual([]);
  });

  it("passes other calls through unmetered", async () => {
    const run = await meterRun("oai-passthrough");
    const openai = client(run);
    const models = await openai.models.list().catch((e: unknown) => e);
    expect(models).toMatchObject({ status: 404 });
    expect(await run.events()).toEqual([]);
    const requests = await providerRequests(run.runId);
    expect(requests.map((r) => [r.method, r.path])).toEqual([["GET", "v1/models"]]);
  });
});

describe("openai stream endings", () => {
  it("bills an aborted, estimated event when the app stops reading, and cancels upstream", async () => {
    const run = await meterRun("oai-abort");
    const stream = await client(run, { events: 200, delay: 2 }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (text.length >= 200) break;
    }
    const events = await run.events();
    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event).toMatchObject({ status: "aborted", estimated: true, stream: true });
    expect(event?.id).toBe(`openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`);
    expect(event?.usage.inputTokens).toBe(3); // "Say hello" + "user" from the request
    expect(event?.usage.outputTokens).toBeGreaterThanOrEqual(Math.ceil(text.length / 4));
    expect(event?.usage.outputTokens).toBeLessThan(Math.ceil(text.length / 4) + 10);
    const [request] = await providerRequests(run.runId);
    expect(request?.outcome).toBe("cancelled");
  });

  it("bills an aborted event when the network cuts the stream", async () => {
    const run = await meterRun("oai-cut");
    const stream = await client(run, { events: 20, cut: 5 }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let failed = false;
    try {
      for await (const _ of stream) {
        // read until the cut
      }
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "aborted", estimated: true });
    expect(events[0]?.usage.outputTokens).toBeGreaterThan(0);
  });

  it("bills an aborted event for a mid-stream provider error", async () => {
    const run = await meterRun("oai-error-event");
    const stream = await client(run, { error: true }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    await expect(async () => {
      for await (const _ of stream) {
        // the SDK throws on the error chunk
      }
    }).rejects.toThrow();
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "aborted", estimated: true });
    expect(events[0]?.usage.outputTokens).toBe(2); // "Hello" seen: 5 characters
  });

  it("estimates English output within 25 % when no usage ever comes", async () => {
    const run = await meterRun("oai-english");
    const truth = await (await fetch(`${run.bases().anthropic.split("/p/")[0]}/p/__fixtures/english`)).json();
    const stream = await client(run, { text: "english", nousage: true }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe((truth as { text: string }).text);
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "aborted", estimated: true });
    const tokens = (truth as { tokens: number }).tokens;
    const ratio = (event?.usage.outputTokens ?? 0) / tokens;
    expect(ratio).toBeGreaterThan(0.75);
    expect(ratio).toBeLessThan(1.25);
  });
});

describe("openai responses and embeddings", () => {
  it("meters a JSON response and a streamed one with web searches", async () => {
    const run = await meterRun("oai-responses");
    const openai = client(run);
    const response = await openai.responses.create({ model: "gpt-5-mini", input: "Say hello" });
    expect(response.output_text).toBe("Hello!");
    const stream = await client(run, { websearch: 2 }).responses.create({
      model: "gpt-5-mini",
      input: "Search",
      stream: true,
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe("response.completed");
    const events = await run.events();
    expect(events).toHaveLength(2);
    const byStream = Object.fromEntries(events.map((e) => [String(e.stream), e]));
    expect(byStream.false).toMatchObject({
      id: `openai:resp_${run.runId}_1:req_${run.runId}_1`,
      endpoint: "responses",
      model: "gpt-5-mini-2024-07-18",
      usage: OPENAI_RESPONSES_USAGE,
      status: "completed",
    });
    expect(byStream.true).toMatchObject({
      id: `openai:resp_${run.runId}_2:req_${run.runId}_2`,
      usage: { ...OPENAI_RESPONSES_USAGE, webSearchRequests: 2 },
      status: "completed",
    });
  });

  it("reads a last Responses event that has no blank line after it", async () => {
    const run = await meterRun("oai-noblank");
    const stream = await client(run, { noblank: true, chunk: 7 }).responses.create({
      model: "gpt-5-mini",
      input: "hi",
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "completed", usage: OPENAI_RESPONSES_USAGE });
  });

  it("meters embeddings", async () => {
    const run = await meterRun("oai-embeddings");
    const result = await client(run).embeddings.create({ model: "text-embedding-3-small", input: "hello" });
    expect(result.data).toHaveLength(1);
    const [event] = await run.events();
    expect(event).toMatchObject({
      id: `openai:req_${run.runId}_1`,
      endpoint: "embeddings",
      model: "text-embedding-3-small",
      usage: { inputTokens: 8, outputTokens: 0 },
      status: "completed",
    });
  });
});

describe("stoa.wrap()", () => {
  it("rebuilds the client with the metering fetch: same class, one event", async () => {
    const run = await meterRun("oai-wrap");
    const base = new OpenAI({ apiKey: PROVIDER_KEY, baseURL: run.bases().openai, maxRetries: 0 });
    const wrapped = run.stoa.wrap(base, { provider: StoaProvider.OpenAI, userId: "user_wrap" });
    expect(wrapped).toBeInstanceOf(OpenAI);
    expect(wrapped).not.toBe(base);
    const twice = run.stoa.wrap(wrapped, { provider: StoaProvider.OpenAI, userId: "user_twice" });
    await twice.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    await base.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const events = await run.events();
    expect(events.map((e) => e.userId)).toEqual(["user_twice"]);
  });

  it("meters once when a metering fetch wraps another", async () => {
    const run = await meterRun("oai-nested");
    const inner = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "inner" });
    const outer = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "outer", fetch: inner });
    const openai = new OpenAI({ apiKey: PROVIDER_KEY, baseURL: run.bases().openai, maxRetries: 0, fetch: outer });
    const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
    for await (const chunk of stream) expect(chunk.choices).toHaveLength(1);
    const events = await run.events();
    expect(events.map((e) => e.userId)).toEqual(["inner"]);
  });
});
