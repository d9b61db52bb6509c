/**
 * The fake provider itself, driven by the real openai and @anthropic-ai/sdk
 * clients over the global fetch (no Stoa involved), in Node and in workerd.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { englishFixture, newRunId, providerBase, providerRequests } from "./provider.ts";

const CHAT_USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 300,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 128,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

const ANTHROPIC_USAGE = {
  input_tokens: 25,
  cache_creation_input_tokens: 1200,
  cache_read_input_tokens: 3400,
  cache_creation: { ephemeral_5m_input_tokens: 1200, ephemeral_1h_input_tokens: 0 },
  output_tokens: 12,
  server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
  service_tier: "standard",
};

function openai(runId: string, opts?: Parameters<typeof providerBase>[1]): OpenAI {
  return new OpenAI({ apiKey: "sk-test", baseURL: providerBase(runId, opts).openai, maxRetries: 0 });
}

function anthropic(runId: string, opts?: Parameters<typeof providerBase>[1]): Anthropic {
  return new Anthropic({ apiKey: "sk-ant-test", baseURL: providerBase(runId, opts).anthropic, maxRetries: 0 });
}

const messages = [{ role: "user" as const, content: "Say hello" }];

async function streamedChat(client: OpenAI): Promise<{ text: string; chunks: OpenAI.ChatCompletionChunk[] }> {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  let text = "";
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta.content ?? "";
  }
  return { text, chunks };
}

describe("fake provider through the openai SDK", () => {
  it("answers a JSON chat completion and records the request", async () => {
    const run = newRunId("chat");
    const completion = await openai(run).chat.completions.create({ model: "gpt-4o-mini", messages });

    expect(completion.id).toBe(`chatcmpl-${run}-1`);
    expect(completion.model).toBe("gpt-4o-mini-2024-07-18");
    expect(completion.choices[0]?.message.content).toBe("Hello!");
    expect(completion.usage).toEqual(CHAT_USAGE);
    expect(completion._request_id).toBe(`req_${run}_1`);

    const [request, ...rest] = await providerRequests(run);
    expect(rest).toEqual([]);
    expect(request).toMatchObject({ seq: 1, method: "POST", path: "v1/chat/completions", outcome: "completed" });
    expect(request?.headers.authorization).toBe("Bearer sk-test");
    expect(JSON.parse(request?.body ?? "")).toMatchObject({ model: "gpt-4o-mini", messages });
  });

  it("streams a chat completion with include_usage: usage null on every chunk, then a choices-less usage chunk", async () => {
    const run = newRunId("chatstream");
    const { text, chunks } = await streamedChat(openai(run));

    expect(text).toBe("Hello!");
    expect(chunks.map((c) => c.id)).toEqual(chunks.map(() => `chatcmpl-${run}-1`));
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(CHAT_USAGE);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");

    const requests = await providerRequests(run);
    expect(requests.map((r) => r.outcome)).toEqual(["completed"]);
  });

  it("streams without a usage chunk or usage keys when include_usage is not asked", async () => {
    const run = newRunId("nousage");
    const stream = await openai(run).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => !("usage" in c) && c.choices.length === 1)).toBe(true);
  });

  it("streams the Responses API, ending with response.completed", async () => {
    const run = newRunId("responses");
    const stream = await openai(run).responses.create({ model: "gpt-5-mini", input: "Say hello", stream: true });
    const types: string[] = [];
    let text = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(text).toBe("Hello!");
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(completed?.id).toBe(`resp_${run}_1`);
    expect(completed?.model).toBe("gpt-5-mini-2024-07-18");
    expect(completed?.usage).toEqual({
      input_tokens: 2048,
      input_tokens_details: { cached_tokens: 1536 },
      output_tokens: 400,
      output_tokens_details: { reasoning_tokens: 256 },
      total_tokens: 2448,
    });
  });

  it("parses a stream split into 1-byte chunks with CRLF line ends", async () => {
    const run = newRunId("crlf");
    const { text, chunks } = await streamedChat(openai(run, "chunk=1,crlf"));
    expect(text).toBe("Hello!");
    expect(chunks.at(-1)?.usage).toEqual(CHAT_USAGE);
  });

  it("records `cancelled` when the consumer breaks out of a stream early", async () => {
    const run = newRunId("cancel");
    const stream = await openai(run, { delay: 50 }).chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      stream: true,
    });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break;
    }
    const requests = await providerRequests(run);
    expect(requests.map((r) => r.outcome)).toEqual(["cancelled"]);
  });

  it("answers status=429 in OpenAI's error envelope", async () => {
    const run = newRunId("ratelimit");
    const error = await openai(run, { status: 429 })
      .chat.completions.create({ model: "gpt-4o-mini", messages })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).status).toBe(429);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).requestID).toBe(`req_${run}_1`);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("rate_limit_exceeded");
    expect(await providerRequests(run)).toHaveLength(1);
  });

  it("speaks OpenRouter at api/v1: gen- ids, cost, usage chunk even without include_usage", async () => {
    const run = newRunId("openrouter");
    const client = new OpenAI({ apiKey: "sk-or-test", baseURL: providerBase(run).openrouter, maxRetries: 0 });
    const response = await client.chat.completions
      .create({ model: "openai/gpt-4o-mini", messages, stream: true })
      .withResponse();
    expect(response.response.headers.get("x-generation-id")).toBe(`gen-${run}-1`);
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of response.data) chunks.push(chunk);
    expect(chunks.map((c) => c.id).every((id) => id === `gen-${run}-1`)).toBe(true);
    expect(chunks.at(-1)?.usage).toMatchObject({
      prompt_tokens: 14,
      completion_tokens: 3,
      total_tokens: 17,
      cost: 0.0000039,
    });
  });

  it("throws the mid-stream error event (option error) and cuts the network (option cut)", async () => {
    const errored = await streamedChat(openai(newRunId("error"), "error")).catch((e: unknown) => e);
    expect(errored).toBeInstanceOf(OpenAI.APIError);
    expect((errored as InstanceType<typeof OpenAI.APIError>).status).toBeUndefined();

    const run = newRunId("cut");
    const cut = await streamedChat(openai(run, "cut=2")).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(Error);
    expect((await providerRequests(run)).map((r) => r.outcome)).toEqual(["cut"]);
  });

  it("reports the true token count of the English paragraph (text=english)", async () => {
    const fixture = await englishFixture();
    expect(fixture.tokens).toBeGreaterThan(400);
    const { text, chunks } = await streamedChat(openai(newRunId("english"), "text=english"));
    expect(text).toBe(fixture.text);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(fixture.tokens);
    expect(chunks.length).toBe(fixture.tokens + 3);
  });
});

describe("fake provider through the Anthropic SDK", () => {
  it("answers a JSON message", async () => {
    const run = newRunId("msg");
    const message = await anthropic(run).messages.create({ model: "claude-sonnet-5", max_tokens: 64, messages });
    expect(message.id).toBe(`msg_${run}_1`);
    expect(message.model).toBe("claude-sonnet-5");
    expect(message.content).toEqual([{ type: "text", text: "Hello!" }]);
    expect(message.usage).toEqual(ANTHROPIC_USAGE);
    expect(message._request_id).toBe(`req_${run}_1`);
    expect((await providerRequests(run))[0]?.path).toBe("v1/messages");
  });

  it("streams message_start … message_delta … message_stop", async () => {
    const run = newRunId("msgstream");
    const stream = await anthropic(run, "text=unicode").messages.create({
      model: "claude-sonnet-5",
      max_tokens: 64,
      messages,
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    let deltaUsage: unknown;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "message_start") expect(event.message.usage.output_tokens).toBe(1);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
      if (event.type === "message_delta") deltaUsage = event.usage;
    }
    expect(types[0]).toBe("message_start");
    expect(types.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(text).toBe("héllo wörld 你好 🎉");
    expect(deltaUsage).toEqual({
      input_tokens: 25,
      cache_creation_input_tokens: 1200,
      cache_read_input_tokens: 3400,
      output_tokens: 12,
      server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
    });
    expect((await providerRequests(run)).map((r) => r.outcome)).toEqual(["completed"]);
  });

  it("overrides usage verbatim with usage=<json>", async () => {
    const usage = { input_tokens: 7, output_tokens: 5 };
    const message = await anthropic(newRunId("override"), { usage }).messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 64,
      messages,
    });
    expect(message.usage).toEqual(usage);
  });
});

describe("fake provider wire details (raw fetch)", () => {
  async function raw(opts: string, body: unknown, path = "v1/chat/completions"): Promise<string> {
    const response = await fetch(`${providerBase(newRunId("raw"), opts).anthropic}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(await response.arrayBuffer());
  }

  it("frames events with bom, comments, multiline, cr and noblank", async () => {
    const body = { model: "gpt-4o-mini", messages, stream: true };
    const text = await raw("bom,comments,multiline,cr,noblank", body);
    expect(text.startsWith("\uFEFFdata: {")).toBe(true);
    expect(text).not.toContain("\n");
    expect(text).toContain("\r\r: keep-alive\r\r");
    expect(text.endsWith("data: [DONE]\r")).toBe(true);
    const first = text.slice(1).split("\r\r")[0] ?? "";
    const lines = first.split("\r");
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines.map((l) => l.slice("data: ".length)).join("\n"))).toMatchObject({
      object: "chat.completion.chunk",
    });
  });

  it("sends the usage chunk twice with twice, and none with nousage", async () => {
    const body = { model: "gpt-4o-mini", messages, stream: true, stream_options: { include_usage: true } };
    expect((await raw("twice", body)).match(/"choices":\[\],"usage":\{/g)).toHaveLength(2);
    expect(await raw("nousage", body)).not.toContain('"usage":{');
  });

  it("streams web_search_call items in Responses (websearch=2)", async () => {
    const text = await raw("websearch=2", { model: "gpt-5-mini", input: "hi", stream: true }, "v1/responses");
    expect(text.match(/event: response\.output_item\.added\n/g)).toHaveLength(3);
    expect(text).not.toContain("[DONE]");
    const completed = text.split("event: response.completed\ndata: ")[1] ?? "";
    const output = (JSON.parse(completed) as { response: { output: { type: string }[] } }).response.output;
    expect(output.map((o) => o.type)).toEqual(["web_search_call", "web_search_call", "message"]);
  });

  it("delivers exactly k events, then cuts the connection (cut=k)", async () => {
    const response = await fetch(`${providerBase(newRunId("rawcut"), "events=10,cut=3").openai}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "gpt-4o-mini", messages, stream: true }),
    });
    const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let failed = false;
    try {
      for (;;) {
        const next = await reader?.read();
        if (next === undefined || next.done) break;
        text += next.value;
      }
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    expect(text.match(/^data: /gm)).toHaveLength(3);
    expect(text.endsWith("\n\n")).toBe(true);
  });

  it("answers unknown api paths with 404 in OpenAI's envelope", async () => {
    const response = await fetch(`${providerBase(newRunId("unknown")).openai}/nope`, { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });
});
