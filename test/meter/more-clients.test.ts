/**
 * The real clients of issue 11's OpenAI-shaped hosts through `stoa.fetch()`
 * to the fake of test/support/fake-provider-more.ts, served over HTTP by the
 * global setup (`<fakeBase>/m/…`, so this runs in Node and in workerd):
 * AzureOpenAI, @ai-sdk/azure, groq-sdk, @mistralai/mistralai,
 * @ai-sdk/deepseek and @ai-sdk/xai, JSON and streamed, exact events. Gemini and Bedrock are in
 * more-clients-google-bedrock.test.ts, LangChain in more-clients-langchain.test.ts.
 */
import { createAzure } from "@ai-sdk/azure";
import { createDeepSeek } from "@ai-sdk/deepseek";
import { createXai } from "@ai-sdk/xai";
import { HTTPClient, Mistral } from "@mistralai/mistralai";
import { generateText, streamText } from "ai";
import Groq from "groq-sdk";
import { AzureOpenAI } from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { MORE_REQUEST_IDS } from "../support/fake-provider-more.ts";
import { type MeterRun, meterRun, PROVIDER_KEY } from "../support/meter.ts";
import { FAKE, metered, usage } from "./more-clients-support.ts";

const MESSAGES = [{ role: "user" as const, content: "Say hello" }];

describe("azure through AzureOpenAI", () => {
  const AZURE_EVENT = {
    id: "azure:chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j:apim-0f1e2d3c",
    provider: "azure",
    endpoint: "chat.completions",
    model: "gpt-4o-2024-08-06",
    requestedModel: "gpt-4o",
    providerRequestId: MORE_REQUEST_IDS.azure,
    status: "completed",
    estimated: false,
    usage: usage({ inputTokens: 16, cacheReadTokens: 4, outputTokens: 9 }),
  };

  function client(run: MeterRun) {
    return new AzureOpenAI({
      apiKey: PROVIDER_KEY,
      endpoint: `${FAKE}/azure`,
      apiVersion: "2024-10-21",
      deployment: "my-gpt-4o",
      maxRetries: 0,
      fetch: metered(run, StoaProvider.Azure),
    });
  }

  it("meters a JSON completion", async () => {
    const run = await meterRun("azure-json");
    const completion = await client(run).chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
    expect(completion.choices[0]?.message.content).toBe("Hello!");
    expect(await run.events()).toMatchObject([{ ...AZURE_EVENT, stream: false }]);
    expect(run.errors).toEqual([]);
  });

  it("meters a stream that opens with the content-filter chunk, adding and hiding the usage chunk", async () => {
    const run = await meterRun("azure-stream");
    const stream = await client(run).chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      expect(chunk.usage ?? undefined).toBeUndefined();
    }
    expect(text).toBe("Hello!");
    expect(chunks).toBe(4);
    expect(await run.events()).toMatchObject([{ ...AZURE_EVENT, stream: true }]);
    expect(run.errors).toEqual([]);
  });
});

