/**
 * The provider registry: `StoaProvider` names and their modules.
 */
import { anthropic } from "./anthropic.ts";
import { openai } from "./openai.ts";
import { openrouter } from "./openrouter.ts";
import type { Provider } from "./types.ts";

/** The providers `stoa.fetch()` meters. */
export const StoaProvider = {
  OpenAI: "openai",
  Anthropic: "anthropic",
  OpenRouter: "openrouter",
} as const;

/** One of the `StoaProvider` values. */
export type StoaProvider = (typeof StoaProvider)[keyof typeof StoaProvider];

const registry: Record<StoaProvider, Provider> = { openai, anthropic, openrouter };

/** The module of a provider id, or undefined. */
export function providerFor(id: string): Provider | undefined {
  return Object.hasOwn(registry, id) ? registry[id as StoaProvider] : undefined;
}
