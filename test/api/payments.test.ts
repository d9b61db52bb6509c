/**
 * Payment sessions against the fake Stoa: the return-URL rule checked before
 * anything is sent, the body and idempotency key on the wire, and the
 * session's life from open to complete.
 */
import { describe, expect, inject, it } from "vitest";
import {
  checkReturnUrl,
  createPaymentSession,
  getPaymentSession,
  PAYMENT_SESSION_KEY_WINDOW_MS,
  type PaymentSession,
} from "../../src/api/payments.ts";
import { StoaAPIError, StoaConfigError } from "../../src/errors.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { apiSetup, caught } from "../support/api.ts";
import { newRunId } from "../support/provider.ts";
import { completePaymentSession, configureStoa, stoaMembers, stoaReceived } from "../support/stoa.ts";

const RETURN_URL = "https://app.example.com/billing/stoa-return?from=chat";
const RULE =
  "returnUrl must be an absolute https: URL (http: is allowed only for localhost, *.localhost, 127.0.0.0/8 and [::1])";
/** A fixed instant 1 minute into a key window. */
const NOW = 2_000 * PAYMENT_SESSION_KEY_WINDOW_MS + 60 * 1000;
const KEY = /^ps-2000-[0-9a-f]{64}$/;

function setup(runId: string, fetch?: FetchLike) {
  return apiSetup(runId, fetch === undefined ? {} : { fetch, baseUrl: "https://stoa.test/api" });
}

function thrown(f: () => void): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("checkReturnUrl", () => {
  it("takes absolute https, and http only to loopback hosts", () => {
    const allowed = [
      RETURN_URL,
      "https://localhost/r",
      "https://203.0.113.7:8443/r",
      "http://localhost:3000/billing",
      "http://LOCALHOST/r",
      "http://app.localhost/r",
      "http://a.b.localhost:5173/r",
      "http://127.0.0.1/r",
      "http://127.0.0.5",
      "http://127.255.255.255:9000/r",
      "http://[::1]:8787",
      "http://[0:0:0:0:0:0:0:1]/r",
    ];
    for (const url of allowed) expect([url, thrown(() => checkReturnUrl(url))]).toEqual([url, undefined]);
  });

  it("refuses everything else with a StoaConfigError that states the rule", () => {
    const refused: [string, string][] = [
      ["http://example.com/r", "got http://example.com."],
      ["http://localhost.example.com/r", "got http://localhost.example.com."],
      ["http://127.0.0.1.nip.io/r", "got http://127.0.0.1.nip.io."],
      ["http://128.0.0.1/r", "got http://128.0.0.1."],
      ["http://[::2]:8787/r", "got http://[::2]:8787."],
      ["http://[::ffff:127.0.0.1]/r", "got http://[::ffff:7f00:1]."],
      ["http://localhost./r", "got http://localhost.."],
      ["ftp://localhost/r", "got ftp://localhost."],
      ["javascript:alert(1)", "got a javascript: URL."],
      ["data:text/html,hi", "got a data: URL."],
      ["/billing/stoa-return", "got a relative or malformed URL."],
      ["app.example.com/billing", "got a relative or malformed URL."],
      ["//app.example.com/billing", "got a relative or malformed URL."],
      ["", "got a relative or malformed URL."],
    ];
    for (const [url, got] of refused) {
      const error = thrown(() => checkReturnUrl(url));
      expect(error).toBeInstanceOf(StoaConfigError);
      expect([url, (error as Error).message]).toEqual([url, `${RULE}; ${got}`]);
    }
  });

  it("does not echo a return URL's query or credentials", () => {
    const error = thrown(() => checkReturnUrl("http://user:pw@example.com/r?token=abc123")) as Error;
    expect(error.message).toBe(`${RULE}; got http://example.com.`);
  });
});

