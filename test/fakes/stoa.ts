/**
 * A fake Stoa API that holds the SDK to `shared/stoa-api.md`, with Web APIs
 * only. Mounted under `/s/<runId>/…`: the SDK's base URL is
 * `<fakeBase>/s/<runId>`, and each run id has its own state in memory.
 *
 * API (auth and the required headers on every call; every POST needs an
 * idempotency-key, and a stored 2xx is replayed for the same key, API key,
 * path and body before any other check of the body):
 * - `POST /v1/usage/events`: batch and per-event validation, event-id dedup.
 * - `POST /v1/members`: verifies the HS256 registration token with jose
 *   (audience, required claims, 30 s of skew, lifetime ≤ 10 min, `jti` seen
 *   once), then creates the member (201) or returns it (200).
 * - `GET /v1/members/{userId}/chargeability`: from the run's member state.
 * - `POST /v1/payment-sessions`, `GET /v1/payment-sessions/{id}`.
 *
 * Test controls (no auth, not recorded):
 * - `POST /s/<runId>/__config` (a {@link FakeStoaConfig}): failure lists are
 *   statuses answered to the next requests of their route, one per request,
 *   before any processing; `retryAfter` (seconds) goes with each 429 and 503
 *   of them; `delayMs` delays every API answer; `members` seeds member state.
 * - `GET /s/<runId>/__received`: every API request, in order.
 * - `GET /s/<runId>/__events`: the stored events, in order, without duplicates.
 * - `GET /s/<runId>/__members`: the members by user id.
 * - `POST /s/<runId>/__complete/<sessionId>` `{ amountUsd? }`: completes an
 *   open payment session as checkout would: the member has paid and gets
 *   `amountUsd` (default 10) of balance. Answers the session.
 * - `GET /s/<runId>/checkout/<sessionId>`: a stand-in checkout page.
 */
import { jwtVerify } from "jose";

/** The API key the fake accepts unless `__config` says otherwise. */
export const FAKE_STOA_API_KEY = "sk_test_stoa";

/** The registration secret the fake verifies tokens with unless `__config` says otherwise. */
export const FAKE_REGISTRATION_SECRET = "test-registration-secret-0123456789abcdef";

const STOA_VERSION = "2026-11-01";
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_EVENTS = 500;
/** Not fixed by the contract, which names `event_too_large` without a size: the fake's choice. */
export const MAX_EVENT_BYTES = 64 * 1024;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const EVENT_ID_TTL_MS = 30 * 24 * 60 * 60 * 1000;
const REGISTRATION_AUDIENCE = "stoa:member-registration";
const CLOCK_SKEW_S = 30;
const MAX_TOKEN_LIFETIME_S = 600;
/** Not fixed by the contract: the fake's choice. */
export const PAYMENT_SESSION_TTL_MS = 60 * 60 * 1000;
/** Balance a completed checkout adds when `__complete` names no amount. */
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
  /** Statuses for the next `GET /v1/members/{userId}/chargeability`. */
  chargeabilityFailures?: number[];
  /** Statuses for the next `POST /v1/payment-sessions`. */
  paymentSessionFailures?: number[];
  /** Statuses for the next `POST /v1/members`. */
  memberFailures?: number[];
  retryAfter?: number;
  delayMs?: number;
  /** Extra delay of every chargeability answer. */
  chargeabilityDelayMs?: number;
  /** `ttlSeconds` of a chargeable answer (default 60). */
  chargeabilityTtl?: number;
  /** The secret registration tokens are verified with (default {@link FAKE_REGISTRATION_SECRET}). */
  registrationSecret?: string;
  /** A user with no member record counts as a paid member with balance (for tests that meter, not gate). */
  everyoneChargeable?: boolean;
  /** Creates or updates these members (an `undefined` entry changes nothing). */
  members?: Record<string, FakeMemberSeed | undefined>;
}

/** A member as `GET /s/<runId>/__members` shows it. */
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

