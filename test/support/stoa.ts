/**
 * Test helpers for the fake Stoa API (test/fakes/stoa.ts), served by the
 * global setup at `inject("fakeBase")`: a run's base URL, its controls and
 * what it received. Works in every test project.
 */
import { inject } from "vitest";
import type { FakeStoaConfig, ReceivedRequest } from "../fakes/stoa.ts";

export type { FakeStoaConfig, ReceivedRequest } from "../fakes/stoa.ts";
export { FAKE_STOA_API_KEY } from "../fakes/stoa.ts";

/** The SDK's base URL for `runId`: `<fakeBase>/s/<runId>`. */
export function stoaBase(runId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(runId))
    throw new Error(`run id ${JSON.stringify(runId)}: use [A-Za-z0-9_.-]`);
  return `${inject("fakeBase")}/s/${runId}`;
}

/** Changes the fake's behaviour for `runId` (fields left out keep their value). */
export async function configureStoa(runId: string, config: FakeStoaConfig): Promise<void> {
  const response = await fetch(`${stoaBase(runId)}/__config`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(config),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`fake Stoa: __config answered ${response.status}`);
}

/** Every API request the fake received for `runId`, in order. */
export async function stoaReceived(runId: string): Promise<ReceivedRequest[]> {
  return (await get(runId, "__received")) as ReceivedRequest[];
}

/** The events the fake stored for `runId`, in order, without duplicates. */
export async function stoaEvents(runId: string): Promise<Record<string, unknown>[]> {
  return (await get(runId, "__events")) as Record<string, unknown>[];
}

async function get(runId: string, what: string): Promise<unknown> {
  const response = await fetch(`${stoaBase(runId)}/${what}`);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`fake Stoa: ${what} answered ${response.status}`);
  }
  return response.json();
}
