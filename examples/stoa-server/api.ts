/**
 * The Stoa HTTP API (shared/stoa-api.md, version 2026-12-01) as a Hono app,
 * mounted at `/api` (the default project) and `/t/:project/api`.
 *
 * Before any route: the project's API key (401 `invalid_api_key`), the
 * `stoa-version` and `x-stoa-sdk` headers (400). A POST then needs an
 * `idempotency-key` and a JSON body of at most 1 MiB; a stored 2xx for the
 * same key, project and path is replayed before the body is looked at
 * again (another body: 422 `idempotency_key_reused`).
 */
import { type Context, Hono } from "hono";
import { apiError, invalid, json } from "./http.ts";
import type { Ledger, Project } from "./ledger.ts";
import { CLOCK_SKEW_S, verifyRegistrationToken } from "./registration.ts";
import { isObject, isReturnUrl } from "./validate.ts";

/** The API version this server speaks. */
export const STOA_VERSION = "2026-12-01";
/** Every version it accepts: `2026-11-01` is the same contract without spend holds, prices and balances. */
export const STOA_VERSIONS: readonly string[] = [STOA_VERSION, "2026-11-01"];
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

type Env = { Variables: { project: Project } };
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
    const at = now();
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
    const at = now();
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
    const session = ledger.getSession(c.req.param("id"), new URL(c.req.url).origin, now(), p.id);
    if (session === undefined) return apiError(404, "not_found", "not_found", "No such payment session.");
    const { project: _, ...view } = session;
    return json(200, view);
  });

  api.all("*", (c) => apiError(404, "not_found", "not_found", `No route ${c.req.method} ${apiPath(c.req.path)}.`));
  return api;
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
