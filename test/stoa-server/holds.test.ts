/**
 * The local Stoa server's prices, balances and spend holds (`stoa-api.md`,
 * 2026-12-01): the price table with its fallback, a member's balance, held
 * and available money, atomic grants (many at once never over-grant),
 * settlement of events against their hold, release, expiry (by each run's
 * clock, moved with `clockOffsetMs`), and the 2026-11-01 answers.
 */

import { describe, expect, it } from "vitest";
import { LEGACY_STOA_VERSION, STOA_VERSION } from "../../examples/stoa-server/api.ts";
import { PRICES } from "../../examples/stoa-server/prices.ts";
import { CONTRACT_FALLBACK } from "../support/contract.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, type StoaAnswer, stoaCall } from "../support/stoa.ts";
import { usageEvent } from "../support/usage-event.ts";

/** Every call here speaks the server's newest version. */
const call = (runId: string, method: "GET" | "POST", path: string, body?: unknown, version = STOA_VERSION) =>
  stoaCall(runId, method, path, body, { "stoa-version": version });

const hold = (runId: string, userId: string, body: Record<string, unknown>) =>
  call(runId, "POST", `/v1/members/${encodeURIComponent(userId)}/holds`, body);
const release = (runId: string, id: unknown) => call(runId, "POST", `/v1/holds/${String(id)}/release`, {});
const balance = async (runId: string, userId: string) =>
  (await call(runId, "GET", `/v1/members/${encodeURIComponent(userId)}/balance`)).body;
/** An event whose cost is the provider's own: exactly `costUsd`. */
const costing = (userId: string, costUsd: number, holdId?: unknown) =>
  usageEvent({ userId, provider: "openrouter", costUsd, ...(holdId !== undefined && { holdId: String(holdId) }) });
const send = (runId: string, ...events: unknown[]) => call(runId, "POST", "/v1/usage/events", { events });

const apiError = (type: string, code: string) => ({ error: { type, code, message: expect.any(String) } });
const HOLD_ID = expect.stringMatching(/^hold_[0-9a-f]{32}$/);
const TIME = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

describe("local Stoa server: GET /v1/prices", () => {
  it("answers its price table with every field, and the contract's fallback row exactly", async () => {
    const { status, body } = await call(newRunId("hprices"), "GET", "/v1/prices");
    expect(status).toBe(200);
    expect(body).toMatchObject({ currency: "USD", ttlSeconds: 3600 });
    expect(body.fallback).toEqual({ ...CONTRACT_FALLBACK });
    const rows = body.prices as Record<string, unknown>[];
    expect(rows).toHaveLength(PRICES.length);
    expect(rows[0]).toEqual({
      provider: "openai",
      model: "gpt-4o-mini",
      inputPerMTok: 0.15,
      outputPerMTok: 0.6,
      cacheReadPerMTok: 0.075,
      cacheWritePerMTok: 0.15,
      audioInputPerMTok: 0.15,
      audioOutputPerMTok: 0.6,
      webSearchPerCall: 0.01,
      maxOutputTokens: 16384,
      requestOverheadTokens: 0,
    });
    expect(rows.find((r) => r.model === "claude-sonnet-4-5")).toMatchObject({
      provider: "anthropic",
      maxOutputTokens: 64000,
      requestOverheadTokens: 346,
    });
  });
});

describe("local Stoa server: GET /v1/members/{userId}/balance", () => {
  it("answers an unknown user with zeros and payment_required, a member with balance, held and available", async () => {
    const runId = newRunId("hbal");
    expect(await balance(runId, "nobody/ä")).toEqual({
      userId: "nobody/ä",
      balanceUsd: 0,
      heldUsd: 0,
      availableUsd: 0,
      chargeable: false,
      reason: "payment_required",
    });
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 4.21 } } });
    expect((await hold(runId, "ada", { minUsd: 0.5 })).status).toBe(201);
    expect(await balance(runId, "ada")).toEqual({
      userId: "ada",
      balanceUsd: 4.21,
      heldUsd: 0.5,
      availableUsd: 3.71,
      chargeable: true,
      reason: null,
    });
  });

  it("keeps a member whose whole balance is held chargeable", async () => {
    const runId = newRunId("hbalall");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 1 } } });
    expect((await hold(runId, "ada", { minUsd: 1 })).body).toMatchObject({ granted: true, availableUsd: 0 });
    expect(await balance(runId, "ada")).toMatchObject({ availableUsd: 0, chargeable: true, reason: null });
    expect((await call(runId, "GET", "/v1/members/ada/chargeability")).body).toMatchObject({ chargeable: true });
  });
});

