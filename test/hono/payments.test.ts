/**
 * `@onstoa/sdk/hono` through `app.request(path, init, env, executionCtx)`:
 * the middleware, the charge-required handler, the return route against the
 * fake Stoa, and one blocked chat that is paid for and resumed.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { SignJWT } from "jose";
import OpenAI from "openai";
import { describe, expect, inject, it, vi } from "vitest";
import {
  type ChargeRequiredOptions,
  chargeRequired,
  kvStore,
  memoryStore,
  meteredFetch,
  type PaymentReturnOptions,
  paymentReturn,
  type RestoredAction,
  type ResumeStore,
  STATE_AUDIENCE,
  stoa,
} from "../../src/hono/index.ts";
import { StoaChargeRequiredError, StoaConfigError, StoaProvider } from "../../src/index.ts";
import { type MeterRun, meterRun, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { providerRequests } from "../support/provider.ts";
import { completePaymentSession, configureStoa, stoaBase } from "../support/stoa.ts";

const SECRET = "test-secret-0123456789abcdef-0123456789";
const KEY = new TextEncoder().encode(SECRET);
const HTML = { accept: "text/html,application/xhtml+xml" };
const JSON_ACCEPT = { accept: "application/json" };
/** The signed-in user of a return request. */
const AS_U = { "x-user-id": "u" };