describe("azure through @ai-sdk/azure (its v1 URLs: Responses by default, chat completions)", () => {
  function azure(run: MeterRun) {
    return createAzure({
      baseURL: `${FAKE}/azure/openai`,
      apiKey: PROVIDER_KEY,
      fetch: metered(run, StoaProvider.Azure),
    });
  }
  const RESPONSES_EVENT = {
    id: "azure:resp_azure_1:apim-0f1e2d3c",
    provider: "azure",
    endpoint: "responses",
    requestedModel: "my-gpt-4o",
    model: "gpt-4o-2024-08-06",
    providerRequestId: MORE_REQUEST_IDS.azure,
    status: "completed",
    estimated: false,
    usage: usage({ inputTokens: 16, cacheReadTokens: 4, outputTokens: 9 }),
  };

  // the fake answers one response id and one request id: one run per call, or Stoa keeps one event
  it("meters generateText over the Responses API", async () => {
    const run = await meterRun("azure-aisdk-json");
    const result = await generateText({ model: azure(run)("my-gpt-4o"), prompt: "Say hello", maxRetries: 0 });
    expect(result.text).toBe("Hello!");
    expect(await run.events()).toMatchObject([{ ...RESPONSES_EVENT, stream: false }]);
    expect(run.errors).toEqual([]);
  });

  it("meters streamText over the Responses API", async () => {
    const run = await meterRun("azure-aisdk-stream");
    const result = streamText({ model: azure(run)("my-gpt-4o"), prompt: "Say hello", maxRetries: 0 });
    expect(await result.text).toBe("Hello!");
    expect(await run.events()).toMatchObject([{ ...RESPONSES_EVENT, stream: true }]);
    expect(run.errors).toEqual([]);
  });

  it("meters chat completions through azure.chat()", async () => {
    const run = await meterRun("azure-aisdk-chat");
    const result = await generateText({ model: azure(run).chat("my-gpt-4o"), prompt: "Say hello", maxRetries: 0 });
    expect(result.text).toBe("Hello!");
    expect(await run.events()).toMatchObject([
      {
        provider: "azure",
        endpoint: "chat.completions",
        model: "gpt-4o-2024-08-06",
        stream: false,
        status: "completed",
        usage: usage({ inputTokens: 16, cacheReadTokens: 4, outputTokens: 9 }),
      },
    ]);
    expect(run.errors).toEqual([]);
  });
});

