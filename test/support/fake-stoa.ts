/**
 * The Stoa API the tests talk to: the local Stoa server
 * (examples/stoa-server) behind a thin layer of test controls. So the SDK's
 * own suite holds the local server to `shared/stoa-api.md` from one side
 * while the server's contract tests hold it from the other.
 *
 * Each run id is a project of the server: the SDK's base URL is
 * `<fakeBase>/s/<runId>`, forwarded to the server's `/t/<runId>/api`. The
 * layer records each API request, answers simulated failures and delays
 * before the server sees a request, and sets `x-request-id: req_<runId>_<n>`.
 *
 * Test controls (no auth, not recorded):
 * - `POST /s/<runId>/__config` (a {@link FakeStoaConfig}): failure lists are
 *   statuses answered to the next requests of their route, one per request;
 *   `retryAfter` (seconds) goes with each 429 and 503 of them; `delayMs`
 *   delays every API answer; `members` seeds member state; the rest are the
 *   project's settings on the server.
 * - `GET /s/<runId>/__received`: every API request, in order.
 * - `GET /s/<runId>/__events`: the stored events, in order, without duplicates.
 * - `GET /s/<runId>/__members`: the members by user id.
 * - `POST /s/<runId>/__complete/<sessionId>` `{ amountUsd? }`: pays the open
 *   session through the server's checkout (default $10). Answers the session.
 */

import { apiError, json, typeOf } from "../../examples/stoa-server/http.ts";

/** The API key of a run's project unless `__config` says otherwise. */
export const FAKE_STOA_API_KEY = "sk_test_stoa";

/** The registration secret of a run's project unless `__config` says otherwise. */
export const FAKE_REGISTRATION_SECRET = "test-registration-secret-0123456789abcdef";

/** Balance a completed checkout adds when `__complete` names no amount (the server's default). */
export const DEFAULT_TOP_UP_USD = 10;

/** Member state a test seeds through `__config`; fields left out keep their value (a new member: 0, false, false). */
export interface FakeMemberSeed {
  balanceUsd?: number;
  /** Whether the member ever paid. */
  paid?: boolean;
  suspended?: boolean;
}

/** The body of `POST /s/<runId>/__config`. Fields left out keep their value. */
export interface FakeStoaConfig {
  apiKey?: string;
  /** Statuses for the next `POST /v1/usage/events`. */
  failures?: number[];
  /** Every `POST /v1/usage/events` answers 503 for this many ms from now (an outage by time, not count). */
  outageMs?: number;
  /** Statuses for the next `GET /v1/members/{userId}/chargeability`. */
  chargeabilityFailures?: number[];
  /** Statuses for the next `POST /v1/payment-sessions`. */
  paymentSessionFailures?: number[];
  /** Statuses for the next `POST /v1/members`. */
  memberFailures?: number[];
  /** Statuses for the next `POST /v1/members/{userId}/holds` (404: a 2026-11-01 server). */
  holdFailures?: number[];
  /** Statuses for the next `POST /v1/holds/{id}/release`. */
  releaseFailures?: number[];
  /** Statuses for the next `GET /v1/prices`. */
  priceFailures?: number[];
  /** Statuses for the next `GET /v1/members/{userId}/balance`. */
  balanceFailures?: number[];
  retryAfter?: number;
  delayMs?: number;
  /** Extra delay of every chargeability answer. */
  chargeabilityDelayMs?: number;
  /** `ttlSeconds` of a chargeable answer (default 60). */
  chargeabilityTtl?: number;
  /** The secret registration tokens are verified with (default {@link FAKE_REGISTRATION_SECRET}). */
  registrationSecret?: string;
  /** A user with no member record counts as chargeable (for tests that meter, not gate). */
  everyoneChargeable?: boolean;
  /** Moves the run's clock on the server by this many ms (sessions and holds expire by it). */
  clockOffsetMs?: number;
  /** Creates or updates these members (an `undefined` entry changes nothing). */
  members?: Record<string, FakeMemberSeed | undefined>;
}

