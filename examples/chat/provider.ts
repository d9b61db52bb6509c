/**
 * Which model the chat app talks to, and how: the real OpenAI with
 * `OPENAI_API_KEY`, else the real Anthropic with `ANTHROPIC_API_KEY`, else the
 * first of Gemini, Azure OpenAI, Bedrock, Groq, DeepSeek, xAI and Mistral
 * whose key is set (see `env.ts`), else the built-in fake provider (OpenAI's
 * wire format, no network). Always through a real client (`openai`,
 * `@anthropic-ai/sdk`, `AzureOpenAI`, `@ai-sdk/amazon-bedrock`) with the
 * metering fetch, so what the app shows is what the provider reported.
 */
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock";
import Anthropic from "@anthropic-ai/sdk";
import { streamText } from "ai";
import OpenAI, { AzureOpenAI } from "openai";
import { type FetchLike, StoaProvider } from "../../src/index.ts";
import type { Env } from "./env.ts";
import { createFakeProvider } from "./fake-provider.ts";

/** A piece of an answer: text as it streams, then the usage the provider reported. */
export type AnswerPart =
  | { type: "text"; text: string }
  | {
      type: "usage";
      /** OpenAI `prompt_tokens`, Anthropic `input_tokens`. */
      inputTokens: number;
      /** OpenAI `completion_tokens`, Anthropic `output_tokens`. */
      outputTokens: number;
    };

/** The model the app talks to. */
export interface ChatProvider {
  /** `fake` (built in), or the provider's lowercase name. */
  name: "fake" | "openai" | "anthropic" | "google" | "azure" | "bedrock" | OpenAICompatible;
  /** The model asked for. */
  model: string;
  /** The meter that reads this provider's wire format. */
  meter: StoaProvider;
  /** The fetch under the meter: the fake provider, or undefined for the network. */
  upstream?: FetchLike;
  /**
   * Sends `message` through `fetch` (the metering fetch) and resolves once the
   * provider has accepted it, rejecting with what the SDK throws (a blocked
   * user's charge-required error among them); then yields the answer.
   */
  answer(message: string, fetch: FetchLike): Promise<AsyncGenerator<AnswerPart, void, undefined>>;
}

/**
 * The provider `env` selects: OpenAI, else Anthropic, else the fake (in
 * OpenAI's wire format, or Anthropic's with `FAKE_PROVIDER=anthropic`).
 */
export function chatProvider(env: Partial<Env>): ChatProvider {
  if (env.OPENAI_API_KEY) {
    return openaiChat("openai", env.OPENAI_API_KEY, env.OPENAI_MODEL || "gpt-4o-mini");
  }
  if (env.ANTHROPIC_API_KEY) {
    return anthropicChat("anthropic", env.ANTHROPIC_API_KEY, env.ANTHROPIC_MODEL || "claude-sonnet-5");
  }
  if (env.GEMINI_API_KEY) {
    // Gemini's OpenAI-compatible endpoint through `openai` (`@google/genai` takes no fetch)
    const model = env.GEMINI_MODEL || "gemini-2.5-flash";
    return openaiChat("google", env.GEMINI_API_KEY, model, { meter: StoaProvider.Google, baseURL: GEMINI_OPENAI });
  }
  if (env.AZURE_OPENAI_API_KEY && env.AZURE_OPENAI_ENDPOINT) {
    const deployment = env.AZURE_OPENAI_DEPLOYMENT || "gpt-4o-mini";
    return openaiChat("azure", env.AZURE_OPENAI_API_KEY, deployment, {
      meter: StoaProvider.Azure,
      azureEndpoint: env.AZURE_OPENAI_ENDPOINT,
    });
  }
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return bedrockChat(env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env);
  }
  for (const host of Object.keys(HOSTS) as OpenAICompatible[]) {
    const { keyVar, modelVar, model, meter, baseURL, usageUnasked } = HOSTS[host];
    const key = env[keyVar];
    if (key) return openaiChat(host, key, env[modelVar] || model, { meter, baseURL, usageUnasked });
  }
  if (env.FAKE_PROVIDER === "anthropic") {
    return anthropicChat("fake", undefined, env.ANTHROPIC_MODEL || "claude-sonnet-5");
  }
  return openaiChat("fake", undefined, env.OPENAI_MODEL || "gpt-4o-mini");
}

/** Base URL of the fake: never resolved, the fake fetch answers it. */
const FAKE_BASE_URL = "https://fake-provider.invalid/v1";

/** Gemini's OpenAI-compatible endpoint. */
export const GEMINI_OPENAI = "https://generativelanguage.googleapis.com/v1beta/openai";

/** The OpenAI-compatible hosts the app reaches through `openai`, in the order their keys are looked at. */
type OpenAICompatible = "groq" | "deepseek" | "xai" | "mistral";

/** The string variables of `Env` a host is configured by. */
type HostVar =
  | "GROQ_API_KEY"
  | "GROQ_MODEL"
  | "DEEPSEEK_API_KEY"
  | "DEEPSEEK_MODEL"
  | "XAI_API_KEY"
  | "XAI_MODEL"
  | "MISTRAL_API_KEY"
  | "MISTRAL_MODEL";

/** Each host: its key and model variables, default model, meter and base URL. */
export const HOSTS: Record<
  OpenAICompatible,
  {
    keyVar: HostVar;
    modelVar: HostVar;
    model: string;
    meter: StoaProvider;
    baseURL: string;
    /** Sends usage on its finish chunk unasked (no `stream_options`). */
    usageUnasked?: boolean;
  }