/** One entry of a 200 answer's `rejected`. */
export interface Rejection {
  id: string | null;
  code: "missing_field" | "invalid_field" | "event_too_large";
  message: string;
}

type Reason = "payment_required" | "insufficient_balance" | "member_suspended";

interface StoredResult {
  body: string;
  status: number;
  payload: unknown;
  at: number;
}

interface Session {
  id: string;
  userId: string;
  membershipId: string;
  status: "open" | "complete" | "expired" | "not_required";
  checkoutUrl: string | null;
  returnUrl: string;
  expiresAt: number;
}

type FailureList = "failures" | "chargeabilityFailures" | "paymentSessionFailures" | "memberFailures";

interface Settings {
  apiKey: string;
  failures: number[];
  chargeabilityFailures: number[];
  paymentSessionFailures: number[];
  memberFailures: number[];
  retryAfter: number | undefined;
  delayMs: number;
  chargeabilityDelayMs: number;
  chargeabilityTtl: number;
  registrationSecret: string;
  everyoneChargeable: boolean;
}

interface Run {
  id: string;
  config: Settings;
  received: ReceivedRequest[];
  /** Accepted events by id, in order of acceptance. */
  events: Map<string, { event: unknown; at: number }>;
  /** 2xx results by `<api key> <path> <idempotency key>`. */
  idempotent: Map<string, StoredResult>;
  requests: number;
  members: Map<string, FakeMember>;
  sessions: Map<string, Session>;
  /** Registration token ids seen, with when they may be forgotten (ms). */
  jtis: Map<string, number>;
}

/** What an API route sees. */
interface Call {
  run: Run;
  request: Request;
  /** Of the fake's own URL, for links it hands out. */
  origin: string;
  path: string;
  /** The `{name}` segments of the route, decoded. */
  params: Record<string, string>;
  apiKey: string;
  raw: Uint8Array;
}

type Route = (call: Call) => Promise<Response> | Response;

/** A POST route, after the idempotency and body checks: `body` is parsed JSON. */
type PostRoute = (call: Call, body: unknown, now: number) => Promise<Response> | Response;

const CHARGEABILITY = "GET /v1/members/{userId}/chargeability";

const ROUTES: Record<string, Route> = {
  "POST /v1/usage/events": idempotent(ingestEvents),
  "POST /v1/members": idempotent(registerMember),
  [CHARGEABILITY]: chargeability,
  "POST /v1/payment-sessions": idempotent(createPaymentSession),
  "GET /v1/payment-sessions/{id}": getPaymentSession,
};

/** The `__config` list of simulated failures each route answers from. */
const FAILURES: Record<string, FailureList> = {
  "POST /v1/usage/events": "failures",
  [CHARGEABILITY]: "chargeabilityFailures",
  "POST /v1/payment-sessions": "paymentSessionFailures",
  "POST /v1/members": "memberFailures",
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
      run = newRun(runId);
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
    if (path === "/__members" && request.method === "GET") return json(200, Object.fromEntries(run.members));
    const control = /^\/(__complete|checkout)\/([^/]+)$/.exec(path);
    if (control?.[1] === "__complete" && request.method === "POST") {
      return completeSession(run, decodeURIComponent(control[2] as string), request);
    }
    if (control?.[1] === "checkout" && request.method === "GET") {
      return checkoutPage(run, decodeURIComponent(control[2] as string));
    }

    const raw = new Uint8Array(await request.arrayBuffer());
    run.received.push({
      method: request.method,
      path: path + url.search,
      headers: Object.fromEntries(request.headers),
      body: parseBody(raw),
    });
    const n = ++run.requests;
    const response = await api(run, request, url.origin, path, raw);
    response.headers.set("x-request-id", `req_${runId}_${n}`);
    return response;
  };
}

function newRun(id: string): Run {
  return {
    id,
    config: {
      apiKey: FAKE_STOA_API_KEY,
      failures: [],
      chargeabilityFailures: [],
      paymentSessionFailures: [],
      memberFailures: [],
      retryAfter: undefined,
      delayMs: 0,
      chargeabilityDelayMs: 0,
      chargeabilityTtl: 60,
      registrationSecret: FAKE_REGISTRATION_SECRET,
      everyoneChargeable: false,
    },
    received: [],
    events: new Map(),
    idempotent: new Map(),
    requests: 0,
    members: new Map(),
    sessions: new Map(),
    jtis: new Map(),
  };
}

