/**
 * The provider registry: `StoaProvider` names and their modules.
 */
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
const registry: Record<StoaProvider, () => Promise<Provider>> = {
  openai: () => import("./openai.ts").then((m) => m.openai),
  anthropic: () => import("./anthropic.ts").then((m) => m.anthropic),
  openrouter: () => import("./openrouter.ts").then((m) => m.openrouter),
  google: () => import("./google.ts").then((m) => m.google),
  bedrock: () => import("./bedrock.ts").then((m) => m.bedrock),
  azure: () => import("./azure.ts").then((m) => m.azure),
  groq: () => import("./groq.ts").then((m) => m.groq),
  deepseek: () => import("./deepseek.ts").then((m) => m.deepseek),
  xai: () => import("./xai.ts").then((m) => m.xai),
  mistral: () => import("./mistral.ts").then((m) => m.mistral),
};

/** Provider modules already loaded, by id: read synchronously on the hot path. */
const loaded = new Map<string, Provider>();
/** Loads under way, by id: one `import()` per provider. */
const loading = new Map<string, Promise<Provider>>();

/** True when `id` is a `StoaProvider` value. */
export function isStoaProvider(id: unknown): id is StoaProvider {
  return typeof id === "string" && Object.hasOwn(registry, id);
}

/** The module of a provider when it is already loaded, else undefined. */
export function loadedProvider(id: StoaProvider): Provider | undefined {
  return loaded.get(id);
}

/** Loads the module of a provider (once; a failed load is tried again next time). */
export function loadProvider(id: StoaProvider): Promise<Provider> {
  let pending = loading.get(id);
  if (pending === undefined) {
    pending = registry[id]().then(
      (provider) => {
        loaded.set(id, provider);
        return provider;
      },
      (error: unknown) => {
        loading.delete(id);
        throw error;
      },
    );
    loading.set(id, pending);
  }
  return pending;
}
