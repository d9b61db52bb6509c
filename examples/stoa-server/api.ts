/**
 * The Stoa HTTP API (shared/stoa-api.md, version 2026-12-01) as a Hono app,
 * mounted at `/api` (the default project) and `/t/:project/api`.
 *
 * Before any route: the project's API key (401 `invalid_api_key`), the
 * `stoa-version` and `x-stoa-sdk` headers (400). A POST then needs an
 * `idempotency-key` and a JSON body of at most 1 MiB; a stored 2xx for the
 * same key, project and path is replayed before the body is looked at
 * again (another body: 422 `idempotency_key_reused`).
 *
 * Versions: `stoa-version: 2026-12-01` gets every route. `2026-11-01` gets
 * the same contract without spend holds, prices and balances: usage events,
 * chargeability, payment sessions, members and the usage summary answer as
 * under 2026-12-01, while `GET /v1/prices`, `GET /v1/members/{userId}/balance`,
 * `POST /v1/members/{userId}/holds` and `POST /v1/holds/{id}/release` answer
 * `404 not_found`, as a 2026-11-01 server would (the 404 a client falls back on).
 *
 * Time: each project's clock is the server's plus the project's
 * `clockOffsetMs` (0 unless a test moves it), so expiry can be tested
 * without waiting.
 */
import { type Context, Hono } from "hono";
import { apiError, invalid, json } from "./http.ts";
import { nanosOf } from "./ledger/shared.ts";
import type { HoldRequest, Ledger, Project } from "./ledger.ts";
import { FALLBACK_PRICE, PRICES_TTL_SECONDS } from "./prices.ts";
import { CLOCK_SKEW_S, verifyRegistrationToken } from "./registration.ts";
import { isObject, isReturnUrl, MAX_COST_USD } from "./validate.ts";

/** The API version this server speaks. */
export const STOA_VERSION = "2026-12-01";
/** The older version it still accepts: the same contract without spend holds, prices and balances. */
export const LEGACY_STOA_VERSION = "2026-11-01";
/** Every version it accepts. */
export const STOA_VERSIONS: readonly string[] = [STOA_VERSION, LEGACY_STOA_VERSION];
/** A hold's `ttlSeconds`: the default, and the contract's range. */
const HOLD_TTL = { default: 120, min: 10, max: 900 };
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_EVENTS = 500;
const DAY_MS = 86_400_000;

/** What the API needs from its host. */
export interface ApiOptions {
  ledger: Ledger;
  /** The project of a request: its `:project` parameter, else the default project. */
  project(c: Context): Project | undefined;
  /** The clock, in ms (tests may move it). */
  now?: () => number;
}

type Env = { Variables: { project: Project; version: string; now: number } };
type PostRoute = (c: Context<Env>, body: unknown, now: number) => Promise<Response> | Response;

