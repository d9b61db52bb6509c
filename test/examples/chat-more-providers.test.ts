/**
 * The chat example's provider choice for issue 11's providers: which key
 * picks which client and meter, and a real answer through each client family
 * (openai to an OpenAI-compatible host, AzureOpenAI, the Bedrock AI SDK
 * provider) to test/support/fake-provider-more.ts over HTTP, metered.
 */
import { describe, expect, it } from "vitest";
import { type AnswerPart, chatProvider, GEMINI_OPENAI } from "../../examples/chat/provider.ts";
import { type FetchLike, StoaProvider } from "../../src/index.ts";
import { FAKE } from "../meter/more-clients-support.ts";
import { meterRun } from "../support/meter.ts";

describe("chatProvider() with the other providers' keys", () => {
  it.each([
    [{ GEMINI_API_KEY: "k" }, "google", "gemini-2.5-flash", StoaProvider.Google],
    [{ GEMINI_API_KEY: "k", GEMINI_MODEL: "gemini-2.5-pro" }, "google", "gemini-2.5-pro", StoaProvider.Google],
    [
      { AZURE_OPENAI_API_KEY: "k", AZURE_OPENAI_ENDPOINT: "https://r.openai.azure.com" },
      "azure",
      "gpt-4o-mini",
      StoaProvider.Azure,
    ],
    [
      { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s" },
      "bedrock",
      "us.amazon.nova-pro-v1:0",
      StoaProvider.Bedrock,
    ],
    [{ GROQ_API_KEY: "k" }, "groq", "llama-3.3-70b-versatile", StoaProvider.Groq],
    [{ DEEPSEEK_API_KEY: "k" }, "deepseek", "deepseek-chat", StoaProvider.DeepSeek],
    [{ XAI_API_KEY: "k", XAI_MODEL: "grok-3-mini" }, "xai", "grok-3-mini", StoaProvider.XAI],
    [{ MISTRAL_API_KEY: "k" }, "mistral", "mistral-small-latest", StoaProvider.Mistral],
  ])("%o picks %s (%s)", (env, name, model, meter) => {
    const provider = chatProvider(env);
    expect(provider).toMatchObject({ name, model, meter });
    expect(provider.upstream).toBeUndefined();
  });

  it("OpenAI and Anthropic keys come first; Azure needs its endpoint; no key keeps the fake", () => {
    expect(chatProvider({ OPENAI_API_KEY: "k", GROQ_API_KEY: "k" }).name).toBe("openai");
    expect(chatProvider({ ANTHROPIC_API_KEY: "k", GEMINI_API_KEY: "k" }).name).toBe("anthropic");
    expect(chatProvider({ AZURE_OPENAI_API_KEY: "k" }).name).toBe("fake");
    expect(chatProvider({}).name).toBe("fake");
    expect(GEMINI_OPENAI).toBe("https://generativelanguage.googleapis.com/v1beta/openai");
  });
});

/** A fetch that sends `host`'s requests to the fake's `/<prefix>` instead. */
function toFake(host: string, prefix: string): FetchLike {
  return (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    return fetch(url.replace(host, `${FAKE}/${prefix}`), init);
  };
}

async function answerOf(env: Record<string, string>, upstream: FetchLike, label: string) {
  const run = await meterRun(label);
  const provider = chatProvider(env);
  const metered = run.stoa.fetch({ provider: provider.meter, userId: "user_chat", fetch: upstream });
  const parts: AnswerPart[] = [];
  for await (const part of await provider.answer("Say hello", metered)) parts.push(part);
  return { parts, events: await run.events(), errors: run.errors };
}

describe("the chat app answers through each client family, metered", () => {
  it("Groq through openai: usage from the finish chunk, asked for by nobody", async () => {
    const { parts, events, errors } = await answerOf(
      { GROQ_API_KEY: "k" },
      toFake("https://api.groq.com", "groq"),
      "chat-groq",
    );
    expect(parts).toEqual([
      { type: "text", text: "Hello!" },
      { type: "usage", inputTokens: 45, outputTokens: 662 },
    ]);
    expect(events).toMatchObject([{ provider: "groq", stream: true, status: "completed" }]);
    expect(errors).toEqual([]);
  });

  it("Azure through AzureOpenAI", async () => {
    const { parts, events, errors } = await answerOf(
      {
        AZURE_OPENAI_API_KEY: "k",
        AZURE_OPENAI_ENDPOINT: "https://res.openai.azure.com",
        AZURE_OPENAI_DEPLOYMENT: "gpt-4o",
      },
      toFake("https://res.openai.azure.com", "azure"),
      "chat-azure",
    );
    expect(parts).toEqual([
      { type: "text", text: "Hello!" },
      { type: "usage", inputTokens: 20, outputTokens: 9 },
    ]);
    expect(events).toMatchObject([{ provider: "azure", stream: true, status: "completed" }]);
    expect(errors).toEqual([]);
  });

  it("Bedrock through @ai-sdk/amazon-bedrock: the binary stream read on the side", async () => {
    const { parts, events, errors } = await answerOf(
      { AWS_ACCESS_KEY_ID: "AKIAFAKE", AWS_SECRET_ACCESS_KEY: "s", BEDROCK_BASE_URL: "https://bedrock.invalid" },
      toFake("https://bedrock.invalid", "bedrock"),
      "chat-bedrock",
    );
    expect(parts).toEqual([
      { type: "text", text: "Let" },
      { type: "text", text: " me count." },
      { type: "usage", inputTokens: 22, outputTokens: 55 },
    ]);
    expect(events).toMatchObject([
      {
        provider: "bedrock",
        endpoint: "converse",
        stream: true,
        status: "completed",
        usage: { inputTokens: 22, outputTokens: 55 },
      },
    ]);
    expect(errors).toEqual([]);
  });
});
