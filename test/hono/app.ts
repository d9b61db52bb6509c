/**
 * The test app of the payment-flow tests: a Hono app with `stoa()`,
 * `chargeRequired()`, `paymentReturn()` and a metered chat, served through
 * `app.request(path, init, env, executionCtx)` against the fake Stoa; and
 * the helpers to block, pay and return.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { SignJWT } from "jose";
import OpenAI from "openai";
import { expect } from "vitest";
import {
  type ChargeRequiredOptions,
  chargeRequired,
  memoryStore,
  meteredFetch,
  type PaymentReturnOptions,
  paymentReturn,
  type RestoredAction,
  type ResumeStore,
  stoa,
} from "../../src/hono/index.ts";
import { StoaProvider } from "../../src/index.ts";
import { type MeterRun, PROVIDER_KEY } from "../support/meter.ts";

export const SECRET = "test-secret-0123456789abcdef-0123456789";
export const KEY = new TextEncoder().encode(SECRET);
export const HTML = { accept: "text/html,application/xhtml+xml" };
export const JSON_ACCEPT = { accept: "application/json" };
/** The signed-in user of a return request. */
export const AS_U = { "x-user-id": "u" };

/** A fake Workers execution context that records what it is asked to keep alive. */
export function executionCtx() {
  const pending: Promise<unknown>[] = [];
  return {
    pending,
    waitUntil(promise: Promise<unknown>) {
      pending.push(promise);
    },
    passThroughOnException() {},
    props: {},
  };
}

export interface TestApp {
  app: Hono;
  resumed: RestoredAction[];
  ctx: ReturnType<typeof executionCtx>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

export function buildApp(
  run: MeterRun,
  options: { charge?: ChargeRequiredOptions; back?: PaymentReturnOptions; store?: ResumeStore } = {},
): TestApp {
  const store = options.store ?? memoryStore();
  const resumed: RestoredAction[] = [];
  const ctx = executionCtx();
  const app = new Hono();
  app.use(stoa({ client: run.stoa }));
  app.onError(chargeRequired({ secret: SECRET, store, ...options.charge }));
  app.get(
    "/stoa/return",
    paymentReturn({
      secret: SECRET,
      store,
      currentUser: (c) => c.req.header("x-user-id"),
      onResume(c, restored) {
        resumed.push(restored);
        // the app adds the caller's credentials (here a header) and replays
        const headers = new Headers(restored.request.headers);
        headers.set("x-user-id", c.req.header("x-user-id") ?? "");
        return app.fetch(new Request(restored.request, { headers }), c.env, c.executionCtx);
      },
      ...options.back,
    }),
  );
  const chat = async (userId: string, message: string, c: Parameters<typeof meteredFetch>[0]) => {
    const openai = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      maxRetries: 0,
      fetch: meteredFetch(c, { provider: StoaProvider.OpenAI, userId }),
    });
    const completion = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: message }],
    });
    return completion.choices[0]?.message.content ?? "";
  };
  app.post("/chat", async (c) => {
    const { message } = await c.req.json<{ message: string }>();
    return c.json({ answer: await chat(c.req.header("x-user-id") ?? "", message, c) });
  });
  app.get("/page", async (c) => c.text(await chat(c.req.header("x-user-id") ?? "", "hi", c)));
  app.get("/boom", () => {
    throw new Error("boom");
  });
  app.get("/teapot", () => {
    throw new HTTPException(418, { message: "short and stout" });
  });
  return {
    app,
    resumed,
    ctx,
    request: (path, init) => Promise.resolve(app.request(path, init, {}, ctx)),
  };
}

/** The session id of a checkout URL of the fake (`…/checkout/<id>`). */
export function sessionIdOf(checkoutUrl: string): string {
  return decodeURIComponent(new URL(checkoutUrl).pathname.split("/").at(-1) ?? "");
}

/** Where Stoa sends the browser back after checkout, as a path on the app. */
export async function returnPath(run: MeterRun, sessionId: string): Promise<string> {
  const session = await run.stoa.getPaymentSession(sessionId);
  const url = new URL(session.returnUrl);
  url.searchParams.set("stoa_session_id", sessionId);
  return url.pathname + url.search;
}

/** A blocked browser GET of /page: the session id and the return path. */
export async function blockedPage(run: MeterRun, t: TestApp, path = "/page?tab=1") {
  const response = await t.request(path, { headers: { ...HTML, "x-user-id": "u" } });
  expect(response.status).toBe(303);
  const sessionId = sessionIdOf(response.headers.get("location") ?? "");
  return { sessionId, back: await returnPath(run, sessionId) };
}

export function state(claims: Record<string, unknown>, key: Uint8Array = KEY, lifetime = "10m") {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (lifetime !== "") jwt.setExpirationTime(lifetime);
  return jwt.sign(key);
}

/** A fake Workers KV namespace. */
export function fakeKv() {
  const map = new Map<string, { value: string; ttl: number }>();
  return {
    map,
    get: async (key: string) => map.get(key)?.value ?? null,
    put: async (key: string, value: string, options: { expirationTtl: number }) => {
      map.set(key, { value, ttl: options.expirationTtl });
    },
    delete: async (key: string) => {
      map.delete(key);
    },
  };
}
