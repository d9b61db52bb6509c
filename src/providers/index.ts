/**
 * The provider registry: `StoaProvider` names and their modules.
 */
import { anthropic } from "./anthropic.ts";
import { azure } from "./azure.ts";
import { bedrock } from "./bedrock.ts";
import { deepseek } from "./deepseek.ts";
import { google } from "./google.ts";
import { groq } from "./groq.ts";
import { mistral } from "./mistral.ts";
import { openai } from "./openai.ts";
import { openrouter } from "./openrouter.ts";
import type { Provider } from "./types.ts";
import { xai } from "./xai.ts";

/** The providers `stoa.fetch()` meters. */
export const StoaProvider = {
  OpenAI: "openai",
  Anthropic: "anthropic",
  OpenRouter: "openrouter",
  Google: "google",
  Bedrock: "bedrock",
  Azure: "azure",
  Groq: "groq",
  DeepSeek: "deepseek",
  XAI: "xai",
  Mistral: "mistral",
} as const;

/** One of the `StoaProvider` values. */
export type StoaProvider = (typeof StoaProvider)[keyof typeof StoaProvider];

const registry: Record<StoaProvider, Provider> = {
  openai,
  anthropic,
  openrouter,
  google,
  bedrock,
  azure,
  groq,
  deepseek,
  xai,
  mistral,
};

/** The module of a provider id, or undefined. */
export function providerFor(id: string): Provider | undefined {
  return Object.hasOwn(registry, id) ? registry[id as StoaProvider] : undefined;
}
