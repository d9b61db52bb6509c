/**
 * A fake Stoa API that holds the SDK to `shared/stoa-api.md`, with Web APIs
 * only. Mounted under `/s/<runId>/…`: the SDK's base URL is
 * `<fakeBase>/s/<runId>`, and each run id has its own state in memory.
 *
 * API: `POST /v1/usage/events` (auth, required headers, idempotency-key
 * replay, batch and per-event validation, event-id dedup).
 *
 * Test controls (no auth, not recorded):
 * - `POST /s/<runId>/__config` `{ apiKey?, failures?, retryAfter?, delayMs? }`:
 *   `failures` are statuses answered to the next event POSTs, one per POST,
 *   before any processing; `retryAfter` (seconds) goes with each 429 and 503
 *   of them; `delayMs` delays every API answer.
 * - `GET /s/<runId>/__received`: every API request, in order.
 * - `GET /s/<runId>/__events`: the stored events, in order, without duplicates.
 */

/** The API key the fake accepts unless `__config` says otherwise. */
export const FAKE_STOA_API_KEY = "sk_test_stoa";

const STOA_VERSION = "2026-11-01";
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_EVENTS = 500;
/** Not fixed by the contract, which names `event_too_large` without a size: the fake's choice. */
export const MAX_EVENT_BYTES = 64 * 1024;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const EVENT_ID_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** The body of `POST /s/<runId>/__config`. Fields left out keep their value. */
export interface FakeStoaConfig {
  apiKey?: string;
  failures?: number[];
  retryAfter?: number;
  delayMs?: number;
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

/** One entry of a 200 answer's `rejected`. */
export interface Rejection {
  id: string | null;
  code: "missing_field" | "invalid_field" | "event_too_large";
  message: string;
}

interface StoredResult {
  body: string;
  status: number;
  payload: unknown;
  at: number;
}

interface Run {
  config: Required<Omit<FakeStoaConfig, "retryAfter">> & { retryAfter: number | undefined };
  received: ReceivedRequest[];
  /** Accepted events by id, in order of acceptance. */
  events: Map<string, { event: unknown; at: number }>;
  /** 2xx results by `<api key> <path> <idempotency key>`. */
  idempotent: Map<string, StoredResult>;
  requests: number;
}

/** What an API route sees. */
interface Call {
  run: Run;
  request: Request;
  path: string;
  apiKey: string;
  raw: Uint8Array;
}

type Route = (call: Call) => Promise<Response> | Response;

const ROUTES: Record<string, Route> = {
  "POST /v1/usage/events": ingestEvents,
};

/** Creates the fake: a Web handler for every path under `/s/`. */
export function createFakeStoa(): (req: Request) => Promise<Response> {
  const runs = new Map<string, Run>();

  return async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/s\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const runId = match?.[1];
    if (runId === undefined) return error(404, "not_found", "not_found", "fake Stoa: expected /s/<runId>/…");
    let run = runs.get(runId);
    if (run === undefined) {
      run = newRun();
      runs.set(runId, run);
    }
    const path = match?.[2] ?? "/";

    if (path === "/__config" && request.method === "POST") return configure(run, request);
    if (path === "/__received" && request.method === "GET") return json(200, run.received);
    if (path === "/__events" && request.method === "GET")
      return json(
        200,
        [...run.events.values()].map((e) => e.event),
      );

    const raw = new Uint8Array(await request.arrayBuffer());
    run.received.push({
      method: request.method,
      path: path + url.search,
      headers: Object.fromEntries(request.headers),
      body: parseBody(raw),
    });
    const n = ++run.requests;
    const response = await api(run, request, path, raw);
    response.headers.set("x-request-id", `req_${runId}_${n}`);
    return response;
  };
}

function newRun(): Run {
  return {
    config: { apiKey: FAKE_STOA_API_KEY, failures: [], retryAfter: undefined, delayMs: 0 },
    received: [],
    events: new Map(),
    idempotent: new Map(),
    requests: 0,
  };
}

async function configure(run: Run, request: Request): Promise<Response> {
  let config: FakeStoaConfig;
  try {
    config = (await request.json()) as FakeStoaConfig;
  } catch {
    return error(400, "invalid_request", "invalid_request", "fake Stoa: __config takes a JSON object");
  }
  if (config.apiKey !== undefined) run.config.apiKey = config.apiKey;
  if (config.failures !== undefined) run.config.failures = [...config.failures];
  if (config.retryAfter !== undefined) run.config.retryAfter = config.retryAfter;
  if (config.delayMs !== undefined) run.config.delayMs = config.delayMs;
  return json(200, run.config);
}

