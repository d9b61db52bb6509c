/**
 * `paymentReturn()`: the checks of a return (state, session, user), the
 * replay, single use under concurrency, and one blocked chat that is paid
 * for and resumed.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  defaultRenderOutcome,
  kvStore,
  memoryStore,
  type PaymentOutcome,
  paymentReturn,
  type ResumeStore,
  STATE_AUDIENCE,
} from "../../src/hono/index.ts";
import { StoaChargeRequiredError, StoaConfigError } from "../../src/index.ts";
import { meterRun } from "../support/meter.ts";
import { providerRequests } from "../support/provider.ts";
import { completePaymentSession, configureStoa } from "../support/stoa.ts";
import { AS_U, blockedPage, buildApp, fakeKv, HTML, KEY, returnPath, SECRET, sessionIdOf, state } from "./app.ts";

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

describe("paymentReturn() outcome pages", () => {
  it("answers a cancelled checkout with a styled page that links back, JSON for API clients", async () => {
    const run = await meterRun("hono-cancel-page", {}, true);
    const t = buildApp(run);
    const { back } = await blockedPage(run, t);
    // checkout's "cancel" link: back to the app with the session still open
    const page = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(page.status).toBe(409);
    expect(page.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    const html = await page.text();
    expect(html).toContain('<main data-testid="outcome" data-kind="cancelled" data-code="payment_incomplete">');
    expect(html).toContain("<h1>Payment not completed</h1>");
    expect(html).toContain("<p>The payment is not complete (open).</p>");
    expect(html).toContain('<a class="button" href="/" data-testid="outcome-back">Back to the app</a>');
    expect(html).toContain('<link rel="icon" href="data:,">');
    expect(html).toContain("<style>");
    const json = await t.request(back, { headers: AS_U });
    expect(json.status).toBe(409);
    expect(await json.json()).toEqual({
      error: { code: "payment_incomplete", message: "The payment is not complete (open)." },
    });
    expect(t.resumed).toEqual([]);
  });

  it("hands renderOutcome every outcome: cancelled, used, expired, failed", async () => {
    const run = await meterRun("hono-outcomes", {}, true);
    const seen: PaymentOutcome[] = [];
    const t = buildApp(run, {
      back: {
        renderOutcome(c, outcome) {
          seen.push(outcome);
          return outcome.kind === "used" ? c.redirect("/", 303) : defaultRenderOutcome(c, outcome);
        },
      },
    });
    const { sessionId, back } = await blockedPage(run, t);
    const cancelled = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(cancelled.status).toBe(409);
    await completePaymentSession(run.runId, sessionId, 10);
    const resumed = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(resumed.status).toBe(303);
    expect(resumed.headers.get("location")).toBe("http://localhost/page?tab=1");
    // a reload of the used link: the app's own answer
    const reload = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(reload.status).toBe(303);
    expect(reload.headers.get("location")).toBe("/");
    const expired = await t.request(
      `/stoa/return?state=${await state({ sub: "u", jti: "j1", aud: STATE_AUDIENCE }, KEY, "-1h")}&stoa_session_id=${sessionId}`,
      { headers: HTML },
    );
    expect(expired.status).toBe(400);
    expect(await expired.text()).toContain("<h1>This payment link has expired</h1>");
    const forged = await t.request(`/stoa/return?state=not.a.jwt&stoa_session_id=${sessionId}`, { headers: HTML });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('data-kind="failed" data-code="invalid_state"');

    expect(seen.map((o) => [o.kind, o.status, o.code, o.userId, o.sessionId, o.session?.status])).toEqual([
      ["cancelled", 409, "payment_incomplete", "u", sessionId, "open"],
      ["used", 409, "state_used", "u", sessionId, "complete"],
      ["expired", 400, "expired_state", undefined, sessionId, undefined],
      ["failed", 400, "invalid_state", undefined, sessionId, undefined],
    ]);
  });

  it("hands onResume the completed session", async () => {
    const run = await meterRun("hono-resume-session", {}, true);
    const t = buildApp(run);
    const blocked = await t.request("/chat", {
      method: "POST",
      headers: { ...HTML, "content-type": "application/json", "x-user-id": "u" },
      body: JSON.stringify({ message: "hi" }),
    });
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    await completePaymentSession(run.runId, sessionId, 10);
    const response = await t.request(await returnPath(run, sessionId), { headers: { ...HTML, ...AS_U } });
    expect(response.status).toBe(200);
    expect(t.resumed.map((r) => [r.userId, r.sessionId, r.session.id, r.session.status])).toEqual([
      ["u", sessionId, sessionId, "complete"],
    ]);
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

describe("paymentReturn() single use and odd input", () => {
  for (const [name, makeStore] of [
    ["memoryStore", () => memoryStore()],
    ["kvStore", () => kvStore(fakeKv())],
  ] as const) {
    it(`of five concurrent returns with one link, one resumes (${name})`, async () => {
      const run = await meterRun(`hono-five-${name}`, {}, true);
      const t = buildApp(run, { store: makeStore() });
      const { sessionId, back } = await blockedPage(run, t);
      await completePaymentSession(run.runId, sessionId);
      const answers = await Promise.all([1, 2, 3, 4, 5].map(() => t.request(back, { headers: AS_U })));
      expect(answers.map((a) => a.status).sort()).toEqual([303, 409, 409, 409, 409]);
    });
  }

  it("answers a session id of ., .. or %2e%2e with 400 invalid_session, not 500", async () => {
    const run = await meterRun("hono-dots", {}, true);
    const t = buildApp(run);
    const { back } = await blockedPage(run, t);
    const token = new URL(back, "http://localhost").searchParams.get("state") ?? "";
    for (const id of [".", "..", "%2e%2e", "%2E", "ps_1%2f..", "ps%00"]) {
      const response = await t.request(`/stoa/return?state=${token}&stoa_session_id=${id}`, { headers: AS_U });
      expect(response.status, id).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_session" } });
    }
  });

  it("cannot resume a later blocked action with the link of a session already paid", async () => {
    const run = await meterRun("hono-later", {}, true);
    const store = memoryStore();
    const t = buildApp(run, { store });
    const first = await blockedPage(run, t, "/page?n=1");
    await completePaymentSession(run.runId, first.sessionId);
    expect((await t.request(first.back, { headers: AS_U })).status).toBe(303);
    // the same user blocked again later, under a new session: its record sits beside the first's key
    const token = new URL(first.back, "http://localhost").searchParams.get("state") ?? "";
    const { jti } = JSON.parse(atob((token.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as {
      jti: string;
    };
    expect(jti).toMatch(/^[A-Za-z0-9_-]{32}$/);
    await store.put(`${jti}.ps_later`, JSON.stringify({ method: "GET", path: "/page?n=2" }), 600);
    const again = await t.request(first.back, { headers: AS_U });
    expect(await again.json()).toMatchObject({ error: { code: "state_used" } });
    expect(store.size).toBe(1);
  });

  it("still resumes a record written with the short keys under the bare jti", async () => {
    const run = await meterRun("hono-legacy", {}, true);
    const inner = memoryStore();
    // what a store filled before the upgrade holds: { m, u } under the jti alone
    const store: ResumeStore = {
      put: (key, _value, ttl) =>
        inner.put(key.split(".")[0] ?? "", JSON.stringify({ m: "GET", u: "/page?old=1" }), ttl),
      take: (key) => inner.take(key),
    };
    const t = buildApp(run, { store });
    const { sessionId, back } = await blockedPage(run, t);
    await completePaymentSession(run.runId, sessionId);
    const response = await t.request(back, { headers: AS_U });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("http://localhost/page?old=1");
  });
});

describe("paymentReturn() after the link expired", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A blocked POST /chat at the start of a state's lifetime, then the clock moved 16 minutes past its end. */
  async function paidLate(label: string, pay: boolean) {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Math.floor(Date.now() / 900_000) * 900_000 + 1000;
    vi.setSystemTime(start);
    const run = await meterRun(label, {}, true);
    const seen: PaymentOutcome[] = [];
    const t = buildApp(run, {
      back: {
        renderOutcome(c, outcome) {
          seen.push(outcome);
          return defaultRenderOutcome(c, outcome);
        },
      },
    });
    const blocked = await t.request("/chat", {
      method: "POST",
      headers: { ...HTML, "content-type": "application/json", ...AS_U },
      body: JSON.stringify({ message: "hi" }),
    });
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    if (pay) await completePaymentSession(run.runId, sessionId);
    const back = await returnPath(run, sessionId);
    vi.setSystemTime(start + 1800_000 + 16 * 60_000); // the default state lives 1800 s
    return { run, t, seen, sessionId, back };
  }

  it("reads the session, says the payment went through but nothing was resumed, and resumes nothing", async () => {
    const { t, seen, sessionId, back } = await paidLate("hono-late-paid", true);
    const page = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(page.status).toBe(409);
    const html = await page.text();
    expect(html).toContain('data-kind="paid" data-code="paid_not_resumed"');
    expect(html).toContain("<h1>Payment received</h1>");
    expect(html).toContain(
      "<p>Your payment went through, but this link expired before you came back, so what you were doing was not resumed.</p>",
    );
    expect(html).not.toContain("Nothing was charged");
    const json = await t.request(back, { headers: AS_U });
    expect(json.status).toBe(409);
    expect(await json.json()).toEqual({
      error: {
        code: "paid_not_resumed",
        message:
          "Your payment went through, but this link expired before you came back, so what you were doing was not resumed.",
      },
    });
    expect(seen.map((o) => [o.kind, o.status, o.code, o.userId, o.sessionId, o.session?.status])).toEqual([
      ["paid", 409, "paid_not_resumed", "u", sessionId, "complete"],
      ["paid", 409, "paid_not_resumed", "u", sessionId, "complete"],
    ]);
    expect(t.resumed).toEqual([]);
    // the paid user now goes through
    expect((await t.request("/page", { headers: AS_U })).status).toBe(200);
  });

  it("still says expired when the session was not paid, and checks the session's user and the signed-in user", async () => {
    const { run, t, seen, sessionId, back } = await paidLate("hono-late-unpaid", false);
    const page = await t.request(back, { headers: { ...HTML, ...AS_U } });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('data-kind="expired" data-code="expired_state"');
    const stranger = await t.request(back, { headers: { "x-user-id": "mallory" } });
    expect(await stranger.json()).toEqual({
      error: { code: "user_mismatch", message: "Sign in as the user who paid to continue." },
    });
    const theirs = await run.stoa.createPaymentSession({ userId: "other", returnUrl: "http://localhost/x" });
    await completePaymentSession(run.runId, theirs.id);
    const url = new URL(back, "http://localhost");
    url.searchParams.set("stoa_session_id", theirs.id);
    const other = await t.request(url.pathname + url.search, { headers: AS_U });
    expect(await other.json()).toEqual({
      error: { code: "session_mismatch", message: "This payment belongs to another user." },
    });
    expect(seen.map((o) => [o.kind, o.status, o.code, o.userId, o.sessionId, o.session?.status])).toEqual([
      ["expired", 400, "expired_state", "u", sessionId, "open"],
      ["failed", 403, "user_mismatch", "u", sessionId, "open"],
      ["failed", 403, "session_mismatch", "u", theirs.id, undefined],
    ]);
    expect(t.resumed).toEqual([]);
  });
});