async function configure(run: Run, request: Request): Promise<Response> {
  let config: FakeStoaConfig;
  try {
    config = (await request.json()) as FakeStoaConfig;
  } catch {
    return error(400, "invalid_request", "invalid_request", "fake Stoa: __config takes a JSON object");
  }
  const { members, ...settings } = config;
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (!(name in run.config)) return invalid(`fake Stoa: unknown __config field ${name}`);
    (run.config as unknown as Record<string, unknown>)[name] = Array.isArray(value) ? [...value] : value;
  }
  for (const [userId, seed] of Object.entries(members ?? {})) {
    if (seed == null) continue;
    const member = run.members.get(userId) ?? addMember(run, userId);
    if (seed.balanceUsd !== undefined) member.balanceUsd = seed.balanceUsd;
    if (seed.paid !== undefined) member.paid = seed.paid;
    if (seed.suspended !== undefined) member.suspended = seed.suspended;
  }
  return json(200, run.config);
}

/** The common rules of every API call, then the route. */
async function api(run: Run, request: Request, origin: string, path: string, raw: Uint8Array): Promise<Response> {
  const { config } = run;
  if (config.delayMs > 0) await sleep(config.delayMs);
  const found = findRoute(request.method, path);
  if (found?.template === CHARGEABILITY && config.chargeabilityDelayMs > 0) await sleep(config.chargeabilityDelayMs);

  const failures = found === undefined ? undefined : FAILURES[found.template];
  if (failures !== undefined && config[failures].length > 0) {
    const status = config[failures].shift() as number;
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
  if (found === undefined) return error(404, "not_found", "not_found", `No route ${request.method} ${path}.`);
  return found.route({ run, request, origin, path, params: found.params, apiKey: config.apiKey, raw });
}

/** The route for `method path`: templates match segment by segment, `{name}` one non-empty segment. */
function findRoute(
  method: string,
  path: string,
): { template: string; route: Route; params: Record<string, string> } | undefined {
  const segments = path.split("/");
  for (const [template, route] of Object.entries(ROUTES)) {
    const [routeMethod, routePath = ""] = template.split(" ");
    const parts = routePath.split("/");
    if (routeMethod !== method || parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = parts.every((part, i) => {
      const segment = segments[i] as string;
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (name === undefined) return part === segment;
      if (segment === "") return false;
      try {
        params[name] = decodeURIComponent(segment);
      } catch {
        return false;
      }
      return true;
    });
    if (matches) return { template, route, params };
  }
  return undefined;
}

/**
 * The common rules of a POST: an idempotency key, a JSON body of at most
 * 1 MiB in UTF-8, and the replay of a stored 2xx for the same key and body
 * (or 422 for another body), before the route sees the body. A 2xx answer
 * is stored.
 */
function idempotent(route: PostRoute): Route {
  return async (call) => {
    const { run, request, path, apiKey, raw } = call;
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
    const response = await route(call, body, now);
    if (response.ok) {
      const payload = (await response.clone().json()) as unknown;
      run.idempotent.set(storeKey, { body: text, status: response.status, payload, at: now });
    }
    return response;
  };
}

/** `POST /v1/usage/events` */
function ingestEvents({ run }: Call, body: unknown, now: number): Response {
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
  return json(200, { accepted, duplicates, rejected });
}

/** `POST /v1/members` */
async function registerMember({ run }: Call, body: unknown, now: number): Promise<Response> {
  const token = (body as { registrationToken?: unknown } | null)?.registrationToken;
  if (typeof token !== "string" || token === "") return invalid('The body must be {"registrationToken": "<JWT>"}.');
  const claims = await verifyRegistrationToken(run, token, now);
  if (claims === undefined) {
    return error(
      401,
      "authentication",
      "invalid_registration_token",
      "The registration token is invalid, expired or already used.",
    );
  }
  const known = run.members.get(claims.sub);
  if (known !== undefined) return json(200, { membershipId: known.membershipId, userId: known.userId, created: false });
  const member = addMember(run, claims.sub);
  member.email = claims.email;
  if (claims.name !== undefined) member.name = claims.name;
  if (claims.picture !== undefined) member.picture = claims.picture;
  return json(201, { membershipId: member.membershipId, userId: member.userId, created: true });
}

/**
 * The claims of a registration token by the contract's rules, or `undefined`:
 * HS256 only, the audience, `exp`, `iat`, `jti`, `sub` and `email` present,
 * 30 s of skew (an `iat` in the future beyond it is refused too), a lifetime
 * of at most 10 minutes, and a `jti` not seen before its `exp` plus the skew.
 */
async function verifyRegistrationToken(
  run: Run,
  token: string,
  now: number,
): Promise<{ sub: string; email: string; name?: string; picture?: string } | undefined> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(run.config.registrationSecret), {
      algorithms: ["HS256"],
      audience: REGISTRATION_AUDIENCE,
      requiredClaims: ["exp", "iat", "jti", "sub", "email"],
      clockTolerance: CLOCK_SKEW_S,
      maxTokenAge: MAX_TOKEN_LIFETIME_S,
      currentDate: new Date(now),
    }));
  } catch {
    return undefined;
  }
  const { exp, iat, jti, sub, email, name, picture } = payload;
  if (typeof exp !== "number" || typeof iat !== "number" || exp - iat > MAX_TOKEN_LIFETIME_S) return undefined;
  if (typeof jti !== "string" || jti === "" || typeof sub !== "string" || sub === "") return undefined;
  if (typeof email !== "string" || email === "") return undefined;
  if (name != null && typeof name !== "string") return undefined;
  if (picture != null && typeof picture !== "string") return undefined;
  for (const [seen, until] of run.jtis) if (until <= now) run.jtis.delete(seen);
  if (run.jtis.has(jti)) return undefined;
  run.jtis.set(jti, (exp + CLOCK_SKEW_S) * 1000);
  return { sub, email, ...(name != null && { name }), ...(picture != null && { picture }) };
}