> = {
  groq: {
    keyVar: "GROQ_API_KEY",
    modelVar: "GROQ_MODEL",
    model: "llama-3.3-70b-versatile",
    meter: StoaProvider.Groq,
    baseURL: "https://api.groq.com/openai/v1",
    usageUnasked: true,
  },
  deepseek: {
    keyVar: "DEEPSEEK_API_KEY",
    modelVar: "DEEPSEEK_MODEL",
    model: "deepseek-chat",
    meter: StoaProvider.DeepSeek,
    baseURL: "https://api.deepseek.com",
  },
  xai: {
    keyVar: "XAI_API_KEY",
    modelVar: "XAI_MODEL",
    model: "grok-4",
    meter: StoaProvider.XAI,
    baseURL: "https://api.x.ai/v1",
  },
  mistral: {
    keyVar: "MISTRAL_API_KEY",
    modelVar: "MISTRAL_MODEL",
    model: "mistral-small-latest",
    meter: StoaProvider.Mistral,
    baseURL: "https://api.mistral.ai/v1",
    usageUnasked: true,
  },
};

/** Where an OpenAI-shaped chat goes: a base URL (default OpenAI's) or an Azure resource. */
interface OpenAIRoute {
  meter: StoaProvider;
  baseURL?: string | undefined;
  azureEndpoint?: string | undefined;
  usageUnasked?: boolean | undefined;
}

function openaiChat(
  name: ChatProvider["name"],
  apiKey: string | undefined,
  model: string,
  route: OpenAIRoute = { meter: StoaProvider.OpenAI },
): ChatProvider {
  const fake = name === "fake";
  return {
    name,
    model,
    meter: route.meter,
    ...(fake ? { upstream: createFakeProvider() } : {}),
    async answer(message, fetch) {
      const key = apiKey ?? "sk-fake-provider";
      const client =
        route.azureEndpoint !== undefined
          ? new AzureOpenAI({ apiKey: key, endpoint: route.azureEndpoint, apiVersion: "2024-10-21", fetch })
          : new OpenAI({
              apiKey: key,
              ...(fake ? { baseURL: FAKE_BASE_URL, maxRetries: 0 } : {}),
              ...(route.baseURL === undefined ? {} : { baseURL: route.baseURL }),
              fetch,
            });
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: message }],
        stream: true,
        // asked for by the app, so the final usage chunk reaches it (the meter only strips one it added)
        ...(route.usageUnasked === true ? {} : { stream_options: { include_usage: true } }),
      });
      return (async function* () {
        // some hosts repeat usage (Gemini on every chunk, cumulative): the last one counts
        let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) yield { type: "text", text };
          if (chunk.usage) usage = chunk.usage;
        }
        if (usage !== undefined) {
          yield { type: "usage", inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens };
        }
      })();
    },
  };
}

/** Bedrock's Converse API through `@ai-sdk/amazon-bedrock` (SigV4-signed: the meter never changes the request). */
function bedrockChat(accessKeyId: string, secretAccessKey: string, env: Partial<Env>): ChatProvider {
  const model = env.BEDROCK_MODEL || "us.amazon.nova-pro-v1:0";
  return {
    name: "bedrock",
    model,
    meter: StoaProvider.Bedrock,
    async answer(message, fetch) {
      const bedrock = createAmazonBedrock({
        region: env.AWS_REGION || "us-east-1",
        accessKeyId,
        secretAccessKey,
        ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        ...(env.BEDROCK_BASE_URL ? { baseURL: env.BEDROCK_BASE_URL } : {}),
        fetch,
      });
      const result = streamText({ model: bedrock(model), prompt: message, maxRetries: 0 });
      const parts = result.fullStream[Symbol.asyncIterator]();
      // wait for the provider's answer to start, so a refusal (a blocked user) throws here
      const first = await parts.next();
      if (!first.done && first.value.type === "error") throw first.value.error;
      return (async function* () {
        let part = first;
        while (!part.done) {
          const value = part.value;
          if (value.type === "text-delta" && value.text) yield { type: "text", text: value.text };
          if (value.type === "error") throw value.error;
          if (value.type === "finish") {
            const usage = value.totalUsage;
            yield { type: "usage", inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 };
          }
          part = await parts.next();
        }
      })();
    },
  };
}

function anthropicChat(name: "anthropic" | "fake", apiKey: string | undefined, model: string): ChatProvider {
  const fake = name === "fake";
  return {
    name,
    model,
    meter: StoaProvider.Anthropic,
    ...(fake ? { upstream: createFakeProvider() } : {}),
    async answer(message, fetch) {
      const client = new Anthropic({
        apiKey: apiKey ?? "sk-fake-provider",
        ...(fake ? { baseURL: FAKE_BASE_URL.replace(/\/v1$/, ""), maxRetries: 0 } : {}),
        fetch,
      });
      const stream = await client.messages.create({
        model,
        max_tokens: 1024,
        messages: [{ role: "user", content: message }],
        stream: true,
      });
      return (async function* () {
        let inputTokens: number | undefined;
        let outputTokens: number | undefined;
        for await (const event of stream) {
          if (event.type === "message_start") {
            inputTokens = event.message.usage.input_tokens;
          } else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
            if (event.delta.text) yield { type: "text", text: event.delta.text };
          } else if (event.type === "message_delta") {
            // cumulative counts; input_tokens here when the API repeats it
            inputTokens = event.usage.input_tokens ?? inputTokens;
            outputTokens = event.usage.output_tokens;
          } else if (event.type === "message_stop" && inputTokens !== undefined && outputTokens !== undefined) {
            yield { type: "usage", inputTokens, outputTokens };
          }
        }
      })();
    },
  };
}