describe("paymentReturn() request bodies", () => {
  it("reads a body with no Content-Length only up to maxBodyBytes + 1, then drops it: back to /, nothing replayed", async () => {
    const run = await meterRun("hono-chunked", {}, true);
    const t = buildApp(run, { charge: { maxBodyBytes: 4096 } });
    t.app.post("/upload", (c) => {
      throw new StoaChargeRequiredError(c.req.header("x-user-id") ?? "", "payment_required");
    });
    let pulled = 0;
    let cancelled = false;
    const chunk = new Uint8Array(1024).fill(120);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === 1024) return controller.close(); // 1 MiB in all
        pulled++;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    const blocked = await t.request("/upload", {
      method: "POST",
      headers: { ...HTML, "content-type": "application/octet-stream", ...AS_U },
      body,
      duplex: "half",
    } as RequestInit);
    expect(blocked.status).toBe(303);
    // 5 KiB read (4096 + 1 bytes are passed in the 5th chunk), plus the one chunk Node's stream queues ahead
    expect([5, 6]).toContain(pulled);
    expect(cancelled).toBe(true);
    const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
    await completePaymentSession(run.runId, sessionId);
    const response = await t.request(await returnPath(run, sessionId), { headers: { ...HTML, ...AS_U } });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("http://localhost/");
    expect(t.resumed).toEqual([]);
  });

  for (const [name, makeBody] of [
    [
      "multipart",
      () => {
        const form = new FormData();
        form.set("message", "été");
        form.set("note", new File(["a file"], "note.txt", { type: "text/plain" }));
        return form;
      },
    ],
    ["urlencoded", () => new URLSearchParams({ message: "été", note: "a & b" })],
  ] as const) {
    it(`replays a ${name} form the app read with c.req.formData(): the stored type matches the stored bytes`, async () => {
      const run = await meterRun(`hono-form-${name}`, {}, true);
      const t = buildApp(run);
      t.app.post("/form", async (c) => {
        const form = await c.req.formData();
        const note = form.get("note");
        const fields = { message: form.get("message"), note: typeof note === "string" ? note : await note?.text() };
        const balance = await c.var.stoa.getBalance(c.req.header("x-user-id") ?? "");
        if (!balance.chargeable) throw new StoaChargeRequiredError(balance.userId, "payment_required");
        return c.json(fields);
      });
      const blocked = await t.request("/form", { method: "POST", headers: { ...HTML, ...AS_U }, body: makeBody() });
      expect(blocked.status).toBe(303);
      const sessionId = sessionIdOf(blocked.headers.get("location") ?? "");
      await completePaymentSession(run.runId, sessionId);
      const response = await t.request(await returnPath(run, sessionId), { headers: { ...HTML, ...AS_U } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ message: "été", note: name === "multipart" ? "a file" : "a & b" });
    });
  }
});
