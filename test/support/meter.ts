/**
 * One metered test run: a fresh run id, a `Stoa` that delivers to the fake
 * Stoa API of that run, the errors it reported, and the events stored there.
 */
import { Stoa, type StoaOptions, type UsageEvent } from "../../src/index.ts";
import { type FakeOptions, newRunId, type ProviderBases, providerBase } from "./provider.ts";
import { configureStoa, stoaBase, stoaEvents } from "./stoa.ts";

/** The API key the fake Stoa accepts by default. */
export const STOA_KEY = "sk_test_stoa";

/** A provider API key that must never reach Stoa. */
export const PROVIDER_KEY = "sk-provider-secret-123";

/** A metered test run. */
export interface MeterRun {
  runId: string;
  stoa: Stoa;
  errors: Error[];
  /** Fake provider base URLs with the given options. */
  bases(opts?: FakeOptions): ProviderBases;
  /** Flushes, then returns the events the fake Stoa stored for this run. */
  events(): Promise<UsageEvent[]>;
}

/**
 * Starts a run. The fake Stoa treats every user of the run as a paying member
 * (so metering tests are not gated) unless `gated` is set.
 */
export async function meterRun(label: string, options: Partial<StoaOptions> = {}, gated = false): Promise<MeterRun> {
  const runId = newRunId(label);
  if (!gated) await configureStoa(runId, { everyoneChargeable: true });
  const errors: Error[] = [];
  const stoa = new Stoa({ apiKey: STOA_KEY, baseUrl: stoaBase(runId), onError: (e) => errors.push(e), ...options });
  return {
    runId,
    stoa,
    errors,
    bases: (opts) => providerBase(runId, opts),
    async events() {
      await stoa.flush();
      return (await stoaEvents(runId)) as unknown as UsageEvent[];
    },
  };
}

/** The usage of the fake's default OpenAI chat completion, normalised. */
export const OPENAI_CHAT_USAGE = {
  inputTokens: 176,
  cacheReadTokens: 1024,
  cacheWriteTokens: 0,
  audioInputTokens: 0,
  outputTokens: 300,
  audioOutputTokens: 0,
  reasoningTokens: 128,
  webSearchRequests: 0,
};

/** The usage of the fake's default Responses answer, normalised. */
export const OPENAI_RESPONSES_USAGE = {
  inputTokens: 512,
  cacheReadTokens: 1536,
  cacheWriteTokens: 0,
  audioInputTokens: 0,
  outputTokens: 400,
  audioOutputTokens: 0,
  reasoningTokens: 256,
  webSearchRequests: 0,
};

/** The usage of the fake's default Anthropic message, normalised. */
export const ANTHROPIC_USAGE = {
  inputTokens: 25,
  cacheReadTokens: 3400,
  cacheWriteTokens: 1200,
  audioInputTokens: 0,
  outputTokens: 12,
  audioOutputTokens: 0,
  reasoningTokens: 0,
  webSearchRequests: 1,
};

/** The usage of the fake's default OpenRouter completion, normalised. */
export const OPENROUTER_USAGE = {
  inputTokens: 14,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  audioInputTokens: 0,
  outputTokens: 3,
  audioOutputTokens: 0,
  reasoningTokens: 0,
  webSearchRequests: 0,
};