describe("local Stoa server: POST /v1/members/{userId}/holds", () => {
  it("grants as much of the target as is available, at least the minimum, for ttlSeconds", async () => {
    const runId = newRunId("hgrant");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 0.3 } } });
    const before = Date.now();
    const first = await hold(runId, "ada", { minUsd: 0.012, targetUsd: 0.25, ttlSeconds: 60 });
    expect([first.status, first.body]).toEqual([
      201,
      { granted: true, id: HOLD_ID, userId: "ada", amountUsd: 0.25, expiresAt: TIME, availableUsd: 0.05 },
    ]);
    const lifetime = Date.parse(first.body.expiresAt as string) - before;
    expect(lifetime).toBeGreaterThan(58_000);
    expect(lifetime).toBeLessThanOrEqual(60_000);
    // only 0.05 left: granted in part, then refused
    const second = await hold(runId, "ada", { minUsd: 0.012, targetUsd: 0.25 });
    expect([second.status, second.body]).toMatchObject([201, { granted: true, amountUsd: 0.05, availableUsd: 0 }]);
    expect(second.body.id).not.toBe(first.body.id);
    const third = await hold(runId, "ada", { minUsd: 0.000000001 });
    expect([third.status, third.body]).toEqual([
      200,
      { granted: false, userId: "ada", reason: "insufficient_balance", availableUsd: 0 },
    ]);
  });

  it("takes the target as the minimum when absent, and refuses with each reason", async () => {
    const runId = newRunId("hrefuse");
    await configureStoa(runId, {
      members: {
        rich: { paid: true, balanceUsd: 10 },
        poor: { paid: true, balanceUsd: 0.004 },
        owing: { paid: true, balanceUsd: -1 },
        unpaid: { balanceUsd: 5 },
        suspended: { paid: true, balanceUsd: 5, suspended: true },
      },
    });
    expect((await hold(runId, "rich", { minUsd: 0.123456789 })).body).toMatchObject({
      granted: true,
      amountUsd: 0.123456789,
      availableUsd: 9.876543211,
    });
    const answers = [];
    for (const userId of ["poor", "owing", "unpaid", "suspended", "stranger"]) {
      const answer = await hold(runId, userId, { minUsd: 0.012, targetUsd: 0.25 });
      answers.push([answer.status, answer.body]);
    }
    expect(answers).toEqual([
      [200, { granted: false, userId: "poor", reason: "insufficient_balance", availableUsd: 0.004 }],
      [200, { granted: false, userId: "owing", reason: "insufficient_balance", availableUsd: -1 }],
      [200, { granted: false, userId: "unpaid", reason: "payment_required", availableUsd: 0 }],
      [200, { granted: false, userId: "suspended", reason: "member_suspended", availableUsd: 5 }],
      [200, { granted: false, userId: "stranger", reason: "payment_required", availableUsd: 0 }],
    ]);
  });

  it("answers 400 invalid_request to a body out of the contract's ranges", async () => {
    const runId = newRunId("hinvalid");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 10 } } });
    for (const body of [
      {},
      { minUsd: 0 },
      { minUsd: -1 },
      { minUsd: "0.1" },
      { minUsd: 1e-10 },
      { minUsd: 1e300 },
      { minUsd: 0.2, targetUsd: 0.1 },
      { minUsd: 0.1, ttlSeconds: 9 },
      { minUsd: 0.1, ttlSeconds: 901 },
      { minUsd: 0.1, ttlSeconds: 60.5 },
    ]) {
      const answer = await hold(runId, "ada", body);
      expect([body, answer.status, answer.body]).toEqual([body, 400, apiError("invalid_request", "invalid_request")]);
    }
    expect((await hold(runId, "ada", { minUsd: 0.1, targetUsd: null, ttlSeconds: 900 })).body.amountUsd).toBe(0.1);
    expect((await hold(runId, "ada", { minUsd: 0.1, ttlSeconds: 10 })).status).toBe(201);
    expect(await balance(runId, "ada")).toMatchObject({ heldUsd: 0.2, availableUsd: 9.8 });
  });

  it("never over-grants: 50 requests at once on $1.03 get exactly $1.03 between them", async () => {
    const runId = newRunId("hrace");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 1.03 } } });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => hold(runId, "ada", { minUsd: 0.02, targetUsd: 0.1 })),
    );
    const granted = answers.filter((a) => a.status === 201).map((a) => a.body.amountUsd as number);
    const refused = answers.filter((a) => a.status === 200);
    // ten holds of 0.10 and one of the 0.03 left, in whatever order they were served
    expect(granted.toSorted()).toEqual([0.03, ...Array(10).fill(0.1)]);
    expect(refused).toHaveLength(39);
    for (const r of refused) expect(r.body).toMatchObject({ reason: "insufficient_balance", availableUsd: 0 });
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 1.03, heldUsd: 1.03, availableUsd: 0 });
  });

  it("keeps users apart: one user's holds never take another's money", async () => {
    const runId = newRunId("hapart");
    await configureStoa(runId, {
      members: { a: { paid: true, balanceUsd: 1 }, b: { paid: true, balanceUsd: 0.5 } },
    });
    const [a, b] = await Promise.all([hold(runId, "a", { minUsd: 1 }), hold(runId, "b", { minUsd: 0.5 })]);
    expect([a.body.amountUsd, b.body.amountUsd]).toEqual([1, 0.5]);
    // an event of b naming a's hold is b's, from b's balance
    await send(runId, costing("b", 0.2, a.body.id));
    expect(await balance(runId, "a")).toMatchObject({ balanceUsd: 1, heldUsd: 1, availableUsd: 0 });
    expect(await balance(runId, "b")).toMatchObject({ balanceUsd: 0.3, heldUsd: 0.5, availableUsd: -0.2 });
    expect((await release(runId, a.body.id)).body).toMatchObject({ spentUsd: 0, releasedUsd: 1 });
  });

  it("grants a stranger in a project that charges everyone in full, its figures staying 0", async () => {
    const runId = newRunId("hall");
    await configureStoa(runId, { everyoneChargeable: true });
    expect((await hold(runId, "anyone", { minUsd: 0.01, targetUsd: 2 })).body).toMatchObject({
      granted: true,
      amountUsd: 2,
      availableUsd: 0,
    });
    expect(await balance(runId, "anyone")).toEqual({
      userId: "anyone",
      balanceUsd: 0,
      heldUsd: 0,
      availableUsd: 0,
      chargeable: true,
      reason: null,
    });
  });
});

