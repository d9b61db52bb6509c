/**
 * Gemini and Bedrock through their real AI SDK clients (`@ai-sdk/google`,
 * `@ai-sdk/amazon-bedrock` and its Anthropic provider) and `stoa.fetch()`,
 * over HTTP to the fake of test/support/fake-provider-more.ts: JSON, SSE and
 * Bedrock's binary event stream, exact events; and a network cut of each new
 * stream format, billed as an aborted estimate.
 */
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock";
import { createAmazonBedrockAnthropic } from "@ai-sdk/amazon-bedrock/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { generateText, streamText } from "ai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import {
  bedrockEvent,
  CONVERSE_STREAM_EVENTS,
  concatBytes,
  INVOKE_STREAM_EVENTS,
  invokeChunk,
  MORE_REQUEST_IDS,
} from "../support/fake-provider-more.ts";
import { type MeterRun, meterRun, PROVIDER_KEY } from "../support/meter.ts";
import { FAKE, metered, usage } from "./more-clients-support.ts";

const PROMPT = "How many r's are in strawberry?";

describe("google through @ai-sdk/google", () => {
  function google(run: MeterRun, base = FAKE) {
    return createGoogleGenerativeAI({
      apiKey: PROVIDER_KEY,
      baseURL: `${base}/google/v1beta`,
      fetch: metered(run, StoaProvider.Google),
    });
  }

  const GEMINI_EVENT = {
    provider: "google",
    endpoint: "generate_content",
    model: "gemini-3-pro-preview",
    requestedModel: "gemini-3-pro-preview",
    status: "completed",
    estimated: false,
  };

  it("meters generateText: thoughts inside output, the model from the path", async () => {
    const run = await meterRun("gemini-json");
    const generated = await generateText({
      model: google(run)("gemini-3-pro-preview"),
      prompt: PROMPT,
      maxRetries: 0,
    });
    expect(generated.text).toBe("There are **3** r's in strawberry.");
    expect(await run.events()).toMatchObject([
      {
        ...GEMINI_EVENT,
        id: "google:Un6LacrVMcjUxs0PmJfWoQc",
        stream: false,
        usage: usage({ inputTokens: 9, outputTokens: 272, reasoningTokens: 244 }),
      },
    ]);
    expect(run.errors).toEqual([]);
  });

  it("meters streamText: the last cumulative snapshot, never a sum", async () => {
    const run = await meterRun("gemini-stream");
    const streamed = streamText({ model: google(run)("gemini-3-pro-preview"), prompt: PROMPT, maxRetries: 0 });
    expect(await streamed.text).toBe('There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y');
    expect(await run.events()).toMatchObject([
      {
        ...GEMINI_EVENT,
        id: "google:bH6LaZW8Fp_3nsEPqtaSwQ4",
        stream: true,
        usage: usage({ inputTokens: 9, outputTokens: 208, reasoningTokens: 185 }),
      },
    ]);
    expect(run.errors).toEqual([]);
  });

  const GROUNDED_EVENT = {
    id: "google:grounded-1",
    provider: "google",
    endpoint: "generate_content",
    model: "gemini-3-flash-preview",
    requestedModel: "gemini-3-flash-preview",
    status: "completed",
    estimated: false,
    // 120 prompt − 100 cached + 30 tool-use prompt; 40 candidates + 60 thoughts; 2 non-empty queries
    usage: usage({
      inputTokens: 50,
      cacheReadTokens: 100,
      outputTokens: 100,
      reasoningTokens: 60,
      webSearchRequests: 2,
    }),
  };

  it("meters a grounded answer over cached content: cache, thoughts, tool-use prompt and web searches", async () => {
    const run = await meterRun("gemini-grounded-json");
    const generated = await generateText({
      model: google(run)("gemini-3-flash-preview"),
      prompt: PROMPT,
      maxRetries: 0,
    });
    expect(generated.text).toBe("Stoa bills per call.");
    expect(await run.events()).toMatchObject([{ ...GROUNDED_EVENT, stream: false }]);
    expect(run.errors).toEqual([]);
  });

  it("meters the same answer streamed, grounding from the last chunk", async () => {
    const run = await meterRun("gemini-grounded-stream");
    const streamed = streamText({ model: google(run)("gemini-3-flash-preview"), prompt: PROMPT, maxRetries: 0 });
    expect(await streamed.text).toBe("Stoa bills per call.");
    expect(await run.events()).toMatchObject([{ ...GROUNDED_EVENT, stream: true }]);
    expect(run.errors).toEqual([]);
  });

  it("meters a Vertex stream whose interim chunks carry only trafficType", async () => {
    const run = await meterRun("vertex-stream");
    const url = `${FAKE}/google/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse`;
    const response = await metered(run, StoaProvider.Google)(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${PROVIDER_KEY}` },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: PROMPT }] }] }),
    });
    expect((await response.text()).split("data: ").length).toBe(3);
    expect(await run.events()).toMatchObject([
      {
        id: "google:tjXVaYaxFISTq8YP_MWiyAo",
        provider: "google",
        endpoint: "generate_content",
        model: "gemini-3.1-pro-preview",
        requestedModel: "gemini-3.1-pro-preview",
        stream: true,
        status: "completed",
        estimated: false,
        usage: usage({ inputTokens: 31, outputTokens: 1710, reasoningTokens: 1026 }),
      },
    ]);
    expect(run.errors).toEqual([]);
  });

  it("bills a stream cut before its finishing chunk as an aborted estimate", async () => {
    const run = await meterRun("gemini-cut");
    // the first SSE event of the fixture is 349 bytes: cut inside the second
    const streamed = streamText({
      model: google(run, `${FAKE}/cut=400`)("gemini-3-pro-preview"),
      prompt: PROMPT,
      maxRetries: 0,
      onError: () => {},
    });
    await expect(streamed.text).rejects.toThrow();
    const events = await run.events();
    expect(events).toMatchObject([
      {
        id: "google:bH6LaZW8Fp_3nsEPqtaSwQ4",
        provider: "google",
        stream: true,
        status: "aborted",
        estimated: true,
      },
    ]);
    // the first chunk's counts are kept: 9 prompt, 5 candidates + 185 thoughts
    expect(events[0]?.usage).toMatchObject({ inputTokens: 9, outputTokens: 190 });
    expect(run.errors.map((e) => e.message)).toEqual([
      "No usage reported: the stream failed first; the event is estimated.",
    ]);
  });
});

const CREDENTIALS = {
  region: "us-east-1",
  accessKeyId: "AKIAFAKEEXAMPLE",
  secretAccessKey: "fake-secret-access-key",
  baseURL: `${FAKE}/bedrock`,
};

describe("bedrock through @ai-sdk/amazon-bedrock (Converse)", () => {
  const MODEL = "us.amazon.nova-pro-v1:0";
  const EVENT = {
    id: `bedrock:${MORE_REQUEST_IDS.bedrock}`,
    provider: "bedrock",
    endpoint: "converse",
    model: MODEL,
    requestedModel: MODEL,
    providerRequestId: MORE_REQUEST_IDS.bedrock,
    status: "completed",
    estimated: false,
  };

  function bedrock(run: MeterRun, baseURL = CREDENTIALS.baseURL) {
    return createAmazonBedrock({ ...CREDENTIALS, baseURL, fetch: metered(run, StoaProvider.Bedrock) });
  }

  it("meters generateText: Converse usage, the model from the path, the signed body untouched", async () => {
    const run = await meterRun("bedrock-converse");
    const generated = await generateText({ model: bedrock(run)(MODEL), prompt: PROMPT, maxRetries: 0 });
    expect(generated.text).toBe('Let me count the "r"s in strawberry.');
    expect(await run.events()).toMatchObject([
      { ...EVENT, stream: false, usage: usage({ inputTokens: 22, outputTokens: 57 }) },
    ]);
    expect(run.errors).toEqual([]);
  });

  it("meters streamText: the binary event stream passes through, usage from the metadata event", async () => {
    const run = await meterRun("bedrock-converse-stream");
    const streamed = streamText({ model: bedrock(run)(MODEL), prompt: PROMPT, maxRetries: 0 });
    expect(await streamed.text).toBe("Let me count.");
    expect((await streamed.usage).outputTokens).toBe(55);
    expect(await run.events()).toMatchObject([
      { ...EVENT, stream: true, usage: usage({ inputTokens: 22, outputTokens: 55 }) },
    ]);
    expect(run.errors).toEqual([]);
  });

  it("bills a stream cut inside a frame as an aborted estimate and says so", async () => {
    const run = await meterRun("bedrock-cut");
    // frames of 178, 172 and 171 bytes (messageStart and two text deltas), then 10 bytes of the fourth's prelude
    const streamed = streamText({
      model: bedrock(run, `${FAKE}/cut=531/bedrock`)(MODEL),
      prompt: PROMPT,
      maxRetries: 0,
      onError: () => {},
    });
    await expect(streamed.text).rejects.toThrow();
    const events = await run.events();
    expect(events).toMatchObject([{ ...EVENT, stream: true, status: "aborted", estimated: true }]);
    // input estimated from the request, output from the 13 characters of text that arrived
    expect(events[0]?.usage).toEqual(usage({ inputTokens: 8, outputTokens: 4 }));
    expect(run.errors.map((e) => e.message)).toEqual([
      "No usage reported: the stream failed first; the event is estimated.",
    ]);
  });
});

describe("bedrock binary bodies the meter cannot fully trust", () => {
  const MODEL = "us.amazon.nova-pro-v1:0";
  const BYTES = concatBytes(CONVERSE_STREAM_EVENTS.map(([type, payload]) => bedrockEvent(type, payload)));

  async function call(run: MeterRun, change: string): Promise<Uint8Array> {
    const url = `${FAKE}/${change}/bedrock/model/${encodeURIComponent(MODEL)}/converse-stream`;
    const response = await metered(run, StoaProvider.Bedrock)(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: PROMPT }] }] }),
    });
    expect(response.headers.get("content-type")).toBe("application/vnd.amazon.eventstream");
    return new Uint8Array(await response.arrayBuffer());
  }

  const ESTIMATED = {
    id: `bedrock:${MORE_REQUEST_IDS.bedrock}`,
    provider: "bedrock",
    endpoint: "converse",
    model: MODEL,
    stream: true,
    status: "aborted",
    estimated: true,
    // input estimated from the request, output from the 13 characters of text decoded
    usage: usage({ inputTokens: 8, outputTokens: 4 }),
  };

  it("a corrupt CRC on the metadata frame: the app gets the bytes as sent, the event is estimated, onError told", async () => {
    const run = await meterRun("bedrock-bad-crc");
    const sent = BYTES.slice();
    sent[sent.length - 1] = (sent[sent.length - 1] as number) ^ 0xff;
    expect(await call(run, `flip=${BYTES.length - 1}`)).toEqual(sent);
    expect(await run.events()).toMatchObject([ESTIMATED]);
    expect(run.errors.map((e) => [e.message, (e.cause as { kind?: string } | undefined)?.kind])).toEqual([
      ["The event stream could not be fully decoded; the event may be estimated.", "message_crc"],
      ["No usage reported: the stream ended first; the event is estimated.", undefined],
    ]);
  });

  it("a body that ends inside a frame: the app gets the bytes, the event is estimated, onError told", async () => {
    const run = await meterRun("bedrock-truncated");
    expect(await call(run, `end=${BYTES.length - 30}`)).toEqual(BYTES.subarray(0, BYTES.length - 30));
    expect(await run.events()).toMatchObject([ESTIMATED]);
    expect(run.errors.map((e) => [e.message, (e.cause as { kind?: string } | undefined)?.kind])).toEqual([
      ["The event stream could not be fully decoded; the event may be estimated.", "truncated"],
      ["No usage reported: the stream ended first; the event is estimated.", undefined],
    ]);
  });

  it("an app that cancels a stalled stream: an aborted estimate, no error", async () => {
    const run = await meterRun("bedrock-cancel");
    // the messageStart frame (178 bytes), then nothing
    const url = `${FAKE}/stall=178/bedrock/model/${encodeURIComponent(MODEL)}/converse-stream`;
    const response = await metered(run, StoaProvider.Bedrock)(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: [{ text: PROMPT }] }] }),
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    expect(await run.events()).toMatchObject([{ ...ESTIMATED, usage: usage({ inputTokens: 8 }) }]);
    expect(run.errors).toEqual([]);
  });
});

describe("bedrock through @ai-sdk/amazon-bedrock/anthropic (InvokeModel)", () => {
  const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
  const EVENT = {
    id: `bedrock:msg_bdrk_01:${MORE_REQUEST_IDS.bedrock}`,
    provider: "bedrock",
    endpoint: "invoke",
    model: "claude-sonnet-4-5-20250929",
    requestedModel: MODEL,
    providerRequestId: MORE_REQUEST_IDS.bedrock,
    status: "completed",
    estimated: false,
    usage: usage({ inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 3, outputTokens: 25 }),
  };

  function bedrock(run: MeterRun) {
    return createAmazonBedrockAnthropic({ ...CREDENTIALS, fetch: metered(run, StoaProvider.Bedrock) });
  }

  it("meters generateText: the Anthropic body's usage", async () => {
    const run = await meterRun("bedrock-invoke");
    const generated = await generateText({ model: bedrock(run)(MODEL), prompt: PROMPT, maxRetries: 0 });
    expect(generated.text).toBe("Hello, wörld!");
    expect(await run.events()).toMatchObject([{ ...EVENT, stream: false }]);
    expect(run.errors).toEqual([]);
  });

  it("bills an Invoke stream cut after its text as aborted: message_start's counts kept, output estimated", async () => {
    const run = await meterRun("bedrock-invoke-cut");
    const frames = INVOKE_STREAM_EVENTS.map(invokeChunk);
    // message_start, content_block_start and the text delta arrive; the cut falls inside content_block_stop
    const cut = frames.slice(0, 3).reduce((n, frame) => n + frame.length, 0) + 20;
    const url = `${FAKE}/cut=${cut}/bedrock/model/${encodeURIComponent(MODEL)}/invoke-with-response-stream`;
    const response = await metered(run, StoaProvider.Bedrock)(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        anthropic_version: "bedrock-2023-05-31",
        max_tokens: 100,
        messages: [{ role: "user", content: PROMPT }],
      }),
    });
    await expect(response.arrayBuffer()).rejects.toThrow();
    const events = await run.events();
    expect(events).toMatchObject([
      {
        ...EVENT,
        stream: true,
        status: "aborted",
        estimated: true,
        // reported by message_start; output estimated from "Hello, wörld!"
        usage: usage({ inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 3, outputTokens: 4 }),
      },
    ]);
    expect(run.errors.map((e) => e.message)).toEqual([
      "No usage reported: the stream failed first; the event is estimated.",
    ]);
  });

  it("meters streamText: base64 Anthropic events in chunk frames, invocationMetrics never added", async () => {
    const run = await meterRun("bedrock-invoke-stream");
    const streamed = streamText({ model: bedrock(run)(MODEL), prompt: PROMPT, maxRetries: 0 });
    expect(await streamed.text).toBe("Hello, wörld!");
    expect(await run.events()).toMatchObject([{ ...EVENT, stream: true }]);
    expect(run.errors).toEqual([]);
  });
});
