/**
 * What the local Stoa server does beyond holding events: the usage summary
 * (`GET /v1/members/{userId}/usage`), debits at its price table or at the
 * provider's own cost, the checkout that pays a session and sends the
 * browser back, and the usage pages. Through plain `fetch`, each run a
 * project of its own (`/t/<runId>` on the server).
 */
import { describe, expect, inject, it } from "vitest";
import { chartWindow } from "../../examples/stoa-server/app.ts";
import { newRunId } from "../support/provider.ts";
import { completePaymentSession, configureStoa, stoaBase, stoaCall, stoaMembers } from "../support/stoa.ts";
import { usageEvent } from "../support/usage-event.ts";

/** A call to `runId`'s API. */
const call = (runId: string, method: "GET" | "POST", path: string, body?: unknown) =>
  stoaCall(runId, method, path, body);

const USAGE = (input: number, output: number, more: Record<string, number> = {}) => ({
  inputTokens: input,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  audioInputTokens: 0,
  outputTokens: output,
  audioOutputTokens: 0,
  reasoningTokens: 0,
  webSearchRequests: 0,
  ...more,
});

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe("local Stoa server: GET /v1/members/{userId}/usage", () => {
  it("sums the user's events by model, with the price-table, provider and missing costs", async () => {
    const runId = newRunId("susage");
    const now = Date.now();
    const events = [
      // gpt-4o-mini at $0.15 / $0.075 cached / $0.60 per million: 1000·0.15 + 2000·0.075 + 500·0.6 = 600 µ$
      usageEvent({
        userId: "u",
        occurredAt: iso(now - DAY),
        usage: USAGE(1000, 500, { cacheReadTokens: 2000, reasoningTokens: 100 }),
      }),
      usageEvent({ userId: "u", occurredAt: iso(now - 2 * DAY), usage: USAGE(10, 20) }), // 1.5 + 12 = 13.5 µ$
      usageEvent({
        userId: "u",
        provider: "openrouter",
        model: "anthropic/claude-sonnet-5",
        requestedModel: "anthropic/claude-sonnet-5",
        occurredAt: iso(now - DAY),
        usage: USAGE(7, 3),
        costUsd: 0.0123,
      }),
      usageEvent({
        userId: "u",
        provider: "acme",
        model: "mystery-1",
        requestedModel: "mystery-1",
        occurredAt: iso(now - DAY),
        usage: USAGE(5, 5),
      }),
      usageEvent({ userId: "u", occurredAt: iso(now - 40 * DAY), usage: USAGE(1, 1) }), // outside 30 days
      usageEvent({ userId: "someone-else", occurredAt: iso(now - DAY), usage: USAGE(9, 9) }),
    ];
    expect((await call(runId, "POST", "/v1/usage/events", { events })).body).toMatchObject({ accepted: 6 });

    const { status, body } = await call(runId, "GET", "/v1/members/u/usage");
    expect(status).toBe(200);
    expect(body).toEqual({
      userId: "u",
      from: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      to: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      events: 4,
      usage: USAGE(1000 + 10 + 7 + 5, 500 + 20 + 3 + 5, { cacheReadTokens: 2000, reasoningTokens: 100 }),
      costUsd: 0.0006 + 0.0000135 + 0.0123,
      byModel: [
        { provider: "acme", model: "mystery-1", events: 1, usage: USAGE(5, 5), costUsd: null },
        {
          provider: "openai",
          model: "gpt-4o-mini-2024-07-18",
          events: 2,
          usage: USAGE(1010, 520, { cacheReadTokens: 2000, reasoningTokens: 100 }),
          costUsd: 0.0006135,
        },
        { provider: "openrouter", model: "anthropic/claude-sonnet-5", events: 1, usage: USAGE(7, 3), costUsd: 0.0123 },
      ],
    });
    expect(Date.parse(body.to as string) - Date.parse(body.from as string)).toBe(30 * DAY);

    const window = await call(
      runId,
      "GET",
      `/v1/members/u/usage?from=${encodeURIComponent(iso(now - 41 * DAY))}&to=${encodeURIComponent(iso(now - 1.5 * DAY))}`,
    );
    expect(window.body).toMatchObject({ events: 2, usage: USAGE(11, 21), costUsd: 0.00001425 }); // 13.5 + 0.75 µ$
  });

  it("answers a user with no events with zeros and a null cost, and 400 to bad times", async () => {
    const runId = newRunId("susage0");
    const empty = await call(runId, "GET", `/v1/members/${encodeURIComponent("nobody/ä")}/usage`);
    expect(empty.body).toMatchObject({ userId: "nobody/ä", events: 0, usage: USAGE(0, 0), costUsd: null, byModel: [] });
    for (const query of [
      "from=yesterday",
      "to=2026-13-01T00:00:00Z",
      "from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z",
    ]) {
      const answer = await call(runId, "GET", `/v1/members/u/usage?${query}`);
      expect([answer.status, answer.body]).toEqual([
        400,
        { error: { type: "invalid_request", code: "invalid_request", message: expect.any(String) } },
      ]);
    }
    const response = await fetch(`${stoaBase(runId)}/v1/members/u/usage`);
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });
});