/** The common rules of every API call, then the route. */
async function api(run: Run, request: Request, path: string, raw: Uint8Array): Promise<Response> {
  const { config } = run;
  if (config.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.delayMs));
  const key = `${request.method} ${path}`;
  const route = ROUTES[key];

  if (key === "POST /v1/usage/events" && config.failures.length > 0) {
    const status = config.failures.shift() as number;
    const headers: Record<string, string> = {};
    if (config.retryAfter !== undefined && (status === 429 || status === 503)) {
      headers["retry-after"] = String(config.retryAfter);
    }
    return error(status, typeOf(status), "simulated_failure", `fake Stoa: simulated ${status}`, headers);
  }

  const auth = /^Bearer (.+)$/i.exec(request.headers.get("authorization") ?? "");
  if (auth?.[1] !== config.apiKey) {
    return error(401, "authentication", "invalid_api_key", "Missing or invalid API key.");
  }
  const version = request.headers.get("stoa-version");
  if (version !== STOA_VERSION) {
    return invalid(version === null ? "Missing stoa-version header." : `Unsupported stoa-version ${version}.`);
  }
  if (!/^stoa-[a-z]+\/\d+\.\d+\.\d+\S* \([a-z-]+\)$/.test(request.headers.get("x-stoa-sdk") ?? "")) {
    return invalid("Missing or malformed x-stoa-sdk header (expected `stoa-ts/<version> (<runtime>)`).");
  }
  if (route === undefined) return error(404, "not_found", "not_found", `No route ${key}.`);
  return route({ run, request, path, apiKey: config.apiKey, raw });
}

/** `POST /v1/usage/events` */
async function ingestEvents({ run, request, path, apiKey, raw }: Call): Promise<Response> {
  const idempotencyKey = request.headers.get("idempotency-key");
  if (idempotencyKey === null || idempotencyKey === "" || idempotencyKey.length > 255) {
    return invalid("A POST needs an idempotency-key header of 1 to 255 characters.");
  }
  if (!/^application\/json\s*(;|$)/i.test(request.headers.get("content-type") ?? "")) {
    return invalid("The body must be JSON, with content-type: application/json.");
  }
  if (raw.byteLength > MAX_BODY_BYTES) {
    return error(413, "invalid_request", "payload_too_large", `The body is over ${MAX_BODY_BYTES} bytes.`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw);
  } catch {
    return invalid("The body is not UTF-8.");
  }

  const now = Date.now();
  const storeKey = `${apiKey} ${path} ${idempotencyKey}`;
  const stored = run.idempotent.get(storeKey);
  if (stored !== undefined && now - stored.at < IDEMPOTENCY_TTL_MS) {
    if (stored.body !== text) {
      return error(
        422,
        "invalid_request",
        "idempotency_key_reused",
        "This idempotency-key was used with another body.",
      );
    }
    return json(stored.status, stored.payload);
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return invalid("The body is not JSON.");
  }
  const events = (body as { events?: unknown } | null)?.events;
  if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS) {
    return invalid(`The body must be {"events": [...]} with 1 to ${MAX_EVENTS} events.`);
  }

  let accepted = 0;
  let duplicates = 0;
  const rejected: Rejection[] = [];
  for (const event of events) {
    const problem = checkEvent(event);
    if (problem !== undefined) {
      const id = (event as { id?: unknown } | null)?.id;
      rejected.push({ id: typeof id === "string" ? id : null, ...problem });
      continue;
    }
    const id = (event as { id: string }).id;
    const seen = run.events.get(id);
    if (seen !== undefined && now - seen.at < EVENT_ID_TTL_MS) {
      duplicates++;
      continue;
    }
    run.events.delete(id);
    run.events.set(id, { event, at: now });
    accepted++;
  }
  const payload = { accepted, duplicates, rejected };
  run.idempotent.set(storeKey, { body: text, status: 200, payload, at: now });
  return json(200, payload);
}