describe("local Stoa server: settling events against holds", () => {
  it("takes an event's cost from its live hold first, and release returns the rest", async () => {
    const runId = newRunId("hsettle");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 1 } } });
    const { body: h } = await hold(runId, "ada", { minUsd: 0.25 });
    // gpt-4o-mini, 10,000 input and 10,000 output tokens: 0.0015 + 0.006
    const priced = {
      ...usageEvent({ userId: "ada", usage: { ...usageEvent().usage, inputTokens: 10_000, outputTokens: 10_000 } }),
      holdId: h.id,
    };
    expect((await send(runId, priced)).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.9925, heldUsd: 0.2425, availableUsd: 0.75 });
    // a resent event settles nothing twice
    expect((await send(runId, priced)).body).toMatchObject({ duplicates: 1 });
    await send(runId, costing("ada", 0.0425, h.id));
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.95, heldUsd: 0.2, availableUsd: 0.75 });

    const released = await release(runId, h.id);
    expect([released.status, released.body]).toEqual([
      200,
      { id: h.id, amountUsd: 0.25, spentUsd: 0.05, releasedUsd: 0.2 },
    ]);
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.95, heldUsd: 0, availableUsd: 0.95 });
    // releasing again: the same figures; an event naming it now: from the balance alone
    expect((await release(runId, h.id)).body).toEqual(released.body);
    await send(runId, costing("ada", 0.1, h.id));
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.85, heldUsd: 0, availableUsd: 0.85 });
    expect((await release(runId, h.id)).body).toEqual(released.body);
  });

  it("takes the rest from the balance, even below zero, when a call cost more than its hold", async () => {
    const runId = newRunId("hover");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 0.012 } } });
    const { body: h } = await hold(runId, "ada", { minUsd: 0.01 });
    await send(runId, costing("ada", 0.05, h.id));
    expect(await balance(runId, "ada")).toEqual({
      userId: "ada",
      balanceUsd: -0.038,
      heldUsd: 0,
      availableUsd: -0.038,
      chargeable: false,
      reason: "insufficient_balance",
    });
    expect((await release(runId, h.id)).body).toEqual({ id: h.id, amountUsd: 0.01, spentUsd: 0.01, releasedUsd: 0 });
  });

  it("debits an event naming an unknown hold, or with no cost, as the contract says", async () => {
    const runId = newRunId("hunknown");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 1 } } });
    const { body: h } = await hold(runId, "ada", { minUsd: 0.5 });
    const unpriced = usageEvent({ userId: "ada", provider: "acme", model: "m", requestedModel: "m" });
    // priced by its `model` alone: a priced requestedModel does not price an event whose model has no row
    const misnamed = usageEvent({
      userId: "ada",
      provider: "openai",
      model: "mystery-1",
      requestedModel: "gpt-4o-mini",
    });
    await send(
      runId,
      costing("ada", 0.1, "hold_unknown"),
      { ...unpriced, holdId: h.id },
      { ...misnamed, holdId: h.id },
    );
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.9, heldUsd: 0.5, availableUsd: 0.4 });
    const invalid = await send(runId, { ...costing("ada", 0.1), holdId: 7 });
    expect(invalid.body).toMatchObject({
      accepted: 0,
      rejected: [{ code: "invalid_field", message: "holdId must be a string." }],
    });
  });
});

