/**
 * The local Stoa server (examples/stoa-server, in workerd unless
 * STOA_SERVER=node) held to `shared/stoa-api.md` through plain `fetch`, each
 * run a project of its own behind the test controls (test/support/fake-stoa.ts):
 * every endpoint and every error the contract names. Registration tokens
 * are covered in test/api/members.test.ts and registration.test.ts, holds in
 * holds.test.ts, the usage summary, debits,
 * checkout and pages in test/stoa-server/server.test.ts.
 */
import { describe, expect, inject, it } from "vitest";
import { MAX_EVENT_BYTES } from "../../examples/stoa-server/validate.ts";
import type { UsageEvent } from "../../src/usage.ts";
import { newRunId } from "../support/provider.ts";
import {
  chargeabilityChecks,
  completePaymentSession,
  configureStoa,
  DEFAULT_TOP_UP_USD,
  FAKE_STOA_API_KEY,
  STOA_HEADERS,
  stoaBase,
  stoaCall,
  stoaEvents,
  stoaMembers,
  stoaReceived,
} from "../support/stoa.ts";
import { usageEvent } from "../support/usage-event.ts";

/** A POST of a batch to `runId`'s `/v1/usage/events`. */
const post = (runId: string, body: unknown, headers: Record<string, string | undefined> = {}) =>
  stoaCall(runId, "POST", "/v1/usage/events", body, headers);

const apiError = (type: string, code: string) => ({ error: { type, code, message: expect.any(String) } });

describe("local Stoa server: common rules", () => {
  it("answers 401 invalid_api_key to a missing or wrong key, and takes the key set by __config", async () => {
    const runId = newRunId("fauth");
    const events = [usageEvent()];
    for (const authorization of [undefined, "Bearer sk_test_other", FAKE_STOA_API_KEY]) {
      const answer = await post(runId, { events }, { authorization });
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual(apiError("authentication", "invalid_api_key"));
    }
    await configureStoa(runId, { apiKey: "sk_test_other" });
    expect((await post(runId, { events }, { authorization: "Bearer sk_test_other" })).status).toBe(200);
  });

  it("answers 400 to missing or malformed required headers", async () => {
    const runId = newRunId("fheaders");
    const events = [usageEvent()];
    const cases: Record<string, string | undefined>[] = [
      { "stoa-version": undefined },
      { "stoa-version": "2025-01-01" },
      { "x-stoa-sdk": undefined },
      { "x-stoa-sdk": "stoa-ts/0.1.0" },
      { "idempotency-key": undefined },
      { "idempotency-key": "k".repeat(256) },
      { "content-type": "text/plain" },
    ];
    for (const headers of cases) {
      const answer = await post(runId, { events }, headers);
      expect([answer.status, answer.body]).toEqual([400, apiError("invalid_request", "invalid_request")]);
    }
    expect((await post(runId, { events }, { "idempotency-key": "k".repeat(255) })).status).toBe(200);
    expect(await stoaEvents(runId)).toHaveLength(1);
  });

  it("answers 404 not_found to an unknown path", async () => {
    const response = await fetch(`${stoaBase(newRunId("f404"))}/v1/nothing`, { headers: STOA_HEADERS });
    expect([response.status, await response.json()]).toEqual([404, apiError("not_found", "not_found")]);
  });

  it("records every API request with lower-case headers and the parsed body, and not the controls", async () => {
    const runId = newRunId("frecord");
    await configureStoa(runId, { delayMs: 0 });
    const event = usageEvent();
    const answer = await post(runId, { events: [event] }, { "idempotency-key": "rec-1" });
    await post(runId, "not json");
    expect(answer.headers.get("x-request-id")).toBe(`req_${runId}_1`);
    const received = await stoaReceived(runId);
    expect(received.map((r) => [r.method, r.path, r.body])).toEqual([
      ["POST", "/v1/usage/events", { events: [event] }],
      ["POST", "/v1/usage/events", "not json"],
    ]);
    expect(received[0]?.headers).toMatchObject({ ...STOA_HEADERS, "idempotency-key": "rec-1" });
  });

  it("keeps runs apart", async () => {
    const [a, b] = [newRunId("fa"), newRunId("fb")];
    await post(a, { events: [usageEvent()] });
    expect(await stoaEvents(a)).toHaveLength(1);
    expect(await stoaEvents(b)).toEqual([]);
    expect(await stoaReceived(b)).toEqual([]);
  });
});