/** `GET /v1/members/{userId}/chargeability` */
function chargeability({ run, params }: Call): Response {
  const userId = params.userId as string;
  const reason = reasonFor(run, userId);
  return json(
    200,
    reason === null
      ? { userId, chargeable: true, reason: null, ttlSeconds: run.config.chargeabilityTtl }
      : { userId, chargeable: false, reason, ttlSeconds: 0 },
  );
}

/** Why `userId` cannot be charged, or null when it can. */
function reasonFor(run: Run, userId: string): Reason | null {
  const member = run.members.get(userId);
  if (member === undefined) return run.config.everyoneChargeable ? null : "payment_required";
  if (member.suspended) return "member_suspended";
  if (!member.paid) return "payment_required";
  if (member.balanceUsd <= 0) return "insufficient_balance";
  return null;
}

/** `POST /v1/payment-sessions` */
function createPaymentSession({ run, origin }: Call, body: unknown, now: number): Response {
  const b = (isObject(body) ? body : {}) as Record<string, unknown>;
  const { userId, email, name, returnUrl } = b;
  if (typeof userId !== "string" || userId === "") return invalid("userId must be a non-empty string.");
  if (email != null && typeof email !== "string") return invalid("email must be a string.");
  if (name != null && typeof name !== "string") return invalid("name must be a string.");
  if (returnUrl == null) return invalid("returnUrl is required.");
  if (typeof returnUrl !== "string" || !isReturnUrl(returnUrl)) {
    return error(
      400,
      "invalid_request",
      "invalid_return_url",
      "returnUrl must be an absolute https URL; http is allowed only for localhost and loopback addresses.",
    );
  }

  let member = run.members.get(userId);
  if (member === undefined) {
    member = addMember(run, userId);
    if (email != null) member.email = email;
    if (name != null) member.name = name;
  }
  const chargeable = reasonFor(run, userId) === null;
  if (!chargeable) {
    for (const session of run.sessions.values()) {
      if (session.userId === userId && session.returnUrl === returnUrl && current(session, now).status === "open") {
        return json(200, view(session, now));
      }
    }
  }
  const id = newId("ps");
  const session: Session = {
    id,
    userId,
    membershipId: member.membershipId,
    status: chargeable ? "not_required" : "open",
    checkoutUrl: chargeable ? null : `${origin}/s/${run.id}/checkout/${id}`,
    returnUrl,
    expiresAt: now + PAYMENT_SESSION_TTL_MS,
  };
  run.sessions.set(id, session);
  return json(201, view(session, now));
}

