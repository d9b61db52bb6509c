/**
 * Helpers for tests of the Stoa API client and the functions over it: a
 * client on a run of the fake Stoa with a fake clock, and ways to look at
 * what a call threw.
 */
import { createApiClient } from "../../src/api/client.ts";
import type { ApiClient } from "../../src/api/types.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { type FakeClock, fakeClock } from "./clock.ts";
import { FAKE_STOA_API_KEY, stoaBase } from "./stoa.ts";

/** Nothing listens on port 1 of the loopback. */
export const CLOSED = "http://127.0.0.1:1/api";

/** An API client for `runId` (or `baseUrl`) whose retries wait on a fake clock. */
export function apiSetup(
  runId: string,
  options: { apiKey?: string; fetch?: FetchLike | undefined; budgetMs?: number; baseUrl?: string } = {},
): { api: ApiClient; clock: FakeClock } {
  const clock = fakeClock(0.5);
  const api = createApiClient({
    apiKey: options.apiKey ?? FAKE_STOA_API_KEY,
    baseUrl: options.baseUrl ?? stoaBase(runId),
    fetch: options.fetch,
    retry: { ...clock, budgetMs: options.budgetMs ?? 25_000 },
  });
  return { api, clock };
}

/** The error `promise` rejects with; throws when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** The error and its cause chain, as every string they could be logged as. */
export function renderings(error: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = error, depth = 0; e != null && depth < 10; depth++) {
    const { message, stack, cause } = e as { message?: unknown; stack?: unknown; cause?: unknown };
    out.push(String(e), String(message), String(stack), JSON.stringify(e) ?? "");
    e = cause;
  }
  return out;
}
