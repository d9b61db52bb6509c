/**
 * Test helpers for the fake provider (test/support/fake-provider.ts), served by the
 * global setup at `inject("fakeBase")`: base URLs for each SDK, the recorded
 * requests of a run, and unique run ids. Works in every test project.
 */
import { inject } from "vitest";
import type { RecordedRequest } from "./fake-provider.ts";

export type { RecordedRequest, RequestOutcome } from "./fake-provider.ts";

/**
 * Fake-provider options: the raw segment (`"chunk=1,crlf"`, `"default"`) or
 * an object; `true` is a bare flag, `false`/`undefined` are left out, objects
 * (for `usage`) are JSON. Values are URL-encoded.
 */
export type FakeOptions = string | Record<string, string | number | boolean | object | undefined>;

/** Base URLs of one run of the fake provider, one per SDK's idea of `baseURL`. */
export interface ProviderBases {
  /** `<fakeBase>/p/<runId>/<opts>`: the Anthropic SDK (`@anthropic-ai/sdk` appends `/v1/messages`). */
  anthropic: string;
  /** `<fakeBase>/p/<runId>/<opts>/v1`: the openai SDK and `@ai-sdk/openai` (append `/chat/completions` …). */
  openai: string;
  /** `<fakeBase>/p/<runId>/<opts>/v1`: `@ai-sdk/anthropic` (appends `/messages`). */
  anthropicV1: string;
  /** `<fakeBase>/p/<runId>/<opts>/api/v1`: OpenRouter through the openai SDK or its AI SDK provider. */
  openrouter: string;
}

/** The options segment of a fake-provider URL. */
export function fakeOpts(opts?: FakeOptions): string {
  if (opts === undefined) return "default";
  if (typeof opts === "string") return opts === "" ? "default" : opts;
  const items: string[] = [];
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined || value === false) continue;
    if (value === true) items.push(key);
    else {
      const text = typeof value === "object" ? JSON.stringify(value) : String(value);
      items.push(`${key}=${encodeURIComponent(text)}`);
    }
  }
  return items.length === 0 ? "default" : items.join(",");
}

/** Base URLs for `runId` with `opts` (default: none). */
export function providerBase(runId: string, opts?: FakeOptions): ProviderBases {
  checkRunId(runId);
  const root = `${inject("fakeBase")}/p/${runId}/${fakeOpts(opts)}`;
  return { anthropic: root, openai: `${root}/v1`, anthropicV1: `${root}/v1`, openrouter: `${root}/api/v1` };
}

/** The requests the fake received for `runId`, in order (in-flight ones get up to 200 ms to settle). */
export async function providerRequests(runId: string): Promise<RecordedRequest[]> {
  checkRunId(runId);
  const response = await fetch(`${inject("fakeBase")}/p/${runId}/__requests`);
  if (!response.ok) throw new Error(`fake provider: __requests answered ${response.status}`);
  return (await response.json()) as RecordedRequest[];
}

/** The English paragraph of `text=english` and its true o200k token count. */
export async function englishFixture(): Promise<{ text: string; tokens: number }> {
  const response = await fetch(`${inject("fakeBase")}/p/__fixtures/english`);
  return (await response.json()) as { text: string; tokens: number };
}

let counter = 0;

/** A run id unique to this test process (safe in ids and URLs): `<label>-<random>-<k>`. */
export function newRunId(label = "run"): string {
  counter++;
  const random = crypto.randomUUID().slice(0, 8);
  return `${label.replace(/[^A-Za-z0-9]/g, "")}-${random}-${counter}`;
}

function checkRunId(runId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(runId)) {
    throw new Error(
      `run id ${JSON.stringify(runId)}: use letters, digits, "_", "-" and "." (it goes into ids and URLs)`,
    );
  }
}