/** The API routes, to mount under a base path. */
export function createApi({ ledger, project, now = Date.now }: ApiOptions): Hono<Env> {
  const api = new Hono<Env>();

  api.use(async function common(c, next) {
    const p = project(c);
    const auth = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "");
    if (p === undefined || p.apiKey === "" || auth?.[1] !== p.apiKey) {
      return apiError(401, "authentication", "invalid_api_key", "Missing or invalid API key.");
    }
    const version = c.req.header("stoa-version");
    if (version === undefined || !STOA_VERSIONS.includes(version)) {
      return invalid(version === undefined ? "Missing stoa-version header." : `Unsupported stoa-version ${version}.`);
    }
    if (!/^stoa-[a-z]+\/\d+\.\d+\.\d+\S* \([a-z-]+\)$/.test(c.req.header("x-stoa-sdk") ?? "")) {
      return invalid("Missing or malformed x-stoa-sdk header (expected `stoa-ts/<version> (<runtime>)`).");
    }
    c.set("project", p);
    c.set("version", version);
    c.set("now", now() + p.clockOffsetMs);
    await next();
    c.res.headers.set("x-request-id", `req_${crypto.randomUUID().replaceAll("-", "")}`);
  });

  const idempotent = (route: PostRoute) => async (c: Context<Env>) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined || key === "" || key.length > 255) {
      return invalid("A POST needs an idempotency-key header of 1 to 255 characters.");
    }
    if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
      return invalid("The body must be JSON, with content-type: application/json.");
    }
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (raw.byteLength > MAX_BODY_BYTES) {
      return apiError(413, "invalid_request", "payload_too_large", `The body is over ${MAX_BODY_BYTES} bytes.`);
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw);
    } catch {
      return invalid("The body is not UTF-8.");
    }
    const at = c.get("now");
    const p = c.get("project");
    // a key is scoped to the API key and the path (the key itself is not stored)
    const path = `${await fingerprint(p.apiKey)} ${apiPath(c.req.path)}`;
    const stored = ledger.storedResult(p.id, path, key, at);
    if (stored !== undefined) {
      if (stored.body !== text) {
        return apiError(
          422,
          "invalid_request",
          "idempotency_key_reused",
          "This idempotency-key was used with another body.",
        );
      }
      return new Response(stored.payload, { status: stored.status, headers: { "content-type": "application/json" } });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return invalid("The body is not JSON.");
    }
    const response = await route(c, body, at);
    if (response.ok) {
      const payload = await response.clone().text();
      ledger.storeResult(p.id, path, key, { body: text, status: response.status, payload }, at);
    }
    return response;
  };

  api.post(
    "/v1/usage/events",
    idempotent((c, body, at) => {
      const events = isObject(body) ? body.events : undefined;
      if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS) {
        return invalid(`The body must be {"events": [...]} with 1 to ${MAX_EVENTS} events.`);
      }
      return json(200, ledger.ingest(c.get("project"), events, at));
    }),
  );

  api.post(
    "/v1/members",
    idempotent(async (c, body, at) => {
      const token = isObject(body) ? body.registrationToken : undefined;
      if (typeof token !== "string" || token === "") return invalid('The body must be {"registrationToken": "<JWT>"}.');
      const p = c.get("project");
      const claims = await verifyRegistrationToken(token, p.registrationSecret, at);
      if (claims === undefined || !ledger.useJti(p.id, claims.jti, (claims.exp + CLOCK_SKEW_S) * 1000, at)) {
        return apiError(
          401,
          "authentication",
          "invalid_registration_token",
          "The registration token is invalid, expired or already used.",
        );
      }
      const { sub, email, name, picture } = claims;
      const result = ledger.register(p.id, sub, { email, name, picture }, at);
      return json(result.created ? 201 : 200, result);
    }),
  );

  api.get("/v1/members/:userId/chargeability", (c) => {
    const p = c.get("project");
    const userId = c.req.param("userId");
    const reason = ledger.reasonFor(p, userId);
    return json(
      200,
      reason === null
        ? { userId, chargeable: true, reason: null, ttlSeconds: p.chargeabilityTtl }
        : { userId, chargeable: false, reason, ttlSeconds: 0 },
    );
  });

  api.get("/v1/members/:userId/usage", (c) => {
    const at = c.get("now");
    const to = time(c.req.query("to"), at);
    const from = time(c.req.query("from"), (to ?? at) - 30 * DAY_MS);
    if (from === undefined || to === undefined) return invalid("from and to must be RFC 3339 times.");
    if (from > to) return invalid("from must not be after to.");
    return json(200, ledger.usageSummary(c.get("project").id, c.req.param("userId"), from, to));
  });

  api.post(
    "/v1/payment-sessions",
    idempotent((c, body, at) => {
      const b = isObject(body) ? body : {};
      const { userId, email, name, returnUrl } = b;
      if (typeof userId !== "string" || userId === "") return invalid("userId must be a non-empty string.");
      if (email != null && typeof email !== "string") return invalid("email must be a string.");
      if (name != null && typeof name !== "string") return invalid("name must be a string.");
      if (returnUrl == null) return invalid("returnUrl is required.");
      if (typeof returnUrl !== "string" || !isReturnUrl(returnUrl)) {
        return apiError(
          400,
          "invalid_request",
          "invalid_return_url",
          "returnUrl must be an absolute https URL; http is allowed only for localhost and loopback addresses.",
        );
      }
      const input = { userId, returnUrl, ...(email != null && { email }), ...(name != null && { name }) };
      const { created, session } = ledger.createSession(c.get("project"), input, new URL(c.req.url).origin, at);
      return json(created ? 201 : 200, session);
    }),
  );

  api.get("/v1/payment-sessions/:id", (c) => {
    const p = c.get("project");
    const session = ledger.getSession(c.req.param("id"), new URL(c.req.url).origin, c.get("now"), p.id);
    if (session === undefined) return apiError(404, "not_found", "not_found", "No such payment session.");
    const { project: _, ...view } = session;
    return json(200, view);
  });

  // 2026-12-01 only: prices, balances and spend holds

  api.get(
    "/v1/prices",
    since1201(() =>
      json(200, { currency: "USD", ttlSeconds: PRICES_TTL_SECONDS, prices: ledger.prices, fallback: FALLBACK_PRICE }),
    ),
  );

  api.get(
    "/v1/members/:userId/balance",
    since1201((c) => json(200, ledger.balance(c.get("project"), c.req.param("userId") ?? "", c.get("now")))),
  );

  api.post(
    "/v1/members/:userId/holds",
    since1201(
      idempotent((c, body, at) => {
        const request = holdRequest(body);
        if (typeof request === "string") return invalid(request);
        const answer = ledger.grantHold(c.get("project"), c.req.param("userId") ?? "", request, at);
        return json(answer.granted ? 201 : 200, answer);
      }),
    ),
  );

  api.post(
    "/v1/holds/:id/release",
    since1201(
      idempotent((c, body, at) => {
        if (!isObject(body)) return invalid("The body must be a JSON object ({}).");
        const id = c.req.param("id") ?? "";
        const released = /^[A-Za-z0-9_-]+$/.test(id) ? ledger.releaseHold(c.get("project").id, id, at) : undefined;
        return released === undefined ? apiError(404, "not_found", "not_found", "No such hold.") : json(200, released);
      }),
    ),
  );

  api.all("*", (c) => apiError(404, "not_found", "not_found", `No route ${c.req.method} ${apiPath(c.req.path)}.`));
  return api;
}