/** A member as `GET /s/<runId>/__members` shows it (absent profile fields left out). */
export interface FakeMember {
  membershipId: string;
  userId: string;
  email?: string;
  name?: string;
  picture?: string;
  balanceUsd: number;
  paid: boolean;
  suspended: boolean;
}

/** One API request the fake received. */
export interface ReceivedRequest {
  method: string;
  /** The path below the run's base, with its query, e.g. `/v1/usage/events`. */
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The parsed JSON body; the raw text when it is not JSON; `null` when empty. */
  body: unknown;
}

/** The local Stoa server, as a Web handler (in-process, or forwarded over HTTP). */
export type StoaServer = (request: Request) => Promise<Response>;

type FailureList =
  | "failures"
  | "chargeabilityFailures"
  | "paymentSessionFailures"
  | "memberFailures"
  | "holdFailures"
  | "releaseFailures"
  | "priceFailures"
  | "balanceFailures";

interface Controls extends Record<FailureList, number[]> {
  /** `Date.now()` until which usage-event POSTs answer 503. */
  outageUntil: number;
  retryAfter: number | undefined;
  delayMs: number;
  chargeabilityDelayMs: number;
}

interface Run {
  id: string;
  controls: Controls;
  received: ReceivedRequest[];
  requests: number;
  /** Resolves once the run's project exists on the server. */
  ready: Promise<void> | undefined;
}

/** Which failure list a request answers from. */
const FAILURES: [method: string, path: RegExp, list: FailureList][] = [
  ["POST", /^\/v1\/usage\/events$/, "failures"],
  ["GET", /^\/v1\/members\/[^/]+\/chargeability$/, "chargeabilityFailures"],
  ["POST", /^\/v1\/payment-sessions$/, "paymentSessionFailures"],
  ["POST", /^\/v1\/members$/, "memberFailures"],
  ["POST", /^\/v1\/members\/[^/]+\/holds$/, "holdFailures"],
  ["POST", /^\/v1\/holds\/[^/]+\/release$/, "releaseFailures"],
  ["GET", /^\/v1\/prices$/, "priceFailures"],
  ["GET", /^\/v1\/members\/[^/]+\/balance$/, "balanceFailures"],
];

const PROJECT_SETTINGS = [
  "apiKey",
  "registrationSecret",
  "chargeabilityTtl",
  "everyoneChargeable",
  "clockOffsetMs",
] as const;

/** Creates the layer: a Web handler for every path under `/s/`, in front of `server`. */
export function createFakeStoa(server: StoaServer): (req: Request) => Promise<Response> {
  const runs = new Map<string, Run>();

  return async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/s\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const runId = match?.[1];
    if (runId === undefined) return error(404, "not_found", "fake Stoa: expected /s/<runId>/…");
    let run = runs.get(runId);
    if (run === undefined) {
      run = newRun(runId);
      runs.set(runId, run);
    }
    run.ready ??= admin(server, url.origin, "PUT", `/admin/projects/${runId}`, {
      apiKey: FAKE_STOA_API_KEY,
      registrationSecret: FAKE_REGISTRATION_SECRET,
      chargeabilityTtl: 60,
      chargeAll: false,
    }).then(() => undefined);
    await run.ready;
    const path = match?.[2] ?? "/";
    const project = `/admin/projects/${encodeURIComponent(runId)}`;

    if (path === "/__config" && request.method === "POST") return configure(server, url.origin, run, request);
    if (path === "/__received" && request.method === "GET") return json(200, run.received);
    if (path === "/__events" && request.method === "GET") {
      return json(200, await admin(server, url.origin, "GET", `${project}/events`));
    }
    if (path === "/__members" && request.method === "GET") {
      const records = (await admin(server, url.origin, "GET", `${project}/members`)) as Record<string, FakeMember>;
      return json(200, Object.fromEntries(Object.entries(records).map(([id, m]) => [id, withoutNulls(m)])));
    }
    const complete = /^\/__complete\/([^/]+)$/.exec(path);
    if (complete !== null && request.method === "POST") {
      const text = await request.text();
      return server(
        new Request(`${url.origin}/checkout/${complete[1]}`, {
          method: "POST",
          headers: { accept: "application/json", "content-type": "application/json" },
          body: text,
        }),
      );
    }

    const raw = new Uint8Array(await request.arrayBuffer());
    run.received.push({
      method: request.method,
      path: path + url.search,
      headers: Object.fromEntries(request.headers),
      body: parseBody(raw),
    });
    const n = ++run.requests;
    const simulated = await simulate(run.controls, request.method, path);
    const answer =
      simulated ??
      (await server(
        new Request(`${url.origin}/t/${runId}/api${path}${url.search}`, {
          method: request.method,
          headers: request.headers,
          body: request.method === "GET" || request.method === "HEAD" ? undefined : raw,
        }),
      ));
    const headers = new Headers(answer.headers);
    headers.set("x-request-id", `req_${runId}_${n}`);
    return new Response(answer.body, { status: answer.status, headers });
  };
}

