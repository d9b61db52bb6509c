/**
 * The real `@anthropic-ai/sdk` through `stoa.fetch()` and `stoa.wrap()`
 * against the fake Anthropic Messages API.
 */
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { ANTHROPIC_USAGE, type MeterRun, meterRun, PROVIDER_KEY } from "../support/meter.ts";
import { type FakeOptions, providerRequests } from "../support/provider.ts";

function client(run: MeterRun, opts?: FakeOptions) {
  return new Anthropic({
    apiKey: PROVIDER_KEY,
    baseURL: run.bases(opts).anthropic,
    maxRetries: 0,
    fetch: run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_123" }),
  });
}

const REQUEST = {
  model: "claude-sonnet-5",
  max_tokens: 256,
  messages: [{ role: "user" as const, content: "Say hello" }],
};

describe("anthropic messages", () => {
  it("meters a JSON message exactly, cache read and write apart", async () => {
    const run = await meterRun("ant-json");
    const message = await client(run).messages.create(REQUEST);
    expect(message.content[0]).toMatchObject({ type: "text", text: "Hello!" });
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: `anthropic:msg_${run.runId}_1:req_${run.runId}_1`,
      provider: "anthropic",
      endpoint: "messages",
      model: "claude-sonnet-5",
      requestedModel: "claude-sonnet-5",
      providerRequestId: `req_${run.runId}_1`,
      stream: false,
      status: "completed",
      estimated: false,
      usage: ANTHROPIC_USAGE,
    });
    expect(run.errors).toEqual([]);
  });

  it("meters a raw stream, overwriting message_start counts with message_delta totals", async () => {
    const run = await meterRun("ant-stream");
    const stream = await client(run).messages.create({ ...REQUEST, stream: true });
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    expect(text).toBe("Hello!");
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ stream: true, status: "completed", estimated: false, usage: ANTHROPIC_USAGE });
  });

  it("meters the messages.stream() helper once", async () => {
    const run = await meterRun("ant-helper");
    const final = await client(run).messages.stream(REQUEST).finalMessage();
    expect(final.usage.output_tokens).toBe(12);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]?.usage).toEqual(ANTHROPIC_USAGE);
  });

  it("reads the same usage cut at every byte with CRLF and unicode", async () => {
    const run = await meterRun("ant-splits");
    const stream = await client(run, { chunk: 1, crlf: true, text: "unicode" }).messages.create({
      ...REQUEST,
      stream: true,
    });
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
    }
    expect(text).toBe("héllo wörld 你好 🎉");
    const [event] = await run.events();
    expect(event?.usage).toEqual(ANTHROPIC_USAGE);
  });

  it("keeps what message_start reported when an error event ends the stream", async () => {
    const run = await meterRun("ant-error");
    const stream = await client(run, { error: true }).messages.create({ ...REQUEST, stream: true });
    await expect(async () => {
      for await (const _ of stream) {
        // the SDK throws on `event: error`
      }
    }).rejects.toThrow(/overloaded/i);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      status: "aborted",
      estimated: true,
      usage: { inputTokens: 25, cacheReadTokens: 3400, cacheWriteTokens: 1200, outputTokens: 2 },
    });
  });

  it("estimates tool-call output from the partial JSON streamed", async () => {
    const run = await meterRun("ant-tools");
    const stream = await client(run, { tools: true, nousage: true }).messages.create({ ...REQUEST, stream: true });
    let json = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "input_json_delta")
        json += event.delta.partial_json;
    }
    expect(json.length).toBeGreaterThan(0);
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "aborted", estimated: true });
    expect(event?.usage.outputTokens).toBeGreaterThanOrEqual(Math.ceil(json.length / 4));
  });

  it("does not meter count_tokens", async () => {
    const run = await meterRun("ant-count");
    const counted = await client(run).messages.countTokens(REQUEST);
    expect(typeof counted.input_tokens).toBe("number");
    expect(await run.events()).toEqual([]);
    expect((await providerRequests(run.runId)).map((r) => r.path)).toEqual(["v1/messages/count_tokens"]);
  });

  it("wraps a client: same class, metered", async () => {
    const run = await meterRun("ant-wrap");
    const claude = run.stoa.wrap(
      new Anthropic({ apiKey: PROVIDER_KEY, baseURL: run.bases().anthropic, maxRetries: 0 }),
      {
        provider: StoaProvider.Anthropic,
        userId: "user_wrap",
      },
    );
    expect(claude).toBeInstanceOf(Anthropic);
    await claude.messages.create(REQUEST);
    const [event] = await run.events();
    expect(event).toMatchObject({ userId: "user_wrap", usage: ANTHROPIC_USAGE });
  });

  it("makes no event for a 529 overloaded answer", async () => {
    const run = await meterRun("ant-529");
    await expect(client(run, { status: 529 }).messages.create(REQUEST)).rejects.toMatchObject({ status: 529 });
    expect(await run.events()).toEqual([]);
  });
});