const USAGE_FIELDS = [
  "inputTokens",
  "cacheReadTokens",
  "cacheWriteTokens",
  "audioInputTokens",
  "outputTokens",
  "audioOutputTokens",
  "reasoningTokens",
  "webSearchRequests",
] as const;

/** The first problem of one event, by the contract's table; `undefined` when it is valid. */
function checkEvent(value: unknown): Omit<Rejection, "id"> | undefined {
  if (!isObject(value)) return { code: "invalid_field", message: "An event must be a JSON object." };
  const e = value as Record<string, unknown>;
  if (utf8Bytes(JSON.stringify(e)) > MAX_EVENT_BYTES) {
    return { code: "event_too_large", message: `An event is at most ${MAX_EVENT_BYTES} bytes of JSON.` };
  }

  const required: [string, (v: unknown) => boolean, string][] = [
    ["id", (v) => typeof v === "string" && chars(v) >= 1 && chars(v) <= 128, "a string of 1 to 128 characters"],
    ["userId", isString, "a string"],
    ["provider", (v) => typeof v === "string" && /^[a-z0-9][a-z0-9._-]*$/.test(v), "a lowercase provider id"],
    ["endpoint", (v) => typeof v === "string" && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(v), "a dotted name"],
    ["model", isString, "a string"],
    ["requestedModel", isString, "a string"],
    ["stream", isBoolean, "a boolean"],
    ["status", (v) => v === "completed" || v === "aborted", '"completed" or "aborted"'],
    ["estimated", isBoolean, "a boolean"],
    ["usage", isObject, "an object"],
    ["occurredAt", isUtcTime, "an RFC 3339 time in UTC"],
    ["durationMs", isDuration, "a non-negative number"],
  ];
  for (const [field, ok, what] of required) {
    const v = e[field];
    if (v === undefined || v === null) return { code: "missing_field", message: `${field} is required.` };
    if (!ok(v)) return { code: "invalid_field", message: `${field} must be ${what}.` };
  }
  const optional: [string, (v: unknown) => boolean, string][] = [
    ["providerRequestId", isString, "a string"],
    ["costUsd", (v) => typeof v === "number" && Number.isFinite(v), "a number"],
    ["timeToFirstByteMs", isDuration, "a non-negative number"],
    ["metadata", isObject, "an object of strings"],
  ];
  for (const [field, ok, what] of optional) {
    const v = e[field];
    if (v !== undefined && v !== null && !ok(v)) return { code: "invalid_field", message: `${field} must be ${what}.` };
  }

  const usage = e.usage as Record<string, unknown>;
  for (const field of USAGE_FIELDS) {
    const v = usage[field];
    if (v !== undefined && v !== null && !(Number.isSafeInteger(v) && (v as number) >= 0)) {
      return { code: "invalid_field", message: `usage.${field} must be a non-negative integer.` };
    }
  }

  if (isObject(e.metadata)) {
    const entries = Object.entries(e.metadata as Record<string, unknown>);
    if (entries.length > 16) return { code: "invalid_field", message: "metadata has at most 16 keys." };
    for (const [key, v] of entries) {
      if (chars(key) > 40) return { code: "invalid_field", message: "metadata keys are at most 40 characters." };
      if (typeof v !== "string") return { code: "invalid_field", message: `metadata.${key} must be a string.` };
      if (chars(v) > 500) return { code: "invalid_field", message: "metadata values are at most 500 characters." };
    }
  }
  return undefined;
}

function isObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isString(v: unknown): boolean {
  return typeof v === "string";
}

function isBoolean(v: unknown): boolean {
  return typeof v === "boolean";
}

function isDuration(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/** RFC 3339 with a UTC offset (`Z` or `+00:00`) and a real calendar date. */
function isUtcTime(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|\+00:00)$/.exec(v);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const date = new Date(Date.UTC(year as number, (month as number) - 1, day));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === (month as number) - 1 &&
    date.getUTCDate() === day &&
    (hour as number) < 24 &&
    (minute as number) < 60 &&
    (second as number) < 60
  );
}

/** Characters as code points. */
function chars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength;
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

function typeOf(status: number): string {
  if (status === 401) return "authentication";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  return "invalid_request";
}

function invalid(message: string): Response {
  return error(400, "invalid_request", "invalid_request", message);
}

function error(
  status: number,
  type: string,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Response {
  return json(status, { error: { type, code, message } }, headers);
}

function json(status: number, payload: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(payload), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