describe("createPaymentSession", () => {
  it("refuses a bad returnUrl or input before sending anything", async () => {
    const runId = newRunId("psrefuse");
    const { api } = setup(runId);
    const bad = [
      { userId: "u", returnUrl: "http://example.com/r" },
      { userId: "u", returnUrl: "ftp://localhost/r" },
      { userId: "u", returnUrl: "/billing" },
      { userId: "", returnUrl: RETURN_URL },
      { userId: "u", returnUrl: RETURN_URL, email: 5 as unknown as string },
    ];
    for (const input of bad) expect(await caught(createPaymentSession(api, input))).toBeInstanceOf(StoaConfigError);
    expect(await stoaReceived(runId)).toEqual([]);
    expect(await stoaMembers(runId)).toEqual({});
  });

  it("sends the contract's body, omitting absent fields, and reads the open session", async () => {
    const runId = newRunId("psbody");
    const { api } = setup(runId);
    const session = await createPaymentSession(
      api,
      { userId: "user_123", email: "ada@example.com", name: "Ada", returnUrl: RETURN_URL },
      NOW,
    );
    await createPaymentSession(
      api,
      { userId: "user_456", email: undefined, name: null as unknown as string, returnUrl: "http://[::1]:8787/r" },
      NOW,
    );
    const received = await stoaReceived(runId);
    expect(received.map((r) => [r.method, r.path, r.body])).toEqual([
      [
        "POST",
        "/v1/payment-sessions",
        { userId: "user_123", email: "ada@example.com", name: "Ada", returnUrl: RETURN_URL },
      ],
      ["POST", "/v1/payment-sessions", { userId: "user_456", returnUrl: "http://[::1]:8787/r" }],
    ]);
    expect(received[0]?.headers["idempotency-key"]).toMatch(KEY);
    expect(received[1]?.headers["idempotency-key"]).toMatch(KEY);
    expect(received[1]?.headers["idempotency-key"]).not.toBe(received[0]?.headers["idempotency-key"]);

    const members = await stoaMembers(runId);
    expect(session).toEqual({
      id: expect.stringMatching(/^ps_/),
      userId: "user_123",
      membershipId: members.user_123?.membershipId,
      status: "open",
      checkoutUrl: `${inject("stoaServer")}/checkout/${session.id}`,
      returnUrl: RETURN_URL,
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(members.user_123).toMatchObject({ email: "ada@example.com", name: "Ada", paid: false });
  });

  it("keeps one idempotency key across a 503-then-200 retry and across two calls in a row", async () => {
    const runId = newRunId("pskey");
    await configureStoa(runId, { paymentSessionFailures: [503] });
    const { api, clock } = setup(runId);
    const input = { userId: "u", email: "ada@example.com", returnUrl: RETURN_URL };
    const first = await createPaymentSession(api, input, NOW);
    const second = await createPaymentSession(api, input, NOW + 30 * 1000);
    expect(second).toEqual(first);
    const received = await stoaReceived(runId);
    expect(received).toHaveLength(3);
    const keys = received.map((r) => r.headers["idempotency-key"]);
    expect(keys[0]).toMatch(KEY);
    expect(new Set(keys).size).toBe(1);
    expect(received.map((r) => r.body)).toEqual([input, input, input]);
    expect(clock.waits).toEqual([250]);
  });

  it("changes the key with the body and with the window; the server still returns the open session", async () => {
    const runId = newRunId("pswindow");
    const { api } = setup(runId);
    const input = { userId: "u", returnUrl: RETURN_URL };
    const first = await createPaymentSession(api, input, NOW);
    const nextWindow = await createPaymentSession(api, input, NOW + PAYMENT_SESSION_KEY_WINDOW_MS);
    const otherBody = await createPaymentSession(api, { ...input, name: "Ada" }, NOW);
    const otherUrl = await createPaymentSession(api, { ...input, returnUrl: `${RETURN_URL}&b=1` }, NOW);
    const keys = (await stoaReceived(runId)).map((r) => r.headers["idempotency-key"]);
    expect(new Set(keys).size).toBe(4);
    expect(keys[1]).toMatch(/^ps-2001-[0-9a-f]{64}$/);
    expect(nextWindow).toEqual(first);
    expect(otherBody).toEqual(first);
    expect(otherUrl.id).not.toBe(first.id);
    expect(otherUrl.status).toBe("open");
  });

  it("answers not_required with no checkout for a user who is already chargeable", async () => {
    const runId = newRunId("psnotreq");
    await configureStoa(runId, { members: { paying: { paid: true, balanceUsd: 5 } } });
    const { api } = setup(runId);
    const session = await createPaymentSession(api, { userId: "paying", returnUrl: RETURN_URL });
    expect(session).toMatchObject({
      userId: "paying",
      status: "not_required",
      checkoutUrl: null,
      returnUrl: RETURN_URL,
    });
    expect(await getPaymentSession(api, session.id)).toEqual(session);
  });

  it("follows a session from open to complete", async () => {
    const runId = newRunId("psflow");
    const { api } = setup(runId);
    const input = { userId: "u", returnUrl: "http://app.localhost:8787/billing/return" };
    const open = await createPaymentSession(api, input, NOW);
    expect(await getPaymentSession(api, open.id)).toEqual(open);
    await completePaymentSession(runId, open.id, 3);
    const complete = await getPaymentSession(api, open.id);
    expect(complete).toEqual({ ...open, status: "complete" });
    expect((await stoaMembers(runId)).u).toMatchObject({ paid: true, balanceUsd: 3 });

    // Within the key window the server replays the stored answer, as it was
    // when the session was created; in the next window the call is fresh.
    expect(await createPaymentSession(api, input, NOW + 30_000)).toEqual(open);
    const later = await createPaymentSession(api, input, NOW + PAYMENT_SESSION_KEY_WINDOW_MS);
    expect(later).toMatchObject({ userId: "u", status: "not_required", checkoutUrl: null });
    expect(later.id).not.toBe(open.id);
  });
});

describe("getPaymentSession", () => {
  it("URL-encodes the id, types a 404, and refuses an empty or dot-segment id", async () => {
    const runId = newRunId("psget");
    const { api, clock } = setup(runId);
    const error = await caught(getPaymentSession(api, "ps_x/../y?z"));
    expect(error).toBeInstanceOf(StoaAPIError);
    expect(error).toMatchObject({ status: 404, type: "not_found", code: "api_error", apiCode: "not_found" });
    expect((await stoaReceived(runId)).map((r) => [r.method, r.path])).toEqual([
      ["GET", "/v1/payment-sessions/ps_x%2F..%2Fy%3Fz"],
    ]);
    expect(clock.waits).toEqual([]);
    for (const id of ["", ".", ".."]) expect(await caught(getPaymentSession(api, id))).toBeInstanceOf(StoaConfigError);
    expect(await stoaReceived(runId)).toHaveLength(1);
  });
});

describe("reading a session", () => {
  const session: PaymentSession = {
    id: "ps_1",
    userId: "u",
    membershipId: "mem_1",
    status: "not_required",
    checkoutUrl: null,
    returnUrl: RETURN_URL,
    expiresAt: "2026-11-27T18:00:00Z",
  };
  const answering =
    (body: unknown): FetchLike =>
    async () =>
      Response.json(body, { status: 201 });

  it("reads an absent checkoutUrl as null and drops unknown fields", async () => {
    const { checkoutUrl: _absent, ...rest } = session;
    const { api } = setup("", answering({ ...rest, futureField: { any: 1 } }));
    expect(await getPaymentSession(api, "ps_1")).toEqual(session);
    const withNull = setup("", answering({ ...session, checkoutUrl: null }));
    expect(await getPaymentSession(withNull.api, "ps_1")).toEqual(session);
  });

  it("refuses a 2xx answer that is empty or not JSON as invalid_response", async () => {
    for (const text of ["", "not json"]) {
      const { api } = setup("", async () => new Response(text, { status: 201 }));
      expect(await caught(getPaymentSession(api, "ps_1"))).toMatchObject({
        code: "api_error",
        apiCode: "invalid_response",
        message: "Stoa API answered with a body that is not a payment session.",
      });
    }
  });

  it("refuses an answer that is not a session", async () => {
    for (const body of [
      {},
      null,
      [],
      { ...session, status: "pending" },
      { ...session, id: 1 },
      { ...session, expiresAt: 5 },
    ]) {
      const { api } = setup("", answering(body));
      const error = await caught(createPaymentSession(api, { userId: "u", returnUrl: RETURN_URL }));
      expect(error).toBeInstanceOf(StoaAPIError);
      expect(error).toMatchObject({
        code: "api_error",
        apiCode: "invalid_response",
        message: "Stoa API answered with a body that is not a payment session.",
      });
    }
  });
});
