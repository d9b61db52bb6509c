/**
 * What the app reads through a bare `stoa.fetch()`: the provider's exact
 * bytes (less only the usage chunk the meter asked for), and what passes
 * through unmetered.
 */
import { describe, expect, it } from "vitest";
import { StoaProvider, StoaStreamError } from "../../src/index.ts";
import { meterRun } from "../support/meter.ts";
import { newRunId, providerBase, providerRequests } from "../support/provider.ts";

const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }], stream: true };

function post(body: unknown): RequestInit & { method: string } {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** The bytes of an unmetered call to a fresh run with `opts`, its run id replaced by `runId`. */
async function unmeteredText(runId: string, opts: Record<string, string | number | boolean>, body: unknown) {
  const other = newRunId("plain");
  const response = await fetch(`${providerBase(other, opts).openai}/chat/completions`, post(body));
  return (await response.text()).replaceAll(other, runId);
}

describe("bytes the app reads", () => {
  it("are the provider's bytes when the app asked for usage itself", async () => {
    const run = await meterRun("bytes-own");
    const opts = { chunk: 5, crlf: true, text: "unicode" };
    const body = { ...CHAT, stream_options: { include_usage: true } };
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
    const response = await meter(`${run.bases(opts).openai}/chat/completions`, post(body));
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(await response.text()).toBe(await unmeteredText(run.runId, opts, body));
    expect(await run.events()).toHaveLength(1);
  });

  it("are the provider's bytes less the usage-only chunk the meter asked for", async () => {
    const run = await meterRun("bytes-filter");
    const opts = { chunk: 3, crlf: true };
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
    const text = await (await meter(`${run.bases(opts).openai}/chat/completions`, post(CHAT))).text();
    const full = await unmeteredText(run.runId, opts, { ...CHAT, stream_options: { include_usage: true } });
    const blocks = full.split("\r\n\r\n");
    const usageBlock = blocks.findIndex((b) => b.includes('"choices":[]'));
    expect(usageBlock).toBeGreaterThan(0);
    blocks.splice(usageBlock, 1);
    expect(text).toBe(blocks.join("\r\n\r\n"));
    const [event] = await run.events();
    expect(event?.usage.outputTokens).toBe(300);
  });

  it("meter a bare fetch with a Request object", async () => {
    const run = await meterRun("bytes-request");
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
    const request = new Request(`${run.bases().openai}/chat/completions`, post({ ...CHAT, stream: false }));
    const json = (await (await meter(request)).json()) as { id: string };
    expect(json.id).toBe(`chatcmpl-${run.runId}-1`);
    const [event] = await run.events();
    expect(event?.id).toBe(`openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`);
  });
});

describe("what passes through unmetered", () => {
  it("exposes .Response (so the SDKs skip their data:, probe) and passes a probe through", async () => {
    const run = await meterRun("probe");
    const seen: unknown[] = [];
    const meter = run.stoa.fetch({
      provider: StoaProvider.OpenAI,
      userId: "u",
      fetch: async (input, init) => {
        seen.push([input, init]);
        return new Response("");
      },
    });
    expect(meter.Response).toBe(Response);
    await meter("data:,");
    expect(seen).toEqual([["data:,", undefined]]);
    expect(await run.events()).toEqual([]);
  });

  it("passes GETs, FormData uploads and unknown paths untouched", async () => {
    const run = await meterRun("passthrough");
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
    const base = run.bases().openai;
    const form = new FormData();
    form.set("model", "whisper-1");
    await (await meter(`${base}/chat/completions`, { method: "POST", body: form })).text();
    await (await meter(`${base}/models`)).text();
    await (await meter(`${base}/moderations`, post({ input: "x" }))).text();
    expect(await run.events()).toEqual([]);
    const requests = await providerRequests(run.runId);
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST v1/chat/completions",
      "GET v1/models",
      "POST v1/moderations",
    ]);
    expect(requests[0]?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
  });

  it("reports a 200 that is not JSON to onError and makes no event", async () => {
    const run = await meterRun("html");
    const meter = run.stoa.fetch({
      provider: StoaProvider.OpenAI,
      userId: "u",
      fetch: async () => new Response("<html>captive portal</html>", { headers: { "content-type": "text/html" } }),
    });
    const response = await meter("https://api.openai.com/v1/chat/completions", post({ ...CHAT, stream: false }));
    expect(await response.text()).toBe("<html>captive portal</html>");
    expect(await run.events()).toEqual([]);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(StoaStreamError);
  });

  it("bills a JSON response the app cancels unread, from the rest read in the background", async () => {
    const run = await meterRun("json-cancel");
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
    const response = await meter(`${run.bases().openai}/chat/completions`, post({ ...CHAT, stream: false }));
    await response.body?.cancel();
    const [event] = await run.events();
    expect(event).toMatchObject({
      id: `openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`,
      status: "completed",
      stream: false,
    });
    expect(event?.usage.outputTokens).toBe(300);
  });

  it("bills an estimate for a cancelled JSON body whose rest never ends, and flush() resolves", async () => {
    const run = await meterRun("json-cancel-stall");
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
    // 5 MB of padding, past the 4 MiB bound of the background read, then the body never ends
    const url = `${run.bases({ stall: 5_000_000 }).openai}/chat/completions`;
    const response = await meter(url, post({ ...CHAT, stream: false }));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    const [event, ...more] = await run.events();
    expect(more).toEqual([]);
    expect(event).toMatchObject({ status: "aborted", estimated: true, stream: false });
    expect(event?.usage.outputTokens).toBe(0);
    expect(event?.usage.inputTokens).toBeGreaterThan(0);
    expect(run.errors.map((e) => e.message)).toEqual([
      "The app cancelled a JSON body whose rest did not end within 4 MiB; it was cancelled upstream and the event is estimated.",
    ]);
    const [request] = await providerRequests(run.runId);
    expect(request?.outcome).toBe("cancelled");
  });

  it("reads the usage of a JSON body too large to keep (12 MB of embeddings) from its ends", async () => {
    const run = await meterRun("json-huge");
    const vector = Array.from({ length: 1536 }, (_, i) => (i % 7) / 7 - 0.5);
    const data = Array.from({ length: 600 }, (_, index) => ({ object: "embedding", index, embedding: vector }));
    const text = JSON.stringify({
      object: "list",
      data,
      model: "text-embedding-3-small",
      usage: { prompt_tokens: 4200, total_tokens: 4200 },
    });
    expect(text.length).toBeGreaterThan(8 * 1024 * 1024);
    const bytes = new TextEncoder().encode(text);
    const meter = run.stoa.fetch({
      provider: StoaProvider.OpenAI,
      userId: "u",
      fetch: async () =>
        new Response(
          new ReadableStream({
            start(controller) {
              for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.slice(i, i + 65536));
              controller.close();
            },
          }),
          { headers: { "content-type": "application/json", "x-request-id": "req_huge" } },
        ),
    });
    const response = await meter(
      "https://api.openai.com/v1/embeddings",
      post({ model: "text-embedding-3-small", input: "x" }),
    );
    expect((await response.text()).length).toBe(text.length);
    const [event] = await run.events();
    expect(event).toMatchObject({
      id: "openai:req_huge",
      model: "text-embedding-3-small",
      usage: { inputTokens: 4200, outputTokens: 0 },
      status: "completed",
    });
  });

  it("drops content-encoding and content-length from a body the runtime already decoded", async () => {
    const run = await meterRun("gzip");
    const json = JSON.stringify({
      id: "chatcmpl-gz",
      model: "gpt-4o",
      usage: { prompt_tokens: 3, completion_tokens: 2 },
    });
    const headers = { "content-type": "application/json", "content-encoding": "gzip", "content-length": "42" };
    const sse = `data: ${JSON.stringify({ id: "chatcmpl-gz2", model: "gpt-4o", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } })}\n\ndata: [DONE]\n\n`;
    const meter = run.stoa.fetch({
      provider: StoaProvider.OpenAI,
      userId: "u",
      fetch: async (_input, init) =>
        JSON.parse(String(init?.body)).stream === true
          ? new Response(sse, { headers: { ...headers, "content-type": "text/event-stream" } })
          : new Response(json, { headers }),
    });
    for (const stream of [false, true]) {
      const body = stream ? { ...CHAT, stream_options: { include_usage: true } } : { ...CHAT, stream };
      const response = await meter("https://api.openai.com/v1/chat/completions", post(body));
      expect(response.headers.get("content-encoding")).toBeNull();
      expect(response.headers.get("content-length")).toBeNull();
      expect(await response.text()).toBe(stream ? sse : json);
    }
    const events = await run.events();
    expect(events.map((e) => [e.id, e.usage.outputTokens])).toEqual([
      ["openai:chatcmpl-gz", 2],
      ["openai:chatcmpl-gz2", 2],
    ]);
  });

  it("bills an estimate when a stream is truncated inside the usage JSON", async () => {
    const run = await meterRun("truncated");
    const sse = [
      'data: {"id":"chatcmpl-t1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello there"}}]}\n\n',
      'data: {"id":"chatcmpl-t1","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"compl',
    ].join("");
    const meter = run.stoa.fetch({
      provider: StoaProvider.OpenAI,
      userId: "u",
      fetch: async () => new Response(sse, { headers: { "content-type": "text/event-stream" } }),
    });
    const response = await meter("https://api.openai.com/v1/chat/completions", post(CHAT));
    expect(await response.text()).toBe(sse);
    const [event] = await run.events();
    expect(event).toMatchObject({ id: "openai:chatcmpl-t1", status: "aborted", estimated: true });
    expect(event?.usage.outputTokens).toBe(3);
    expect(run.errors.map((e) => e.constructor)).toEqual([StoaStreamError]);
  });
});
