/**
 * Which model the chat app talks to, and how: the real OpenAI with
 * `OPENAI_API_KEY`, else the real Anthropic with `ANTHROPIC_API_KEY`, else the
 * built-in fake provider (OpenAI's wire format, no network). Always through
 * the real SDK client (`openai`, `@anthropic-ai/sdk`) with the metering fetch,
 * so what the app shows is what the provider reported.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
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
  /** `fake` (built in), `openai` or `anthropic`. */
  name: "fake" | "openai" | "anthropic";
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
  if (env.FAKE_PROVIDER === "anthropic") {
    return anthropicChat("fake", undefined, env.ANTHROPIC_MODEL || "claude-sonnet-5");
  }
  return openaiChat("fake", undefined, env.OPENAI_MODEL || "gpt-4o-mini");
}

/** Base URL of the fake: never resolved, the fake fetch answers it. */
const FAKE_BASE_URL = "https://fake-provider.invalid/v1";

function openaiChat(name: "openai" | "fake", apiKey: string | undefined, model: string): ChatProvider {
  const fake = name === "fake";
  return {
    name,
    model,
    meter: StoaProvider.OpenAI,
    ...(fake ? { upstream: createFakeProvider() } : {}),
    async answer(message, fetch) {
      const client = new OpenAI({
        apiKey: apiKey ?? "sk-fake-provider",
        ...(fake ? { baseURL: FAKE_BASE_URL, maxRetries: 0 } : {}),
        fetch,
      });
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: "user", content: message }],
        stream: true,
        // asked for by the app, so the final usage chunk reaches it (the meter only strips one it added)
        stream_options: { include_usage: true },
      });
      return (async function* () {
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) yield { type: "text", text };
          if (chunk.usage) {
            yield {
              type: "usage",
              inputTokens: chunk.usage.prompt_tokens,
              outputTokens: chunk.usage.completion_tokens,
            };
          }
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