/** A fake Workers execution context that records what it is asked to keep alive. */
function executionCtx() {
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

interface TestApp {
  app: Hono;
  resumed: RestoredAction[];
  ctx: ReturnType<typeof executionCtx>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

function buildApp(
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
function sessionIdOf(checkoutUrl: string): string {
  return decodeURIComponent(new URL(checkoutUrl).pathname.split("/").at(-1) ?? "");
}

/** Where Stoa sends the browser back after checkout, as a path on the app. */
async function returnPath(run: MeterRun, sessionId: string): Promise<string> {
  const session = await run.stoa.getPaymentSession(sessionId);
  const url = new URL(session.returnUrl);
  url.searchParams.set("stoa_session_id", sessionId);
  return url.pathname + url.search;
}

/** A blocked browser GET of /page: the session id and the return path. */
async function blockedPage(run: MeterRun, t: TestApp, path = "/page?tab=1") {
  const response = await t.request(path, { headers: { ...HTML, "x-user-id": "u" } });
  expect(response.status).toBe(303);
  const sessionId = sessionIdOf(response.headers.get("location") ?? "");
  return { sessionId, back: await returnPath(run, sessionId) };
}

function state(claims: Record<string, unknown>, key: Uint8Array = KEY, lifetime = "10m") {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (lifetime !== "") jwt.setExpirationTime(lifetime);
  return jwt.sign(key);
}

describe("stoa() and meteredFetch()", () => {
  it("makes one Stoa per app from c.env and exposes it as c.var.stoa", async () => {
    const run = await meterRun("hono-env");
    const app = new Hono();
    app.use(stoa());
    app.get("/", (c) => c.text(String(c.var.stoa.constructor.name)));
    const seen = new Set<unknown>();
    app.get("/same", (c) => {
      seen.add(c.var.stoa);
      return c.text("ok");
    });
    const env = { STOA_API_KEY: STOA_KEY, STOA_BASE_URL: stoaBase(run.runId) };
    expect(await (await app.request("/", {}, env)).text()).toBe("Stoa");
    await app.request("/same", {}, env);
    await app.request("/same", {}, env);
    expect(seen.size).toBe(1);
  });

  it("fails clearly with no API key", async () => {
    const app = new Hono();
    app.use(stoa());
    app.get("/", (c) => c.text("never"));
    let error: unknown;
    app.onError((e, c) => {
      error = e;
      return c.text("no", 500);
    });
    expect((await app.request("/", {}, {})).status).toBe(500);
    expect(error).toBeInstanceOf(StoaConfigError);
  });

  it("uses c.executionCtx.waitUntil when there is one, and works without", async () => {
    const run = await meterRun("hono-wait");
    const t = buildApp(run);
    const ok = await t.request("/chat", {
      method: "POST",
      headers: { "content-type": "application/json", "x-user-id": "u" },
      body: JSON.stringify({ message: "hi" }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ answer: "Hello!" });
    expect(t.ctx.pending.length).toBeGreaterThan(0);
    await Promise.all(t.ctx.pending);
    // no execution context: Hono's getter throws, the helper carries on
    const bare = await t.app.request("/page", { headers: { "x-user-id": "u" } });
    expect(await bare.text()).toBe("Hello!");
    expect(await run.events()).toHaveLength(2);
  });
});

describe("chargeRequired()", () => {
  it("refuses a secret shorter than 32 bytes at set-up", () => {
    expect(() => chargeRequired({ secret: "short" })).toThrow(StoaConfigError);
    expect(() => paymentReturn({ secret: "x".repeat(31) })).toThrow(StoaConfigError);
    expect(() => paymentReturn({ secret: SECRET, stateTtlSeconds: 3601 })).toThrow(StoaConfigError);
  });

  it("hands a short STOA_STATE_SECRET from c.env to the fallback as a StoaConfigError", async () => {
    const run = await meterRun("hono-envsecret", {}, true);
    let seen: unknown;
    const app = new Hono();
    app.use(stoa({ client: run.stoa }));
    app.onError(
      chargeRequired({
        fallback: (error, c) => {
          seen = error;
          return c.text("config", 500);
        },
      }),
    );
    app.get("/blocked", () => {
      throw new StoaChargeRequiredError("u", "payment_required");
    });
    expect((await app.request("/blocked", {}, { STOA_STATE_SECRET: "short" })).status).toBe(500);
    expect(seen).toBeInstanceOf(StoaConfigError);
  });

  it("answers an API client 402 JSON with the checkout URL", async () => {
    const run = await meterRun("hono-402", {}, true);
    const t = buildApp(run);
    const response = await t.request("/chat", {
      method: "POST",
      headers: { ...JSON_ACCEPT, "content-type": "application/json", "x-user-id": "u" },
      body: JSON.stringify({ message: "hi" }),
    });
    expect(response.status).toBe(402);
    const body = (await response.json()) as { error: { code: string; reason: string }; checkoutUrl: string };
    expect(body.error).toMatchObject({ code: "charge_required", reason: "payment_required" });
    expect(body.checkoutUrl).toMatch(new RegExp(`^${inject("stoaServer")}/checkout/ps_[0-9a-f]{32}$`));
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("sends a browser 303 to checkout, with a return URL on the return route carrying state", async () => {
    const run = await meterRun("hono-303", {}, true);
    const t = buildApp(run);
    const { sessionId, back } = await blockedPage(run, t);
    expect(sessionId).toMatch(/^ps_/);
    const url = new URL(back, "http://localhost");
    expect(url.pathname).toBe("/stoa/return");
    expect(url.searchParams.get("state")?.split(".")).toHaveLength(3);
  });

  it("lets the app take over", async () => {
    const run = await meterRun("hono-take", {}, true);
    const t = buildApp(run, {
      charge: { onChargeRequired: (c, error, checkoutUrl) => c.json({ mine: error.userId, checkoutUrl }, 402) },
    });
    const response = await t.request("/page", { headers: { ...HTML, "x-user-id": "u" } });
    expect(response.status).toBe(402);
    expect(await response.json()).toMatchObject({ mine: "u", checkoutUrl: expect.stringContaining("/checkout/") });
  });

  it("answers 409 retry when Stoa says nothing is owed", async () => {
    const run = await meterRun("hono-notreq", {}, true);
    await configureStoa(run.runId, { members: { paying: { paid: true, balanceUsd: 10 } } });
    const t = buildApp(run);
    t.app.get("/stale", () => {
      throw new StoaChargeRequiredError("paying", "payment_required");
    });
    const response = await t.request("/stale");
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: { code: "retry" }, checkoutUrl: null });
  });

  it("hands a failure to start the payment to the fallback", async () => {
    const run = await meterRun("hono-badreturn", {}, true);
    const seen: unknown[] = [];
    const t = buildApp(run, {
      charge: {
        fallback: (error, c) => {
          seen.push(error);
          return c.text("down", 503);
        },
      },
    });
    // plain http on a public host: refused as a returnUrl before anything is sent
    const response = await t.app.request("http://app.example/page", { headers: { ...HTML, ...AS_U } });
    expect(response.status).toBe(503);
    expect(seen[0]).toBeInstanceOf(StoaConfigError);
  });

  it("passes other errors on untouched", async () => {
    const run = await meterRun("hono-other", {}, true);
    const t = buildApp(run);
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const boom = await t.request("/boom", { headers: HTML });
    expect(log).toHaveBeenCalledOnce();
    log.mockRestore();
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe("Internal Server Error");
    const teapot = await t.request("/teapot");
    expect(teapot.status).toBe(418);
    expect(await teapot.text()).toBe("short and stout");
    const seen: string[] = [];
    const custom = buildApp(run, {
      charge: {
        fallback: (error, c) => {
          seen.push(error.message);
          return c.text("mine", 503);
        },
      },
    });
    expect((await custom.request("/boom")).status).toBe(503);
    expect(seen).toEqual(["boom"]);
  });
});

describe("paymentReturn()", () => {
  it("resumes a GET: 303 back to the original URL, once", async () => {
    const run = await meterRun("hono-get", {}, true);
    const t = buildApp(run);
    const { sessionId, back } = await blockedPage(run, t);
    await completePaymentSession(run.runId, sessionId);
    const response = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("http://localhost/page?tab=1");
    const again = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toContain("text/html");
    const json = await t.request(back, { headers: AS_U });
    expect(await json.json()).toMatchObject({ error: { code: "state_used" } });
    // the paid user now goes through
    const page = await t.request("/page?tab=1", { headers: { ...HTML, "x-user-id": "u" } });
    expect(await page.text()).toBe("Hello!");
  });

  it("refuses a return with no state or no session id, in HTML or JSON", async () => {
    const run = await meterRun("hono-nostate", {}, true);
    const t = buildApp(run);
    const html = await t.request("/stoa/return?stoa_session_id=ps_1", { headers: HTML });
    expect(html.status).toBe(400);
    expect(html.headers.get("content-type")).toContain("text/html");
    const json = await t.request("/stoa/return?state=x");
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: { code: "invalid_return" } });
  });

  it("refuses forged, expired, long-lived, exp-less and wrong-audience states", async () => {
    const run = await meterRun("hono-forged", {}, true);
    const t = buildApp(run);
    const { sessionId } = await blockedPage(run, t);
    await completePaymentSession(run.runId, sessionId);
    const base = { sub: "u", jti: "j1", aud: STATE_AUDIENCE };
    const cases: [string, string][] = [
      [await state(base, new TextEncoder().encode("another-secret-0123456789abcdef-xyz")), "invalid_state"],
      [await state(base, KEY, "-1h"), "expired_state"],
      [await state(base, KEY, "2h"), "invalid_state"],
      [await state(base, KEY, ""), "invalid_state"],
      [await state({ ...base, aud: "stoa:member-registration" }), "invalid_state"],
      ["not.a.jwt", "invalid_state"],
    ];
    for (const [token, code] of cases) {
      const response = await t.request(`/stoa/return?state=${token}&stoa_session_id=${sessionId}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code } });
    }
    expect(t.resumed).toEqual([]);
  });

  it("refuses a session of another user, and an unknown session", async () => {
    const run = await meterRun("hono-other-user", {}, true);
    const t = buildApp(run);
    const { back } = await blockedPage(run, t);
    const theirs = await run.stoa.createPaymentSession({ userId: "other", returnUrl: "http://localhost/x" });
    await completePaymentSession(run.runId, theirs.id);
    const url = new URL(back, "http://localhost");
    url.searchParams.set("stoa_session_id", theirs.id);
    const response = await t.request(url.pathname + url.search, { headers: HTML });
    expect(response.status).toBe(403);
    url.searchParams.set("stoa_session_id", "ps_nope");
    const unknown = await t.request(url.pathname + url.search);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: "invalid_session" } });
  });

  it("refuses a session that is not complete, and keeps the state for when it is", async () => {
    const run = await meterRun("hono-open", {}, true);
    const t = buildApp(run);
    const { sessionId, back } = await blockedPage(run, t);
    const early = await t.request(back, { headers: AS_U });
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ error: { code: "payment_incomplete" } });
    await completePaymentSession(run.runId, sessionId);
    expect((await t.request(back, { headers: AS_U })).status).toBe(303);
  });

  it("resumes only for the signed-in user who was blocked", async () => {
    const run = await meterRun("hono-who", {}, true);
    const t = buildApp(run);
    const { sessionId, back } = await blockedPage(run, t);
    await completePaymentSession(run.runId, sessionId);
    const stranger = await t.request(back, { headers: { "x-user-id": "mallory" } });
    expect(stranger.status).toBe(403);
    expect(await stranger.json()).toMatchObject({ error: { code: "user_mismatch" } });
    expect((await t.request(back, { headers: AS_U })).status).toBe(303);
    expect(() => paymentReturn({ secret: SECRET, onResume: (c) => c.text("x") })).toThrow(StoaConfigError);
  });

  it("refuses a return target on another origin", async () => {
    const run = await meterRun("hono-origin", {}, true);
    const inner = memoryStore();
    // a store that hands back a record pointing elsewhere
    const store: ResumeStore = {
      put: (key, _value, ttl) => inner.put(key, JSON.stringify({ m: "GET", u: "//evil.example/x" }), ttl),
      take: (key) => inner.take(key),
    };
    const t = buildApp(run, { store });
    const { sessionId, back } = await blockedPage(run, t);
    await completePaymentSession(run.runId, sessionId);
    const response = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(response.status).toBe(400);
    expect(response.headers.get("location")).toBeNull();
  });

  it("drops a body over the limit: back to /, nothing replayed", async () => {
    const run = await meterRun("hono-big", {}, true);
    const t = buildApp(run, { charge: { maxBodyBytes: 64 } });
    const blocked = await t.request("/chat", {
      method: "POST",
      headers: { ...HTML, "content-type": "application/json", "x-user-id": "u" },
      body: JSON.stringify({ message: "x".repeat(100) }),
    });
    expect(blocked.status).toBe(303);
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    await completePaymentSession(run.runId, sessionId);
    const response = await t.request(await returnPath(run, sessionId), { headers: { ...HTML, ...AS_U } });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("http://localhost/");
    expect(t.resumed).toEqual([]);
  });
});

describe("the whole flow", () => {
  it("a blocked chat is paid for, resumed, succeeds and is metered once", async () => {
    const run = await meterRun("hono-e2e", {}, true);
    await configureStoa(run.runId, { members: { paying: { paid: true, balanceUsd: 10 } } });
    const t = buildApp(run);
    const init = (user: string): RequestInit => ({
      method: "POST",
      headers: { ...HTML, "content-type": "application/json", "x-user-id": user },
      body: JSON.stringify({ message: "Say hello" }),
    });
    // a paying user is not blocked
    expect((await t.request("/chat", init("paying"))).status).toBe(200);

    const blocked = await t.request("/chat", init("u"));
    expect(blocked.status).toBe(303);
    const checkoutUrl = blocked.headers.get("location") ?? "";
    expect(checkoutUrl).toContain("/checkout/");
    const sessionId = sessionIdOf(checkoutUrl);
    expect((await run.events()).filter((e) => e.userId === "u")).toEqual([]);

    await completePaymentSession(run.runId, sessionId);
    const back = await t.request(await returnPath(run, sessionId), { headers: { ...HTML, "x-user-id": "u" } });
    expect(back.status).toBe(200);
    expect(await back.json()).toEqual({ answer: "Hello!" });
    expect(t.resumed).toHaveLength(1);
    expect(t.resumed[0]).toMatchObject({ userId: "u", sessionId });
    expect(t.resumed[0]?.request.method).toBe("POST");
    expect(t.resumed[0]?.request.url).toBe("http://localhost/chat");
    expect(t.resumed[0]?.request.headers.get("content-type")).toBe("application/json");

    await Promise.all(t.ctx.pending);
    const events = await run.events();
    expect(events.filter((e) => e.userId === "u")).toHaveLength(1);
    expect(events.filter((e) => e.userId === "paying")).toHaveLength(1);
    expect((await providerRequests(run.runId)).length).toBe(2);
  });
});

/** A fake Workers KV namespace. */
function fakeKv() {
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

describe("kvStore()", () => {
  it("puts with a TTL of at least 60 s and takes once", async () => {
    const kv = fakeKv();
    const map = kv.map;
    const store = kvStore(kv);
    await store.put("a", "1", 10);
    expect(map.get("stoa:resume:a")?.ttl).toBe(60);
    expect(await store.take("a")).toBe("1");
    expect(await store.take("a")).toBeNull();
  });

  it("serves the flow from c.env through a store function", async () => {
    const run = await meterRun("hono-kv", {}, true);
    const kv = fakeKv();
    const store = (c: { env: { RESUME: ReturnType<typeof fakeKv> } }) => kvStore(c.env.RESUME);
    const app = new Hono<{ Bindings: { RESUME: ReturnType<typeof fakeKv> } }>();
    app.use(stoa({ client: run.stoa }));
    app.onError(chargeRequired({ secret: SECRET, store }));
    app.get("/stoa/return", paymentReturn({ secret: SECRET, store }));
    app.get("/page", () => {
      throw new StoaChargeRequiredError("u", "payment_required");
    });
    const env = { RESUME: kv };
    const blocked = await app.request("/page", { headers: HTML }, env);
    expect(blocked.status).toBe(303);
    expect(kv.map.size).toBe(1);
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    await completePaymentSession(run.runId, sessionId);
    const back = await app.request(await returnPath(run, sessionId), { headers: HTML }, env);
    expect(back.headers.get("location")).toBe("http://localhost/page");
    expect(kv.map.size).toBe(0);
  });

  it("memoryStore forgets expired records", async () => {
    const store = memoryStore();
    await store.put("a", "1", 0);
    expect(await store.take("a")).toBeNull();
  });
});