describe("groq through groq-sdk", () => {
  function client(run: MeterRun) {
    return new Groq({
      apiKey: PROVIDER_KEY,
      baseURL: `${FAKE}/groq`,
      maxRetries: 0,
      fetch: metered(run, StoaProvider.Groq),
    });
  }

  it("meters a stream: the finish chunk's usage once, though it is there twice", async () => {
    const run = await meterRun("groq-stream");
    const stream = await client(run).chat.completions.create({
      model: "llama-3.3-70b-versatile",
      messages: MESSAGES,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Hello!");
    expect(await run.events()).toMatchObject([
      {
        id: "groq:chatcmpl-7eb08824-2c5b-4c4d-9a1f-4c4b1c1e9d01:req_01kh52ndshfr2azv0xe6tnv4fx",
        provider: "groq",
        endpoint: "chat.completions",
        model: "llama-3.3-70b-versatile",
        requestedModel: "llama-3.3-70b-versatile",
        providerRequestId: MORE_REQUEST_IDS.groq,
        stream: true,
        status: "completed",
        estimated: false,
        usage: usage({ inputTokens: 45, outputTokens: 662 }),
      },
    ]);
    expect(run.errors).toEqual([]);
  });

  // Issue 11's defect: the JSON skim took the LAST `"usage"` object of the body, which for Groq is the nested
  // `x_groq.usage`, so the call was billed as zeros with no onError.
  it("meters a JSON completion from the top-level usage, not x_groq.usage", async () => {
    const run = await meterRun("groq-json");
    const completion = await client(run).chat.completions.create({
      model: "llama-3.3-70b-versatile",
      messages: MESSAGES,
    });
    expect(completion.choices[0]?.message.content).toBe("Hello!");
    expect(await run.events()).toMatchObject([
      {
        id: "groq:chatcmpl-7eb08824-2c5b-4c4d-9a1f-4c4b1c1e9d01:req_01kh52ndshfr2azv0xe6tnv4fx",
        stream: false,
        status: "completed",
        usage: usage({ inputTokens: 13, cacheReadTokens: 32, outputTokens: 662, reasoningTokens: 100 }),
      },
    ]);
  });
});

describe("mistral through @mistralai/mistralai (a fetcher given one Request)", () => {
  const MISTRAL_EVENT = {
    id: "mistral:5319bd0299614c679a0068a4f2c8ffd0:mistral-req-1",
    provider: "mistral",
    endpoint: "chat.completions",
    model: "mistral-small-latest",
    requestedModel: "mistral-small-latest",
    providerRequestId: MORE_REQUEST_IDS.mistral,
    status: "completed",
    estimated: false,
    usage: usage({ inputTokens: 13, outputTokens: 8 }),
  };

  function client(run: MeterRun) {
    const fetch = metered(run, StoaProvider.Mistral);
    return new Mistral({
      apiKey: PROVIDER_KEY,
      serverURL: `${FAKE}/mistral`,
      httpClient: new HTTPClient({ fetcher: (request) => fetch(request) }),
    });
  }

  it("meters a JSON completion", async () => {
    const run = await meterRun("mistral-json");
    const result = await client(run).chat.complete({ model: "mistral-small-latest", messages: MESSAGES });
    expect(result.choices[0]?.message?.content).toBe("Hello!");
    expect(await run.events()).toMatchObject([{ ...MISTRAL_EVENT, stream: false }]);
    expect(run.errors).toEqual([]);
  });

  it("meters a stream without asking for usage", async () => {
    const run = await meterRun("mistral-stream");
    const stream = await client(run).chat.stream({ model: "mistral-small-latest", messages: MESSAGES });
    let text = "";
    for await (const event of stream) text += String(event.data.choices[0]?.delta.content ?? "");
    expect(text).toBe("Hello!");
    expect(await run.events()).toMatchObject([{ ...MISTRAL_EVENT, stream: true }]);
    expect(run.errors).toEqual([]);
  });
});

describe("deepseek through @ai-sdk/deepseek", () => {
  const expected = {
    id: "deepseek:ds-chatcmpl-1:ds-req-1",
    provider: "deepseek",
    endpoint: "chat.completions",
    model: "deepseek-chat",
    requestedModel: "deepseek-chat",
    providerRequestId: MORE_REQUEST_IDS.deepseek,
    status: "completed",
    estimated: false,
    usage: usage({ inputTokens: 36, cacheReadTokens: 64, outputTokens: 10 }),
  };

  function client(run: MeterRun) {
    return createDeepSeek({
      apiKey: PROVIDER_KEY,
      baseURL: `${FAKE}/deepseek`,
      fetch: metered(run, StoaProvider.DeepSeek),
    });
  }

  it("meters generateText: cache hit and miss", async () => {
    const run = await meterRun("deepseek-json");
    const generated = await generateText({ model: client(run)("deepseek-chat"), prompt: "Say hello", maxRetries: 0 });
    expect(generated.text).toBe("Hello!");
    expect(await run.events()).toMatchObject([{ ...expected, stream: false }]);
    expect(run.errors).toEqual([]);
  });

  it("meters streamText: usage on the finish chunk", async () => {
    const run = await meterRun("deepseek-stream");
    const streamed = streamText({ model: client(run)("deepseek-chat"), prompt: "Say hello", maxRetries: 0 });
    expect(await streamed.text).toBe("Hello!");
    expect((await streamed.usage).inputTokens).toBe(100);
    expect(await run.events()).toMatchObject([{ ...expected, stream: true }]);
    expect(run.errors).toEqual([]);
  });
});

describe("xai through @ai-sdk/xai (Responses)", () => {
  it("meters generateText: Responses usage plus the cost in ticks", async () => {
    const run = await meterRun("xai-responses");
    const xai = createXai({ apiKey: PROVIDER_KEY, baseURL: `${FAKE}/xai/v1`, fetch: metered(run, StoaProvider.XAI) });
    const generated = await generateText({ model: xai("grok-4"), prompt: "Say hello", maxRetries: 0 });
    expect(generated.text).toBe("Hello!");
    expect(await run.events()).toMatchObject([
      {
        id: "xai:resp_xai_1:xai-req-1",
        provider: "xai",
        endpoint: "responses",
        model: "grok-4",
        requestedModel: "grok-4",
        providerRequestId: MORE_REQUEST_IDS.xai,
        stream: false,
        status: "completed",
        estimated: false,
        usage: usage({ inputTokens: 66, cacheReadTokens: 150, outputTokens: 923, reasoningTokens: 323 }),
        costUsd: 0.0123456789,
      },
    ]);
    expect(run.errors).toEqual([]);
  });
});