describe("local Stoa server: hold expiry and release", () => {
  it("returns a hold's unspent amount at expiresAt, and settles later events from the balance", async () => {
    const runId = newRunId("hexpiry");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 1 } } });
    const { body: h } = await hold(runId, "ada", { minUsd: 0.4, ttlSeconds: 30 });
    await send(runId, costing("ada", 0.1, h.id));
    const left = Date.parse(h.expiresAt as string) - Date.now();
    await configureStoa(runId, { clockOffsetMs: left - 1000 });
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.9, heldUsd: 0.3, availableUsd: 0.6 });
    await configureStoa(runId, { clockOffsetMs: left + 1000 });
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.9, heldUsd: 0, availableUsd: 0.9 });
    await send(runId, costing("ada", 0.2, h.id));
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.7, heldUsd: 0, availableUsd: 0.7 });
    // releasing an expired hold: the figures it expired with
    expect((await release(runId, h.id)).body).toEqual({ id: h.id, amountUsd: 0.4, spentUsd: 0.1, releasedUsd: 0.3 });
    // and the money is there to hold again
    expect((await hold(runId, "ada", { minUsd: 0.7 })).body).toMatchObject({ granted: true, availableUsd: 0 });
  });

  it("answers 404 not_found to an unknown hold or one of another project", async () => {
    const [runId, other] = [newRunId("hrel404"), newRunId("hrel404b")];
    await configureStoa(other, { members: { ada: { paid: true, balanceUsd: 1 } } });
    const { body: h } = await hold(other, "ada", { minUsd: 0.1 });
    for (const id of ["hold_nope", h.id, "hold%2F..", encodeURIComponent("höld")]) {
      const answer = await release(runId, id);
      expect([id, answer.status, answer.body]).toEqual([id, 404, apiError("not_found", "not_found")]);
    }
    expect((await release(other, h.id)).status).toBe(200);
  });
});

describe("local Stoa server: stoa-version 2026-11-01", () => {
  it("answers 404 to prices, balances and holds, and serves every older route as before", async () => {
    const runId = newRunId("hlegacy");
    await configureStoa(runId, { members: { ada: { paid: true, balanceUsd: 1 } } });
    const legacy = (method: "GET" | "POST", path: string, body?: unknown): Promise<StoaAnswer> =>
      call(runId, method, path, body, LEGACY_STOA_VERSION);
    for (const [method, path, body] of [
      ["GET", "/v1/prices"],
      ["GET", "/v1/members/ada/balance"],
      ["POST", "/v1/members/ada/holds", { minUsd: 0.1 }],
      ["POST", "/v1/holds/hold_x/release", {}],
    ] as const) {
      const answer = await legacy(method, path, body);
      expect([path, answer.status, answer.body]).toEqual([path, 404, apiError("not_found", "not_found")]);
    }
    expect((await legacy("GET", "/v1/members/ada/chargeability")).body).toMatchObject({ chargeable: true });
    expect((await legacy("POST", "/v1/usage/events", { events: [costing("ada", 0.25)] })).body).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [],
    });
    expect((await legacy("GET", "/v1/members/ada/usage")).body).toMatchObject({ events: 1, costUsd: 0.25 });
    const session = await legacy("POST", "/v1/payment-sessions", { userId: "ada", returnUrl: "https://a.example/r" });
    expect(session.body).toMatchObject({ status: "not_required", checkoutUrl: null, expiresAt: null });
    expect(await balance(runId, "ada")).toMatchObject({ balanceUsd: 0.75 });
  });
});
