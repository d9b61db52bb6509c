/**
 * `chargeRequired()`: the answer to a blocked call (402 JSON or 303 to
 * checkout), its options checked at set-up, one payment session and one
 * stored record per user however often they are blocked, and the default
 * store shared with `paymentReturn()`.
 */
import { Hono } from "hono";
import OpenAI from "openai";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import {
  chargeRequired,
  kvStore,
  memoryStore,
  meteredFetch,
  paymentReturn,
  StoaStoreError,
  StoaStoreFullError,
  stoa,
} from "../../src/hono/index.ts";
import { StoaChargeRequiredError, StoaConfigError } from "../../src/index.ts";
import { meterRun, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { providerRequests } from "../support/provider.ts";
import { completePaymentSession, configureStoa, stoaBase, stoaReceived } from "../support/stoa.ts";
import { AS_U, blockedPage, buildApp, fakeKv, HTML, JSON_ACCEPT, returnPath, SECRET, sessionIdOf } from "./app.ts";

afterEach(() => {
  vi.useRealTimers();
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

describe("chargeRequired() set-up", () => {
  it("refuses a returnPath that could leave the origin, as strictly as a request path", () => {
    const bad = [
      "/\\evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "//evil.example",
      "https://evil.example/x",
      "stoa/return",
      "/stoa\\return",
      "/stoa/\u0000return",
      "",
    ];
    for (const returnPath of bad) {
      expect(() => chargeRequired({ secret: SECRET, returnPath }), JSON.stringify(returnPath)).toThrow(StoaConfigError);
      expect(() => paymentReturn({ secret: SECRET, returnPath }), JSON.stringify(returnPath)).toThrow(StoaConfigError);
    }
    expect(() => chargeRequired({ secret: SECRET, returnPath: "/billing/stoa-return" })).not.toThrow();
  });
});

describe("one user blocked many times", () => {
  /** An app whose POST /act is blocked for the x-user-id, with `store`. */
  function blockedApp(run: Awaited<ReturnType<typeof meterRun>>, store: ReturnType<typeof memoryStore>) {
    const seen: Error[] = [];
    const app = new Hono();
    app.use(stoa({ client: run.stoa }));
    app.onError(
      chargeRequired({
        secret: SECRET,
        store,
        fallback: (error, c) => {
          seen.push(error);
          return c.text("refused", 503);
        },
      }),
    );
    app.post("/act", (c) => {
      throw new StoaChargeRequiredError(c.req.header("x-user-id") ?? "", "payment_required");
    });
    return { app, seen };
  }

  it("200 blocked requests with 16 kB bodies (10,000 measured once: the same) make one payment session and one stored record", async () => {
    // one half of the state's lifetime: the clock stands still in it
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.floor(Date.now() / 900_000) * 900_000 + 1000);
    const run = await meterRun("hono-flood", {}, true);
    const store = memoryStore();
    const { app } = blockedApp(run, store);
    const body = JSON.stringify({ message: "x".repeat(16 * 1024 - 16) });
    const checkoutUrls = new Set<string>();
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 2; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () =>
          app.request("/act", {
            method: "POST",
            headers: { ...JSON_ACCEPT, "content-type": "application/json", "x-user-id": "flooder" },
            body,
          }),
        ),
      );
      for (const answer of answers) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        checkoutUrls.add(((await answer.json()) as { checkoutUrl: string }).checkoutUrl);
      }
    }
    expect([...statuses]).toEqual([[402, 200]]);
    expect(checkoutUrls.size).toBe(1);
    const posts = (await stoaReceived(run.runId)).filter((r) => r.path === "/v1/payment-sessions");
    expect(posts).toHaveLength(200);
    expect(new Set(posts.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(store.size).toBe(1);
    // the one record: its key (32 + "." + the session id) and the JSON of the latest request
    const sessionId = sessionIdOf([...checkoutUrls][0] ?? "");
    const record = JSON.stringify({
      method: "POST",
      path: "/act",
      contentType: "application/json",
      body: btoa(body),
    });
    expect(store.bytes).toBe(33 + sessionId.length + record.length);
  }, 60_000);

  it("refuses a payment past the store's bounds with StoaStoreFullError, to the fallback", async () => {
    const run = await meterRun("hono-full", {}, true);
    const store = memoryStore({ maxRecords: 2 });
    const { app, seen } = blockedApp(run, store);
    const act = (user: string) =>
      app.request("/act", { method: "POST", headers: { ...JSON_ACCEPT, "x-user-id": user } });
    expect((await act("u1")).status).toBe(402);
    expect((await act("u2")).status).toBe(402);
    expect((await act("u3")).status).toBe(503);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(StoaStoreFullError);
    expect(seen[0]).toMatchObject({ code: "store_full", limit: "records" });
    // a user already waiting is not refused: their record is replaced
    expect((await act("u1")).status).toBe(402);
    expect(store.size).toBe(2);
  });
});