describe("local Stoa server: POST /v1/usage/events", () => {
  it("takes 1 to 500 events and answers 400 invalid_request otherwise", async () => {
    const runId = newRunId("fbatch");
    for (const body of [{}, { events: {} }, { events: [] }, { events: Array(501).fill(usageEvent()) }, "[1", null]) {
      const answer = await post(runId, body);
      expect([answer.status, answer.body]).toEqual([400, apiError("invalid_request", "invalid_request")]);
    }
    const many = Array.from({ length: 500 }, () => usageEvent());
    expect((await post(runId, { events: many })).body).toEqual({ accepted: 500, duplicates: 0, rejected: [] });
  });

  it("takes a body of exactly 1 MiB and answers 413 payload_too_large to one byte more", async () => {
    const runId = newRunId("fsize");
    const json = JSON.stringify({ events: [usageEvent()] });
    const exact = json + " ".repeat(1024 * 1024 - json.length);
    expect((await post(runId, exact)).status).toBe(200);
    const answer = await post(runId, `${exact} `);
    expect([answer.status, answer.body]).toEqual([413, apiError("invalid_request", "payload_too_large")]);
  });

  it("rejects each invalid event with its code and stores the valid ones", async () => {
    const runId = newRunId("fvalid");
    const base = usageEvent();
    const { id: _id, ...noId } = base;
    const { model: _model, ...noModel } = base;
    const { usage: _usage, ...noUsage } = base;
    const metadata = (n: number, key = (k: number) => `k${k}`, value = "v") =>
      Object.fromEntries(Array.from({ length: n }, (_, k) => [key(k), value]));
    const invalid: [unknown, string, string][] = [
      [noId, "missing_field", "id is required."],
      [{ ...base, id: 7 }, "invalid_field", "id must be a string of 1 to 128 characters."],
      [{ ...base, id: ["x"] }, "invalid_field", "id must be a string of 1 to 128 characters."],
      [{ ...base, id: "" }, "invalid_field", "id must be a string of 1 to 128 characters."],
      [{ ...base, id: "i".repeat(129) }, "invalid_field", "id must be a string of 1 to 128 characters."],
      [{ ...base, id: "a", userId: 7 }, "invalid_field", "userId must be a string."],
      [{ ...base, id: "b", provider: "OpenAI" }, "invalid_field", "provider must be a lowercase provider id."],
      [{ ...base, id: "c", endpoint: "chat completions" }, "invalid_field", "endpoint must be a dotted name."],
      [{ ...noModel, id: "d" }, "missing_field", "model is required."],
      [{ ...base, id: "e", requestedModel: null }, "missing_field", "requestedModel is required."],
      [{ ...base, id: "f", stream: "true" }, "invalid_field", "stream must be a boolean."],
      [{ ...base, id: "g", status: "done" }, "invalid_field", 'status must be "completed" or "aborted".'],
      [{ ...base, id: "h", estimated: 0 }, "invalid_field", "estimated must be a boolean."],
      [{ ...noUsage, id: "i" }, "missing_field", "usage is required."],
      [{ ...base, id: "j", usage: [] }, "invalid_field", "usage must be an object."],
      [
        { ...base, id: "k", usage: { outputTokens: 1.5 } },
        "invalid_field",
        "usage.outputTokens must be a non-negative integer.",
      ],
      [
        { ...base, id: "l", usage: { reasoningTokens: "3" } },
        "invalid_field",
        "usage.reasoningTokens must be a non-negative integer.",
      ],
      [
        { ...base, id: "m", usage: { inputTokens: -1 } },
        "invalid_field",
        "usage.inputTokens must be a non-negative integer.",
      ],
      [
        { ...base, id: "n", occurredAt: "2026-11-27 18:00:00" },
        "invalid_field",
        "occurredAt must be an RFC 3339 time in UTC.",
      ],
      [
        { ...base, id: "o", occurredAt: "2026-02-30T00:00:00Z" },
        "invalid_field",
        "occurredAt must be an RFC 3339 time in UTC.",
      ],
      [
        { ...base, id: "p", occurredAt: "2026-11-27T18:00:00+01:00" },
        "invalid_field",
        "occurredAt must be an RFC 3339 time in UTC.",
      ],
      [{ ...base, id: "q", durationMs: -1 }, "invalid_field", "durationMs must be a non-negative number."],
      [{ ...base, id: "r", durationMs: "5" }, "invalid_field", "durationMs must be a non-negative number."],
      [{ ...base, id: "s", providerRequestId: 5 }, "invalid_field", "providerRequestId must be a string."],
      [{ ...base, id: "t", costUsd: "0.1" }, "invalid_field", "costUsd must be a non-negative number."],
      [
        { ...base, id: "u", timeToFirstByteMs: -2 },
        "invalid_field",
        "timeToFirstByteMs must be a non-negative number.",
      ],
      [{ ...base, id: "v", metadata: ["a"] }, "invalid_field", "metadata must be an object of strings."],
      [{ ...base, id: "w", metadata: metadata(17) }, "invalid_field", "metadata has at most 16 keys."],
      [
        { ...base, id: "x", metadata: metadata(1, () => "k".repeat(41)) },
        "invalid_field",
        "metadata keys are at most 40 characters.",
      ],
      [
        { ...base, id: "y", metadata: metadata(1, undefined, "v".repeat(501)) },
        "invalid_field",
        "metadata values are at most 500 characters.",
      ],
      [{ ...base, id: "z", metadata: { n: 1 } }, "invalid_field", "metadata.n must be a string."],
      [
        { ...base, id: "big", extra: "x".repeat(MAX_EVENT_BYTES) },
        "event_too_large",
        "An event is at most 65536 bytes of JSON.",
      ],
      ["event", "invalid_field", "An event must be a JSON object."],
    ];
    const valid = [
      { ...base, id: "ok-null", providerRequestId: null, costUsd: null, timeToFirstByteMs: null, metadata: null },
      { ...base, id: "ok-sparse", usage: { outputTokens: 3 }, unknownField: { any: "thing" } },
      { ...base, id: "ok-offset", occurredAt: "2026-11-27T18:00:00+00:00", costUsd: 0.0123 },
      { ...base, id: "i".repeat(128), metadata: metadata(16, (k) => `${k}`.padEnd(40, "k"), "é".repeat(500)) },
      { ...base, id: "ok-aborted", status: "aborted", estimated: true, stream: true, provider: "open-router.ai" },
    ];
    const answer = await post(runId, { events: [...invalid.map(([event]) => event), ...valid] });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      accepted: valid.length,
      duplicates: 0,
      rejected: invalid.map(([event, code, message]) => {
        const id = (event as { id?: unknown }).id;
        return { id: typeof id === "string" ? id : null, code, message };
      }),
    });
    expect(await stoaEvents(runId)).toEqual(valid);
  });

  it("bounds usage counts to integers of at most 10^9 and costUsd to $0..$1,000,000 (issue 12, item 8)", async () => {
    const runId = newRunId("fbounds");
    const base = usageEvent();
    const counts = (field: string, value: number) => ({ ...base.usage, [field]: value });
    const invalid: [UsageEvent, string][] = [
      [{ ...base, id: "cost-huge", costUsd: 1e300 }, "costUsd must be at most 1000000."],
      [{ ...base, id: "cost-over", costUsd: 1_000_000.01 }, "costUsd must be at most 1000000."],
      [{ ...base, id: "cost-neg", costUsd: -0.01 }, "costUsd must be a non-negative number."],
      [
        { ...base, id: "in-2^53", usage: counts("inputTokens", 2 ** 53) },
        "usage.inputTokens must be at most 1000000000.",
      ],
      [
        { ...base, id: "out-safe", usage: counts("outputTokens", 2 ** 53 - 1) },
        "usage.outputTokens must be at most 1000000000.",
      ],
      [
        { ...base, id: "out-1e300", usage: counts("outputTokens", 1e300) },
        "usage.outputTokens must be at most 1000000000.",
      ],
      [
        { ...base, id: "search-over", usage: counts("webSearchRequests", 1_000_000_001) },
        "usage.webSearchRequests must be at most 1000000000.",
      ],
    ];
    const valid: UsageEvent[] = [
      { ...base, id: "edge-max", costUsd: 1_000_000, usage: counts("inputTokens", 1_000_000_000) },
      { ...base, id: "edge-zero", costUsd: 0 },
    ];
    const answer = await post(runId, { events: [...invalid.map(([event]) => event), ...valid] });
    expect(answer.body).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: invalid.map(([event, message]) => ({ id: event.id, code: "invalid_field", message })),
    });
  });

  it("rejects an event over 64 KiB of JSON as event_too_large: 65,536 bytes pass, 65,537 do not", async () => {
    const runId = newRunId("fbig");
    const sized = (id: string, bytes: number) => {
      const event = { ...usageEvent(), id, pad: "" };
      return { ...event, pad: "x".repeat(bytes - new TextEncoder().encode(JSON.stringify(event)).byteLength) };
    };
    const [fits, over] = [sized("fits", 65_536), sized("over", 65_537)];
    expect(new TextEncoder().encode(JSON.stringify(over)).byteLength).toBe(65_537);
    expect((await post(runId, { events: [fits, over] })).body).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [{ id: "over", code: "event_too_large", message: "An event is at most 65536 bytes of JSON." }],
    });
  });

  it("counts an id it already stored as a duplicate, in the same batch or a later one", async () => {
    const runId = newRunId("fdup");
    const [a, b] = [usageEvent(), usageEvent()];
    expect((await post(runId, { events: [a, a] })).body).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    expect((await post(runId, { events: [a, b] })).body).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    expect(await stoaEvents(runId)).toEqual([a, b]);
  });

  it("replays the stored answer for the same key and body, and answers 422 to another body", async () => {
    const runId = newRunId("fidem");
    const body = { events: [usageEvent()] };
    const first = await post(runId, body, { "idempotency-key": "same" });
    const replay = await post(runId, body, { "idempotency-key": "same" });
    expect([first.status, first.body]).toEqual([200, { accepted: 1, duplicates: 0, rejected: [] }]);
    expect([replay.status, replay.body]).toEqual([200, first.body]);
    const other = await post(runId, { events: [usageEvent()] }, { "idempotency-key": "same" });
    expect([other.status, other.body]).toEqual([422, apiError("invalid_request", "idempotency_key_reused")]);
    // keys are scoped to the API key
    await configureStoa(runId, { apiKey: "sk_test_second" });
    const scoped = await post(runId, body, { "idempotency-key": "same", authorization: "Bearer sk_test_second" });
    expect(scoped.body).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
  });

  it("answers configured failures first, with retry-after on 429 and 503, and stores no 5xx answer", async () => {
    const runId = newRunId("ffail");
    await configureStoa(runId, { failures: [503, 429, 500], retryAfter: 3 });
    const body = { events: [usageEvent()] };
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post(runId, body, { "idempotency-key": "retry-me" }));
    expect(answers.map((a) => [a.status, a.headers.get("retry-after")])).toEqual([
      [503, "3"],
      [429, "3"],
      [500, null],
      [200, null],
    ]);
    expect(answers[0]?.body).toEqual(apiError("server_error", "simulated_failure"));
    expect(answers[1]?.body).toEqual(apiError("rate_limited", "simulated_failure"));
    expect(answers[3]?.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await stoaEvents(runId)).toHaveLength(1);
  });
});