/** A route of 2026-12-01 only: `404 not_found` under 2026-11-01, as a server of that version answers. */
function since1201(route: (c: Context<Env>) => Promise<Response> | Response) {
  return (c: Context<Env>) =>
    c.get("version") === LEGACY_STOA_VERSION
      ? apiError(
          404,
          "not_found",
          "not_found",
          `No route ${c.req.method} ${apiPath(c.req.path)} in ${LEGACY_STOA_VERSION}.`,
        )
      : route(c);
}

/**
 * A hold request's body in nano-dollars, or what is wrong with it: `minUsd`
 * > 0 (at least one nano-dollar), `targetUsd` ≥ `minUsd` (default `minUsd`),
 * both at most {@link MAX_COST_USD}; `ttlSeconds` an integer from 10 to 900
 * (default 120).
 */
function holdRequest(body: unknown): HoldRequest | string {
  const { minUsd, targetUsd, ttlSeconds } = isObject(body) ? body : {};
  const isAmount = (v: unknown): v is number => typeof v === "number" && v > 0 && v <= MAX_COST_USD;
  if (!isAmount(minUsd) || nanosOf(minUsd) < 1) {
    return `minUsd must be a number from 0.000000001 to ${MAX_COST_USD}.`;
  }
  if (targetUsd != null && !(isAmount(targetUsd) && targetUsd >= minUsd)) {
    return `targetUsd must be a number from minUsd to ${MAX_COST_USD}.`;
  }
  const ttl = ttlSeconds ?? HOLD_TTL.default;
  if (!Number.isInteger(ttl) || (ttl as number) < HOLD_TTL.min || (ttl as number) > HOLD_TTL.max) {
    return `ttlSeconds must be an integer from ${HOLD_TTL.min} to ${HOLD_TTL.max}.`;
  }
  const minNanos = nanosOf(minUsd);
  return {
    minNanos,
    targetNanos: Math.max(minNanos, nanosOf(targetUsd ?? minUsd)),
    ttlSeconds: ttl as number,
  };
}

/** The path below the API's base: `/v1/…`. */
export function apiPath(path: string): string {
  const at = path.indexOf("/api/v1/");
  return at === -1 ? path : path.slice(at + 4);
}

/** A short SHA-256 fingerprint of a secret. */
async function fingerprint(secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A query time in ms: `fallback` when absent, `undefined` when not RFC 3339. */
function time(value: string | undefined, fallback: number): number | undefined {
  if (value === undefined || value === "") return fallback;
  if (!/^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