/** `GET /v1/payment-sessions/{id}` */
function getPaymentSession({ run, params }: Call): Response {
  const session = run.sessions.get(params.id as string);
  if (session === undefined) return error(404, "not_found", "not_found", "No such payment session.");
  return json(200, view(session, Date.now()));
}

/** `POST /s/<runId>/__complete/<id>`: what the checkout will do when the user pays. */
async function completeSession(run: Run, id: string, request: Request): Promise<Response> {
  const text = await request.text();
  let given: unknown;
  try {
    given = text === "" ? undefined : (JSON.parse(text) as { amountUsd?: unknown } | null)?.amountUsd;
  } catch {
    return invalid("fake Stoa: __complete takes no body or { amountUsd }");
  }
  if (given !== undefined && (typeof given !== "number" || !Number.isFinite(given))) {
    return invalid("fake Stoa: amountUsd must be a number");
  }
  const amountUsd = given ?? DEFAULT_TOP_UP_USD;
  const now = Date.now();
  const session = run.sessions.get(id);
  if (session === undefined) return error(404, "not_found", "not_found", "fake Stoa: no such payment session");
  if (current(session, now).status !== "open") {
    return error(409, "invalid_request", "invalid_request", `fake Stoa: the session is ${session.status}`);
  }
  session.status = "complete";
  const member = run.members.get(session.userId) ?? addMember(run, session.userId);
  member.paid = true;
  member.balanceUsd += amountUsd;
  return json(200, view(session, now));
}

/** `GET /s/<runId>/checkout/<id>`: a stand-in for the hosted checkout. */
function checkoutPage(run: Run, id: string): Response {
  const session = run.sessions.get(id);
  if (session === undefined) return new Response("no such checkout", { status: 404 });
  const html = `<!doctype html><title>Fake Stoa checkout</title><p>Session ${session.id} (${current(session, Date.now()).status})`;
  return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}

/** The session with an `open` one past its time marked `expired`. */
function current(session: Session, now: number): Session {
  if (session.status === "open" && now >= session.expiresAt) session.status = "expired";
  return session;
}

/** A PaymentSession as the contract shows it. */
function view(session: Session, now: number) {
  const { id, userId, membershipId, status, checkoutUrl, returnUrl, expiresAt } = current(session, now);
  return { id, userId, membershipId, status, checkoutUrl, returnUrl, expiresAt: rfc3339(expiresAt) };
}

/** The contract's rule: absolute https; http only to localhost, *.localhost, 127.0.0.0/8 or [::1]. */
function isReturnUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  if (url.protocol !== "http:") return false;
  const host = url.hostname;
  if (host === "[::1]" || host === "localhost") return true;
  if (host.endsWith(".localhost")) return !host.split(".").includes("");
  const octets = host.split(".");
  return octets.length === 4 && octets[0] === "127" && octets.every((o) => /^\d+$/.test(o) && Number(o) <= 255);
}

function addMember(run: Run, userId: string): FakeMember {
  const member: FakeMember = { membershipId: newId("mem"), userId, balanceUsd: 0, paid: false, suspended: false };
  run.members.set(userId, member);
  return member;
}

function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** RFC 3339 in UTC, whole seconds, like the contract's examples. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
