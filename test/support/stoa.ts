/**
 * Test helpers for the fake Stoa API (test/support/fake-stoa.ts), served by the
 * global setup at `inject("fakeBase")`: a run's base URL, its controls and
 * what it received. Works in every test project.
 */
import { inject } from "vitest";
import { STOA_API_VERSION } from "../../src/api/client.ts";
import { VERSION } from "../../src/version.ts";
import { FAKE_STOA_API_KEY, type FakeMember, type FakeStoaConfig, type ReceivedRequest } from "./fake-stoa.ts";

export type { FakeMember, FakeMemberSeed, FakeStoaConfig, ReceivedRequest } from "./fake-stoa.ts";
export { DEFAULT_TOP_UP_USD, FAKE_REGISTRATION_SECRET, FAKE_STOA_API_KEY } from "./fake-stoa.ts";

/** The SDK's base URL for `runId`: `<fakeBase>/s/<runId>`. */
export function stoaBase(runId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(runId))
    throw new Error(`run id ${JSON.stringify(runId)}: use [A-Za-z0-9_.-]`);
  return `${inject("fakeBase")}/s/${runId}`;
}

/** The headers the SDK sends on every call (contract version and SDK version from src/). */
export const STOA_HEADERS: Readonly<Record<string, string>> = {
  authorization: `Bearer ${FAKE_STOA_API_KEY}`,
  "stoa-version": STOA_API_VERSION,
  "x-stoa-sdk": `stoa-ts/${VERSION} (node)`,
  "content-type": "application/json",
};

/** An answer of the Stoa API: status, headers and the parsed JSON body. */
export interface StoaAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

let keys = 0;

/**
 * Calls the Stoa API of `runId` directly, with {@link STOA_HEADERS} and, for
 * a POST, a fresh idempotency key; `headers` override them (an `undefined`
 * value drops one). A string body is sent as it is, anything else as JSON.
 */
export async function stoaCall(
  runId: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  headers: Record<string, string | undefined> = {},
): Promise<StoaAnswer> {
  const all: Record<string, string> = {};
  const key = method === "POST" ? { "idempotency-key": `key-${crypto.randomUUID()}-${++keys}` } : {};
  for (const [name, value] of Object.entries({ ...STOA_HEADERS, ...key, ...headers })) {
    if (value !== undefined) all[name] = value;
  }
  const response = await fetch(`${stoaBase(runId)}${path}`, {
    method,
    headers: all,
    ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
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

/** The fake's members for `runId`, by user id. */
export async function stoaMembers(runId: string): Promise<Record<string, FakeMember>> {
  return (await get(runId, "__members")) as Record<string, FakeMember>;
}

/** How many chargeability checks the fake received for `runId` (for `userId`, when given). */
export async function chargeabilityChecks(runId: string, userId?: string): Promise<number> {
  const suffix = userId === undefined ? undefined : `/v1/members/${encodeURIComponent(userId)}/chargeability`;
  return (await stoaReceived(runId)).filter(
    (r) =>
      r.method === "GET" &&
      /^\/v1\/members\/[^/]+\/chargeability$/.test(r.path) &&
      (suffix === undefined || r.path === suffix),
  ).length;
}

/**
 * Completes the open payment session `id` as checkout will: the member has
 * paid and gets `amountUsd` (default 10) of balance. Returns the session.
 */
export async function completePaymentSession(
  runId: string,
  id: string,
  amountUsd?: number,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${stoaBase(runId)}/__complete/${encodeURIComponent(id)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: amountUsd === undefined ? "" : JSON.stringify({ amountUsd }),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`fake Stoa: __complete answered ${response.status}`);
  }
  return (await response.json()) as Record<string, unknown>;
}

async function get(runId: string, what: string): Promise<unknown> {
  const response = await fetch(`${stoaBase(runId)}/${what}`);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`fake Stoa: ${what} answered ${response.status}`);
  }
  return response.json();
}