function newRun(id: string): Run {
  return {
    id,
    controls: {
      failures: [],
      chargeabilityFailures: [],
      paymentSessionFailures: [],
      memberFailures: [],
      holdFailures: [],
      releaseFailures: [],
      priceFailures: [],
      balanceFailures: [],
      outageUntil: 0,
      retryAfter: undefined,
      delayMs: 0,
      chargeabilityDelayMs: 0,
    },
    received: [],
    requests: 0,
    ready: undefined,
  };
}

/** The delays, then a simulated failure for the request's route, if one is due. */
async function simulate(controls: Controls, method: string, path: string): Promise<Response | undefined> {
  if (controls.delayMs > 0) await sleep(controls.delayMs);
  const list = FAILURES.find(([m, pattern]) => m === method && pattern.test(path))?.[2];
  if (list === "chargeabilityFailures" && controls.chargeabilityDelayMs > 0) await sleep(controls.chargeabilityDelayMs);
  const status =
    list === "failures" && Date.now() < controls.outageUntil
      ? 503
      : list === undefined
        ? undefined
        : controls[list].shift();
  if (status === undefined) return undefined;
  const headers: Record<string, string> = {};
  if (controls.retryAfter !== undefined && (status === 429 || status === 503)) {
    headers["retry-after"] = String(controls.retryAfter);
  }
  return error(status, "simulated_failure", `fake Stoa: simulated ${status}`, headers);
}

async function configure(server: StoaServer, origin: string, run: Run, request: Request): Promise<Response> {
  let config: FakeStoaConfig;
  try {
    config = (await request.json()) as FakeStoaConfig;
  } catch {
    return error(400, "invalid_request", "fake Stoa: __config takes a JSON object");
  }
  const { members, ...rest } = config;
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (name === "outageMs") {
      run.controls.outageUntil = Date.now() + Number(value);
      continue;
    }
    if ((PROJECT_SETTINGS as readonly string[]).includes(name)) {
      settings[name === "everyoneChargeable" ? "chargeAll" : name] = value;
    } else if (name in run.controls) {
      (run.controls as unknown as Record<string, unknown>)[name] = Array.isArray(value) ? [...value] : value;
    } else {
      return error(400, "invalid_request", `fake Stoa: unknown __config field ${name}`);
    }
  }
  const project = `/admin/projects/${encodeURIComponent(run.id)}`;
  if (Object.keys(settings).length > 0) await admin(server, origin, "PUT", project, settings);
  for (const [userId, seed] of Object.entries(members ?? {})) {
    if (seed != null) await admin(server, origin, "PUT", `${project}/members/${encodeURIComponent(userId)}`, seed);
  }
  return json(200, run.controls);
}

/** A call to the server's operator API; throws unless it answers 2xx. */
async function admin(server: StoaServer, origin: string, method: string, path: string, body?: unknown) {
  const response = await server(
    new Request(`${origin}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }),
  );
  const text = await response.text();
  if (!response.ok) throw new Error(`local Stoa server: ${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

function withoutNulls<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseBody(raw: Uint8Array): unknown {
  if (raw.byteLength === 0) return null;
  const text = new TextDecoder().decode(raw);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function error(status: number, code: string, message: string, headers?: Record<string, string>): Response {
  return apiError(status, typeOf(status), code, message, headers);
}
