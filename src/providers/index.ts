/**
 * The provider registry: `StoaProvider` names and their modules.
 */
import { type Lazy, lazy } from "../util/lazy.ts";
import type { Provider } from "./types.ts";

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

/**
 * Each provider's module, loaded on its first metered call so that loading
 * the package does not load ten providers (`import()`: bundlers split them).
 */
const registry: Record<StoaProvider, Lazy<Provider>> = {
  openai: lazy(() => import("./openai.ts").then((m) => m.openai)),
  anthropic: lazy(() => import("./anthropic.ts").then((m) => m.anthropic)),
  openrouter: lazy(() => import("./openrouter.ts").then((m) => m.openrouter)),
  google: lazy(() => import("./google.ts").then((m) => m.google)),
  bedrock: lazy(() => import("./bedrock.ts").then((m) => m.bedrock)),
  azure: lazy(() => import("./azure.ts").then((m) => m.azure)),
  groq: lazy(() => import("./groq.ts").then((m) => m.groq)),
  deepseek: lazy(() => import("./deepseek.ts").then((m) => m.deepseek)),
  xai: lazy(() => import("./xai.ts").then((m) => m.xai)),
  mistral: lazy(() => import("./mistral.ts").then((m) => m.mistral)),
};

/** True when `id` is a `StoaProvider` value. */
export function isStoaProvider(id: unknown): id is StoaProvider {
  return typeof id === "string" && Object.hasOwn(registry, id);
}

/** The module of a provider when it is already loaded, else undefined. */
export function loadedProvider(id: StoaProvider): Provider | undefined {
  return registry[id].value;
}

/** Loads the module of a provider (once; a failed load is tried again next time). */
export function loadProvider(id: StoaProvider): Promise<Provider> {
  return registry[id].load();
}