describe("the default store", () => {
  it("serves the @onstoa/sdk/hono example as written: a genuine return resumes", async () => {
    const run = await meterRun("hono-example", {}, true);
    const env = { STOA_API_KEY: STOA_KEY, STOA_BASE_URL: stoaBase(run.runId), STOA_STATE_SECRET: SECRET };
    const app = new Hono();
    app.use(stoa());
    app.onError(chargeRequired());
    app.get("/stoa/return", paymentReturn({ currentUser: (c) => c.req.header("x-user-id") }));
    app.get("/chat", async (c) => {
      const openai = new OpenAI({
        apiKey: PROVIDER_KEY,
        baseURL: run.bases().openai,
        maxRetries: 0,
        fetch: meteredFetch(c, { provider: "openai", userId: c.req.header("x-user-id") ?? "" }),
      });
      return c.json(
        await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      );
    });
    const blocked = await app.request("/chat", { headers: { ...HTML, ...AS_U } }, env);
    expect(blocked.status).toBe(303);
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    await completePaymentSession(run.runId, sessionId);
    const back = await app.request(await returnPath(run, sessionId), { headers: { ...HTML, ...AS_U } }, env);
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe("http://localhost/chat");
    const chat = await app.request("/chat", { headers: AS_U }, env);
    expect(chat.status).toBe(200);
  });
});

