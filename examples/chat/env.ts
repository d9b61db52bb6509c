/**
 * The bindings the chat app reads (`wrangler.toml` `[vars]`, secrets, the
 * `RESUME` KV namespace and the `STOA_EVENTS` queue).
 */
import type { KVNamespaceLike } from "../../src/hono/index.ts";
import type { QueueProducer } from "../../src/index.ts";

/** Where `/usage` points when `STOA_DASHBOARD_URL` is not set: the local Stoa server. */
export const DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8788";

/** The chat app's environment. */
export interface Env {
  /** Stoa API key. */
  STOA_API_KEY: string;
  /** Stoa API base URL, e.g. `http://127.0.0.1:8788/api` for the local Stoa server. */
  STOA_BASE_URL: string;
  /** Signs the payment-return `state` (at least 32 bytes). */
  STOA_STATE_SECRET: string;
  /** Signs member registrations on sign-in; must match the Stoa side. */
  STOA_REGISTRATION_SECRET: string;
  /** Where Stoa's usage pages are; `/usage` sends the user to `<this>/users/<userId>`. Default `http://127.0.0.1:8788`. */
  STOA_DASHBOARD_URL?: string;
  /** With it, the app talks to the real OpenAI instead of the built-in fake provider. */
  OPENAI_API_KEY?: string;
  /** The OpenAI model (default `gpt-4o-mini`); the fake provider answers as this model too. */
  OPENAI_MODEL?: string;
  /** Without an OpenAI key but with this one, the app talks to the real Anthropic API. */
  ANTHROPIC_API_KEY?: string;
  /** The Anthropic model (default `claude-sonnet-5`). */
  ANTHROPIC_MODEL?: string;
  /** Gemini API key: the app talks to Gemini's OpenAI-compatible endpoint (metered as `StoaProvider.Google`). */
  GEMINI_API_KEY?: string;
  /** The Gemini model (default `gemini-2.5-flash`). */
  GEMINI_MODEL?: string;
  /** Azure OpenAI key; with `AZURE_OPENAI_ENDPOINT` (`https://<resource>.openai.azure.com`). */
  AZURE_OPENAI_API_KEY?: string;
  /** The Azure OpenAI resource endpoint. */
  AZURE_OPENAI_ENDPOINT?: string;
  /** The Azure deployment (default `gpt-4o-mini`). */
  AZURE_OPENAI_DEPLOYMENT?: string;
  /** AWS credentials for Bedrock (with `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`). */
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  /** The Bedrock region (default `us-east-1`). */
  AWS_REGION?: string;
  /** The Bedrock model or inference profile (default `us.amazon.nova-pro-v1:0`). */
  BEDROCK_MODEL?: string;
  /** Another Bedrock runtime base URL (default `https://bedrock-runtime.<region>.amazonaws.com`). */
  BEDROCK_BASE_URL?: string;
  /** Groq key and model (default `llama-3.3-70b-versatile`). */
  GROQ_API_KEY?: string;
  GROQ_MODEL?: string;
  /** DeepSeek key and model (default `deepseek-chat`). */
  DEEPSEEK_API_KEY?: string;
  DEEPSEEK_MODEL?: string;
  /** xAI key and model (default `grok-4`). */
  XAI_API_KEY?: string;
  XAI_MODEL?: string;
  /** Mistral key and model (default `mistral-small-latest`). */
  MISTRAL_API_KEY?: string;
  MISTRAL_MODEL?: string;
  /** `anthropic`: the built-in fake speaks Anthropic's messages format (default: OpenAI's chat completions). */
  FAKE_PROVIDER?: string;
  /** A Workers KV namespace where blocked requests wait while the user pays (only get, put and delete are used). */
  RESUME: KVNamespaceLike;
  /** The usage-events queue (a Queues producer binding): with it, events go through the queue and `queue()` delivers them. */
  STOA_EVENTS?: QueueProducer;
}