describe("local Stoa server: the usage summary's window", () => {
  it("counts from inclusive and to exclusive", async () => {
    const runId = newRunId("swindow");
    const [from, to] = [Date.parse("2026-11-20T00:00:00Z"), Date.parse("2026-11-21T00:00:00Z")];
    const at = (ms: number, input: number) => usageEvent({ userId: "w", occurredAt: iso(ms), usage: USAGE(input, 0) });
    await call(runId, "POST", "/v1/usage/events", {
      events: [at(from - 1, 1), at(from, 10), at(to - 1, 100), at(to, 1000)],
    });
    const q = `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
    const { body } = await call(runId, "GET", `/v1/members/w/usage?${q}`);
    // gpt-4o-mini input at $0.15 per million: 110 tokens
    expect(body).toMatchObject({
      from: "2026-11-20T00:00:00Z",
      to: "2026-11-21T00:00:00Z",
      events: 2,
      usage: USAGE(110, 0),
      costUsd: 0.0000165,
    });
  });

  it("has a null costUsd when none of its events has a cost, and sums only the priced ones otherwise", async () => {
    const runId = newRunId("sunpriced");
    const mystery = { provider: "acme", model: "mystery-1", requestedModel: "mystery-1", userId: "m" };
    await call(runId, "POST", "/v1/usage/events", {
      events: [usageEvent({ ...mystery, usage: USAGE(5, 5) }), usageEvent({ ...mystery, usage: USAGE(1, 1) })],
    });
    const window = `from=2026-11-01T00%3A00%3A00Z&to=2026-12-01T00%3A00%3A00Z`;
    expect((await call(runId, "GET", `/v1/members/m/usage?${window}`)).body).toMatchObject({
      events: 2,
      usage: USAGE(6, 6),
      costUsd: null,
      byModel: [{ provider: "acme", model: "mystery-1", events: 2, usage: USAGE(6, 6), costUsd: null }],
    });
    await call(runId, "POST", "/v1/usage/events", {
      events: [usageEvent({ ...mystery, provider: "openrouter", costUsd: 0.25 })],
    });
    expect((await call(runId, "GET", `/v1/members/m/usage?${window}`)).body).toMatchObject({
      events: 3,
      costUsd: 0.25,
    });
  });
});

describe("local Stoa server: balances", () => {
  it("debits each accepted event once, at the price table or the provider's cost, down to insufficient_balance", async () => {
    const runId = newRunId("sdebit");
    await configureStoa(runId, { members: { u: { paid: true, balanceUsd: 0.01 } } });
    const priced = usageEvent({ userId: "u", usage: USAGE(10_000, 10_000) }); // 1500 + 6000 µ$
    const first = await call(runId, "POST", "/v1/usage/events", { events: [priced] });
    expect(first.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const again = await call(runId, "POST", "/v1/usage/events", { events: [priced] });
    expect(again.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
    expect((await stoaMembers(runId)).u?.balanceUsd).toBe(0.0025);
    expect((await call(runId, "GET", "/v1/members/u/chargeability")).body).toMatchObject({ chargeable: true });

    const reported = usageEvent({ userId: "u", provider: "openrouter", costUsd: 0.003 });
    await call(runId, "POST", "/v1/usage/events", { events: [reported] });
    expect((await stoaMembers(runId)).u?.balanceUsd).toBe(-0.0005);
    expect((await call(runId, "GET", "/v1/members/u/chargeability")).body).toEqual({
      userId: "u",
      chargeable: false,
      reason: "insufficient_balance",
      ttlSeconds: 0,
    });
  });
});

describe("local Stoa server: money stays exact", () => {
  it("rejects a cost of 1e300 and a count of 2^53 - 1, so the member still pays $25 and becomes chargeable", async () => {
    const runId = newRunId("shuge");
    await configureStoa(runId, { members: { u: { paid: false } } });
    const events = [
      usageEvent({ userId: "u", provider: "openrouter", costUsd: 1e300 }),
      usageEvent({ userId: "u", usage: USAGE(2 ** 53 - 1, 0) }),
    ];
    const answer = await call(runId, "POST", "/v1/usage/events", { events });
    expect(answer.body).toEqual({
      accepted: 0,
      duplicates: 0,
      rejected: events.map(({ id }) => ({ id, code: "invalid_field", message: expect.any(String) })),
    });
    expect((await stoaMembers(runId)).u?.balanceUsd).toBe(0);
    const session = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: "http://localhost/r" });
    await completePaymentSession(runId, session.body.id as string, 25);
    expect((await stoaMembers(runId)).u).toMatchObject({ paid: true, balanceUsd: 25 });
    expect((await call(runId, "GET", "/v1/members/u/chargeability")).body).toMatchObject({ chargeable: true });
  });
});

describe("local Stoa server: checkout", () => {
  const RETURN = "http://localhost:8787/stoa/return?state=abc";

  it("shows the session, pays the amount picked, and sends the browser back with stoa_session_id", async () => {
    const runId = newRunId("scheckout");
    await configureStoa(runId, { members: { u: { paid: false } } });
    const session = (await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: RETURN })).body;
    const checkoutUrl = session.checkoutUrl as string;
    expect(checkoutUrl).toBe(`${inject("stoaServer")}/checkout/${session.id}`);

    const page = await fetch(checkoutUrl);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    for (const id of ["pay", "amount-5", "amount-10", "amount-25"]) expect(html).toContain(`data-testid="${id}"`);

    for (const amountUsd of ["0", "abc", "-5", "10001"]) {
      const refused = await fetch(checkoutUrl, { method: "POST", body: new URLSearchParams({ amountUsd }) });
      expect(refused.status).toBe(400);
      await refused.body?.cancel();
    }
    const paid = await fetch(checkoutUrl, {
      method: "POST",
      body: new URLSearchParams({ amountUsd: "25" }),
      redirect: "manual",
    });
    expect(paid.status).toBe(303);
    expect(paid.headers.get("location")).toBe(`${RETURN}&stoa_session_id=${session.id}`);
    await paid.body?.cancel();
    expect((await call(runId, "GET", `/v1/payment-sessions/${session.id}`)).body).toMatchObject({ status: "complete" });
    expect((await stoaMembers(runId)).u).toMatchObject({ paid: true, balanceUsd: 25 });

    // paying twice does nothing: back to the page, which now says complete
    const twice = await fetch(checkoutUrl, {
      method: "POST",
      body: new URLSearchParams({ amountUsd: "5" }),
      redirect: "manual",
    });
    expect([twice.status, twice.headers.get("location")]).toEqual([303, `/checkout/${session.id}`]);
    await twice.body?.cancel();
    expect((await stoaMembers(runId)).u?.balanceUsd).toBe(25);
    const done = await (await fetch(checkoutUrl)).text();
    expect(done).toContain('data-value="complete"');
    expect(done).not.toContain('data-testid="pay"');

    const unknown = await fetch(`${inject("stoaServer")}/checkout/ps_nope`);
    expect(unknown.status).toBe(404);
    await unknown.body?.cancel();
  });
});

describe("local Stoa server: usage pages", () => {
  it("shows a project's members, a member's exact totals and the price table; 404 for strangers", async () => {
    const runId = newRunId("spages");
    await configureStoa(runId, { members: { "ada <3": { paid: true, balanceUsd: 2 } } });
    await call(runId, "POST", "/v1/usage/events", {
      events: [usageEvent({ userId: "ada <3", occurredAt: iso(Date.now() - 1000), usage: USAGE(1234, 5678) })],
    });
    const base = `${inject("stoaServer")}/t/${runId}`;

    const overview = await (await fetch(`${base}/`)).text();
    expect(overview).toContain('data-testid="member-row"');
    expect(overview).toContain("ada &lt;3");
    expect(overview).not.toContain("ada <3");

    const member = await fetch(`${base}/users/${encodeURIComponent("ada <3")}`);
    expect(member.status).toBe(200);
    const html = await member.text();
    expect(html).toContain('data-testid="total-input" data-value="1234"');
    expect(html).toContain('data-testid="total-output" data-value="5678"');
    expect(html).toContain('data-testid="total-events" data-value="1"');
    expect(html).toContain('data-testid="event-row"');
    expect(html).toMatch(/<svg[^>]*role="img"/);

    const prices = await (await fetch(`${base}/prices`)).text();
    expect(prices).toContain('data-testid="price-row"');
    expect(prices).toContain("gpt-4o-mini");

    for (const path of [`${base}/users/nobody`, `${inject("stoaServer")}/t/no-such-project-${runId}/`]) {
      const missing = await fetch(path);
      expect(missing.status).toBe(404);
      await missing.body?.cancel();
    }
  });
});

describe("local Stoa server: chart windows", () => {
  const now = Date.parse("2026-11-27T18:30:15Z");
  const HOUR = 3_600_000;

  it("charts by minute under 2 hours (at least 30 minutes), by hour under 2 days, then by day (at most 60)", () => {
    expect(chartWindow(null, now)).toEqual({ from: now - 29 * 60_000, to: now + 1, bucket: "minute" });
    expect(chartWindow(now - 5 * 60_000, now)).toMatchObject({ from: now - 29 * 60_000, bucket: "minute" });
    expect(chartWindow(now - 90 * 60_000, now)).toMatchObject({ from: now - 90 * 60_000, bucket: "minute" });
    expect(chartWindow(now - 2 * HOUR, now)).toMatchObject({ from: now - 2 * HOUR, bucket: "hour" });
    expect(chartWindow(now - 47 * HOUR, now)).toMatchObject({ bucket: "hour" });
    expect(chartWindow(now - 3 * DAY, now)).toMatchObject({ from: now - 3 * DAY, bucket: "day" });
    expect(chartWindow(now - 400 * DAY, now)).toMatchObject({ from: now - 59 * DAY, bucket: "day" });
  });

  it("draws every minute of the window, the empty ones as zero-height bars", async () => {
    const runId = newRunId("schart");
    const at = Date.now() - 10 * 60_000;
    await call(runId, "POST", "/v1/usage/events", {
      events: [usageEvent({ userId: "c", occurredAt: iso(at), usage: USAGE(1000, 1000) })],
    });
    const html = await (await fetch(`${inject("stoaServer")}/t/${runId}/users/c`)).text();
    const bars = [...html.matchAll(/<rect class="bar"[^>]*data-value="([^"]*)"/g)].map((m) => Number(m[1]));
    expect(bars.length).toBeGreaterThanOrEqual(30);
    expect(bars.filter((v) => v > 0)).toEqual([0.00075]); // 1000 · $0.15 + 1000 · $0.60 per million
  });
});