/** A call to `runId`'s API; a POST with idempotency key `key` when given. */
const call = (runId: string, method: "GET" | "POST", path: string, body?: unknown, key?: string) =>
  stoaCall(runId, method, path, body, key === undefined ? {} : { "idempotency-key": key });

const chargeable = (userId: string, ttlSeconds = 60) => ({ userId, chargeable: true, reason: null, ttlSeconds });
const refused = (userId: string, reason: string) => ({ userId, chargeable: false, reason, ttlSeconds: 0 });
const check = (runId: string, userId: string) =>
  call(runId, "GET", `/v1/members/${encodeURIComponent(userId)}/chargeability`);

describe("local Stoa server: GET /v1/members/{userId}/chargeability", () => {
  it("answers from member state: unknown, never paid, no balance, suspended, chargeable", async () => {
    const runId = newRunId("fcharge");
    await configureStoa(runId, {
      members: {
        unpaid: {},
        empty: { paid: true, balanceUsd: 0 },
        owing: { paid: true, balanceUsd: -0.5 },
        suspended: { paid: true, balanceUsd: 5, suspended: true },
        ok: { paid: true, balanceUsd: 0.01 },
        "user/ä 1": { paid: true, balanceUsd: 1 },
      },
    });
    const answers = [];
    for (const userId of ["nobody", "unpaid", "empty", "owing", "suspended", "ok", "user/ä 1"]) {
      const answer = await check(runId, userId);
      answers.push([answer.status, answer.body]);
    }
    expect(answers).toEqual([
      [200, refused("nobody", "payment_required")],
      [200, refused("unpaid", "payment_required")],
      [200, refused("empty", "insufficient_balance")],
      [200, refused("owing", "insufficient_balance")],
      [200, refused("suspended", "member_suspended")],
      [200, chargeable("ok")],
      [200, chargeable("user/ä 1")],
    ]);
    expect((await stoaReceived(runId)).at(-1)?.path).toBe("/v1/members/user%2F%C3%A4%201/chargeability");
    expect(await chargeabilityChecks(runId)).toBe(7);
    expect(await chargeabilityChecks(runId, "user/ä 1")).toBe(1);
  });

  it("takes ttlSeconds from chargeabilityTtl, merges member seeds, and can treat unknown users as chargeable", async () => {
    const runId = newRunId("fchargecfg");
    await configureStoa(runId, { chargeabilityTtl: 5, members: { a: { paid: true, balanceUsd: 3 } } });
    await configureStoa(runId, { members: { a: { suspended: true }, b: undefined } });
    expect((await check(runId, "a")).body).toEqual(refused("a", "member_suspended"));
    await configureStoa(runId, { members: { a: { suspended: false } } });
    expect((await check(runId, "a")).body).toEqual(chargeable("a", 5));
    expect((await check(runId, "b")).body).toEqual(refused("b", "payment_required"));
    await configureStoa(runId, { everyoneChargeable: true });
    expect((await check(runId, "b")).body).toEqual(chargeable("b", 5));
    expect(await stoaMembers(runId)).toEqual({
      a: {
        membershipId: expect.stringMatching(/^mem_[0-9a-f]{32}$/),
        userId: "a",
        balanceUsd: 3,
        paid: true,
        suspended: false,
      },
    });
  });

  it("refuses an unknown __config field", async () => {
    await expect(configureStoa(newRunId("fcfg"), { chargeabilityTTL: 5 } as never)).rejects.toThrow(
      "fake Stoa: __config answered 400",
    );
  });

  it("answers configured chargeability failures first, and only to chargeability checks", async () => {
    const runId = newRunId("fchargefail");
    await configureStoa(runId, { chargeabilityFailures: [503, 500], retryAfter: 2 });
    expect((await post(runId, { events: [usageEvent()] })).status).toBe(200);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const answer = await check(runId, "u");
      answers.push([answer.status, answer.headers.get("retry-after"), answer.body]);
    }
    expect(answers).toEqual([
      [503, "2", apiError("server_error", "simulated_failure")],
      [500, null, apiError("server_error", "simulated_failure")],
      [200, null, refused("u", "payment_required")],
    ]);
    expect(await chargeabilityChecks(runId)).toBe(3);
  });

  it("delays chargeability answers by chargeabilityDelayMs", async () => {
    const runId = newRunId("fchargeslow");
    await configureStoa(runId, { chargeabilityDelayMs: 150 });
    const started = Date.now();
    await check(runId, "u");
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("needs the API key", async () => {
    const runId = newRunId("fchargeauth");
    const response = await fetch(`${stoaBase(runId)}/v1/members/u/chargeability`, {
      headers: { ...STOA_HEADERS, authorization: "Bearer sk_test_other" },
    });
    expect([response.status, await response.json()]).toEqual([401, apiError("authentication", "invalid_api_key")]);
  });
});

describe("local Stoa server: payment sessions", () => {
  const HTTPS = "https://app.example.com/billing/stoa-return?from=chat";

  it("checks returnUrl by the contract's rule (400 invalid_return_url)", async () => {
    const runId = newRunId("fpsurl");
    const allowed = [
      HTTPS,
      "http://localhost:3000/r",
      "http://app.localhost/r",
      "http://127.0.0.5/r",
      "http://127.255.255.255/r",
      "http://[::1]:8787/r",
    ];
    const refusedUrls = [
      "http://example.com/r",
      "http://localhost.example.com/r",
      "http://127.0.0.1.nip.io/r",
      "http://128.0.0.1/r",
      "http://[::2]/r",
      "ftp://localhost/r",
      "/billing/return",
      "",
    ];
    for (const returnUrl of allowed) {
      expect((await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl })).status).toBe(201);
    }
    for (const returnUrl of refusedUrls) {
      const answer = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl });
      expect([returnUrl, answer.status, answer.body]).toEqual([
        returnUrl,
        400,
        apiError("invalid_request", "invalid_return_url"),
      ]);
    }
    const missing = await call(runId, "POST", "/v1/payment-sessions", { userId: "u" });
    expect([missing.status, missing.body]).toEqual([400, apiError("invalid_request", "invalid_request")]);
    const noUser = await call(runId, "POST", "/v1/payment-sessions", { returnUrl: HTTPS });
    expect([noUser.status, noUser.body]).toEqual([400, apiError("invalid_request", "invalid_request")]);
  });

  it("creates the member and an open session, returns it while open, and 404s an unknown id", async () => {
    const runId = newRunId("fps");
    const first = await call(runId, "POST", "/v1/payment-sessions", {
      userId: "u",
      email: "ada@example.com",
      name: "Ada",
      returnUrl: HTTPS,
    });
    const id = first.body.id as string;
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^ps_[0-9a-f]{32}$/),
      userId: "u",
      membershipId: (await stoaMembers(runId)).u?.membershipId,
      status: "open",
      checkoutUrl: `${inject("stoaServer")}/checkout/${id}`,
      returnUrl: HTTPS,
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    const expiresIn = Date.parse(first.body.expiresAt as string) - Date.now();
    expect(expiresIn).toBeGreaterThan(3_590_000);
    expect(expiresIn).toBeLessThanOrEqual(3_600_000);
    expect((await stoaMembers(runId)).u).toMatchObject({ email: "ada@example.com", name: "Ada", paid: false });
    expect((await fetch(first.body.checkoutUrl as string)).status).toBe(200);

    const again = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: HTTPS });
    expect([again.status, again.body]).toEqual([200, first.body]);
    const other = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: `${HTTPS}&b=1` });
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(id);

    expect(await call(runId, "GET", `/v1/payment-sessions/${id}`)).toMatchObject({ status: 200, body: first.body });
    const unknown = await call(runId, "GET", "/v1/payment-sessions/ps_nope");
    expect([unknown.status, unknown.body]).toEqual([404, apiError("not_found", "not_found")]);
  });

  it("completes a session through __complete: paid, balance added, chargeable, then not_required", async () => {
    const runId = newRunId("fpsdone");
    const open = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: HTTPS });
    const id = open.body.id as string;
    expect(await completePaymentSession(runId, id, 2.5)).toEqual({ ...open.body, status: "complete" });
    await expect(completePaymentSession(runId, id)).rejects.toThrow("fake Stoa: __complete answered 409");
    expect((await call(runId, "GET", `/v1/payment-sessions/${id}`)).body).toEqual({ ...open.body, status: "complete" });
    expect((await stoaMembers(runId)).u).toMatchObject({ paid: true, balanceUsd: 2.5 });
    expect((await check(runId, "u")).body).toEqual(chargeable("u"));

    const after = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: HTTPS });
    expect(after.status).toBe(201);
    expect(after.body).toEqual({
      id: expect.stringMatching(/^ps_[0-9a-f]{32}$/),
      userId: "u",
      membershipId: open.body.membershipId,
      status: "not_required",
      checkoutUrl: null,
      returnUrl: HTTPS,
      expiresAt: null,
    });
    expect(after.body.id).not.toBe(id);
    // a not_required answer can be read back
    expect(await call(runId, "GET", `/v1/payment-sessions/${after.body.id}`)).toMatchObject({
      status: 200,
      body: after.body,
    });

    await configureStoa(runId, { members: { u: { balanceUsd: 0 } } });
    const topUp = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: HTTPS });
    expect(topUp.body).toMatchObject({
      status: "open",
      checkoutUrl: `${inject("stoaServer")}/checkout/${topUp.body.id}`,
    });
    await completePaymentSession(runId, topUp.body.id as string);
    expect((await stoaMembers(runId)).u?.balanceUsd).toBe(DEFAULT_TOP_UP_USD);
    await expect(completePaymentSession(runId, "ps_nope")).rejects.toThrow("fake Stoa: __complete answered 404");
  });

  it("keeps a session open for 1 hour, then reads it expired and opens a new one", async () => {
    const runId = newRunId("fpsexpiry");
    const open = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: HTTPS });
    const id = open.body.id as string;
    const left = Date.parse(open.body.expiresAt as string) - Date.now();
    // the project's clock, moved to a second before expiresAt, then to it
    await configureStoa(runId, { clockOffsetMs: left - 1000 });
    expect((await call(runId, "GET", `/v1/payment-sessions/${id}`)).body).toEqual(open.body);
    await configureStoa(runId, { clockOffsetMs: left + 1000 });
    expect((await call(runId, "GET", `/v1/payment-sessions/${id}`)).body).toEqual({ ...open.body, status: "expired" });
    await expect(completePaymentSession(runId, id)).rejects.toThrow("fake Stoa: __complete answered 409");
    const next = await call(runId, "POST", "/v1/payment-sessions", { userId: "u", returnUrl: HTTPS });
    expect([next.status, next.body.status]).toEqual([201, "open"]);
    expect(next.body.id).not.toBe(id);
  });

  it("replays a stored answer for the same key and body, as it was then", async () => {
    const runId = newRunId("fpsidem");
    const body = { userId: "u", returnUrl: HTTPS };
    const first = await call(runId, "POST", "/v1/payment-sessions", body, "ps-key");
    await completePaymentSession(runId, first.body.id as string);
    const replay = await call(runId, "POST", "/v1/payment-sessions", body, "ps-key");
    expect([replay.status, replay.body]).toEqual([201, first.body]);
    const reused = await call(runId, "POST", "/v1/payment-sessions", { ...body, name: "Ada" }, "ps-key");
    expect([reused.status, reused.body]).toEqual([422, apiError("invalid_request", "idempotency_key_reused")]);
  });
});