describe("blocks a checkout cannot lift", () => {
  it("answers 402 balance_too_low with the figures, no checkout and nothing stored, when a positive balance cannot cover the call", async () => {
    const run = await meterRun("hono-lowbalance", {}, true);
    await configureStoa(run.runId, { members: { u: { paid: true, balanceUsd: 0.001 } } });
    const store = memoryStore();
    const taken: (string | null)[] = [];
    const t = buildApp(run, { store });
    const json = await t.request("/chat", {
      method: "POST",
      headers: { ...JSON_ACCEPT, "content-type": "application/json", ...AS_U },
      body: JSON.stringify({ message: "hi" }),
    });
    expect(json.status).toBe(402);
    expect(await json.json()).toEqual({
      error: {
        code: "balance_too_low",
        reason: "insufficient_balance",
        message: "The balance does not cover this request: it needs up to $0.00984 and $0.001 is available.",
      },
      checkoutUrl: null,
      // 16 384 output tokens at $0.60/MTok and the 67 bytes of the chat's body at $0.15/MTok
      requiredUsd: 0.00984045,
      availableUsd: 0.001,
    });
    const html = await t.request("/page", { headers: { ...HTML, ...AS_U } });
    expect(html.status).toBe(402);
    expect(html.headers.get("location")).toBeNull();
    expect(await html.text()).toBe(
      "<!doctype html><title>402</title><p>The balance does not cover this request: it needs up to $0.00984 and $0.001 is available.</p>",
    );
    expect(store.size).toBe(0);
    // the app still sees the answer first
    const own = buildApp(run, {
      charge: {
        onChargeRequired: (c, error, checkoutUrl) => {
          taken.push(checkoutUrl);
          return c.json({ reason: error.reason }, 402);
        },
      },
    });
    expect(await (await own.request("/page", { headers: { ...HTML, ...AS_U } })).json()).toEqual({
      reason: "insufficient_balance",
    });
    expect(taken).toEqual([null]);
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("answers a suspended member 403 member_suspended, in JSON and HTML, without starting a checkout", async () => {
    const run = await meterRun("hono-suspended", {}, true);
    await configureStoa(run.runId, { members: { u: { paid: true, balanceUsd: 10, suspended: true } } });
    const store = memoryStore();
    const t = buildApp(run, { store });
    const json = await t.request("/chat", {
      method: "POST",
      headers: { ...JSON_ACCEPT, "content-type": "application/json", ...AS_U },
      body: JSON.stringify({ message: "hi" }),
    });
    expect(json.status).toBe(403);
    expect(await json.json()).toEqual({
      error: {
        code: "member_suspended",
        reason: "member_suspended",
        message: "This account is suspended: a payment cannot lift that.",
      },
      checkoutUrl: null,
    });
    const html = await t.request("/page", { headers: { ...HTML, ...AS_U } });
    expect(html.status).toBe(403);
    expect(html.headers.get("location")).toBeNull();
    expect(await html.text()).toContain("<p>This account is suspended: a payment cannot lift that.</p>");
    const posts = (await stoaReceived(run.runId)).filter((r) => r.path === "/v1/payment-sessions");
    expect(posts).toEqual([]);
    expect(store.size).toBe(0);
  });
});

describe("a resume record the store could not keep", () => {
  /** A fake Workers KV that, like KV, refuses a second write to one key within a second. */
  function throttledKv() {
    const kv = fakeKv();
    const last = new Map<string, number>();
    return {
      ...kv,
      async put(key: string, value: string, options: { expirationTtl: number }) {
        const now = Date.now();
        if (now - (last.get(key) ?? Number.NEGATIVE_INFINITY) < 1000) {
          throw new Error("KV PUT failed: 429 Too Many Requests");
        }
        last.set(key, now);
        await kv.put(key, value, options);
      },
    };
  }

  it("still answers 402 to each concurrent blocked request of one user, and tells onError with a StoaStoreError", async () => {
    const run = await meterRun("hono-kv-throttled", {}, true);
    const kv = throttledKv();
    const reported: unknown[] = [];
    const t = buildApp(run, {
      store: kvStore(kv),
      charge: { onError: (error) => void reported.push(error) },
    });
    const act = () =>
      t.request("/chat", {
        method: "POST",
        headers: { ...JSON_ACCEPT, "content-type": "application/json", ...AS_U },
        body: JSON.stringify({ message: "hi" }),
      });
    const answers = await Promise.all([act(), act()]);
    expect(answers.map((a) => a.status)).toEqual([402, 402]);
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { checkoutUrl: string }[];
    expect(new Set(bodies.map((b) => b.checkoutUrl)).size).toBe(1);
    expect(kv.map.size).toBe(1);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(StoaStoreError);
    expect(reported[0]).toMatchObject({
      code: "store_error",
      message:
        "The resume store failed to keep the blocked request (KV PUT failed: 429 Too Many Requests): this request will not be resumed after payment.",
    });
    expect((reported[0] as Error).cause).toEqual(new Error("KV PUT failed: 429 Too Many Requests"));
  });
});

describe("a user blocked again just after paying", () => {
  it("is not sent back to the completed checkout that Stoa's idempotency slot replays", async () => {
    // one 2-minute idempotency slot and one half of the state's lifetime: the clock stands still in both
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.floor(Date.now() / 1_800_000) * 1_800_000 + 1000);
    const run = await meterRun("hono-replayed", {}, true);
    const t = buildApp(run);
    // a stale "cannot be charged" (another isolate's) blocks the user again in the same slot
    t.app.get("/stale", () => {
      throw new StoaChargeRequiredError("u", "payment_required");
    });
    const { sessionId } = await blockedPage(run, t, "/page");
    await completePaymentSession(run.runId, sessionId);
    const again = await t.request("/stale", { headers: { ...HTML, ...AS_U } });
    expect(again.headers.get("location")).toBeNull();
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("Nothing is owed any more: try again.");
    const json = await t.request("/stale", { headers: AS_U });
    expect(await json.json()).toEqual({
      error: { code: "retry", message: "Nothing is owed any more: try again." },
      checkoutUrl: null,
    });
  });
});
