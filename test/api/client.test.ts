import { afterEach, describe, expect, it, vi } from "vitest";
import { createApiClient, STOA_API_VERSION } from "../../src/api/client.ts";
import { StoaAPIError, StoaConnectionError } from "../../src/errors.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { VERSION } from "../../src/version.ts";
import { apiSetup, CLOSED, caught, renderings } from "../support/api.ts";
import { fakeClock } from "../support/clock.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, stoaEvents, stoaReceived } from "../support/stoa.ts";
import { usageEvent } from "../support/usage-event.ts";

const EVENTS = "/v1/usage/events";
const RUNTIME =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers"
    ? "workerd"
    : "node";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("createApiClient against the fake Stoa", () => {
  it("sends exactly the contract's headers and body on a POST", async () => {
    const runId = newRunId("headers");
    const { api } = apiSetup(runId);
    const event = usageEvent();
    const result = await api.request("POST", EVENTS, { body: { events: [event] }, idempotencyKey: "batch-1" });
    expect(result).toEqual({ accepted: 1, duplicates: 0, rejected: [] });

    const [received, ...more] = await stoaReceived(runId);
    expect(more).toHaveLength(0);
    expect(received?.method).toBe("POST");
    expect(received?.path).toBe(EVENTS);
    expect(received?.body).toEqual({ events: [event] });
    const { authorization, "stoa-version": version, "x-stoa-sdk": sdk, "content-type": type } = received?.headers ?? {};
    expect({ authorization, version, sdk, type, key: received?.headers["idempotency-key"] }).toEqual({
      authorization: "Bearer sk_test_stoa",
      version: STOA_API_VERSION,
      sdk: `stoa-ts/${VERSION} (${RUNTIME})`,
      type: "application/json",
      key: "batch-1",
    });
    expect(STOA_API_VERSION).toBe("2026-12-01");
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("sends no content-type or idempotency-key on a GET, and types a 404", async () => {
    const runId = newRunId("get");
    const { api, clock } = apiSetup(runId);
    const error = await caught(api.request("GET", "/v1/nowhere"));
    expect(error).toBeInstanceOf(StoaAPIError);
    expect(error).toMatchObject({ status: 404, type: "not_found", code: "api_error", apiCode: "not_found" });
    const received = await stoaReceived(runId);
    expect(received).toHaveLength(1);
    expect(received[0]?.headers).not.toHaveProperty("content-type");
    expect(received[0]?.headers).not.toHaveProperty("idempotency-key");
    expect(received[0]?.headers.authorization).toBe("Bearer sk_test_stoa");
    expect(clock.waits).toEqual([]);
  });

  it("generates one idempotency key per POST when none is given", async () => {
    const runId = newRunId("genkey");
    const { api } = apiSetup(runId);
    await api.request("POST", EVENTS, { body: { events: [usageEvent()] } });
    await api.request("POST", EVENTS, { body: { events: [usageEvent()] } });
    const keys = (await stoaReceived(runId)).map((r) => r.headers["idempotency-key"]);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it("types a 401 and does not retry it", async () => {
    const runId = newRunId("auth");
    const { api, clock } = apiSetup(runId, { apiKey: "sk_test_wrong" });
    const error = await caught(api.request("POST", EVENTS, { body: { events: [usageEvent()] } }));
    expect(error).toBeInstanceOf(StoaAPIError);
    expect(error).toMatchObject({
      name: "StoaAPIError",
      code: "api_error",
      apiCode: "invalid_api_key",
      status: 401,
      type: "authentication",
      requestId: `req_${runId}_1`,
    });
    expect((error as Error).message).toBe("Stoa API answered 401 invalid_api_key: Missing or invalid API key.");
    expect(await stoaReceived(runId)).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it("retries a 503 with the same key and body, and the event is stored once", async () => {
    const runId = newRunId("retry503");
    await configureStoa(runId, { failures: [503] });
    const { api, clock } = apiSetup(runId);
    const event = usageEvent();
    const result = await api.request("POST", EVENTS, { body: { events: [event] } });
    expect(result).toEqual({ accepted: 1, duplicates: 0, rejected: [] });

    const [first, second, ...more] = await stoaReceived(runId);
    expect(more).toHaveLength(0);
    expect(first?.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.headers["idempotency-key"]).toBe(first?.headers["idempotency-key"]);
    expect(first?.body).toEqual({ events: [event] });
    expect(second?.body).toEqual(first?.body);
    expect(await stoaEvents(runId)).toEqual([event]);
    expect(clock.waits).toEqual([250]);
  });

  it("waits what retry-after says after a 429", async () => {
    const runId = newRunId("retry429");
    await configureStoa(runId, { failures: [429], retryAfter: 2 });
    const { api, clock } = apiSetup(runId);
    await api.request("POST", EVENTS, { body: { events: [usageEvent()] } });
    expect(clock.waits).toEqual([2000]);
    expect(await stoaReceived(runId)).toHaveLength(2);
  });

  it("keeps backing off through a 3 s outage that answers retry-after: 0", async () => {
    const clock = fakeClock(0.5);
    let attempts = 0;
    const outage: FetchLike = async () => {
      attempts++;
      clock.advance(1); // each attempt takes 1 ms
      return clock.now() < 3000
        ? Response.json(
            { error: { type: "server_error", code: "unavailable", message: "down" } },
            { status: 503, headers: { "retry-after": "0" } },
          )
        : Response.json({ accepted: 1, duplicates: 0, rejected: [] });
    };
    const api = createApiClient({
      apiKey: "sk",
      baseUrl: "https://stoa.test/api",
      fetch: outage,
      retry: { ...clock, budgetMs: 25_000 },
    });
    expect(await api.request("POST", EVENTS, { body: { events: [usageEvent()] } })).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [],
    });
    expect(clock.waits).toEqual([250, 500, 1000, 2000]);
    expect(attempts).toBe(5);
  });

  it("does not retry a 400", async () => {
    const runId = newRunId("no400");
    const { api, clock } = apiSetup(runId);
    const error = await caught(api.request("POST", EVENTS, { body: { events: [] } }));
    expect(error).toMatchObject({
      status: 400,
      type: "invalid_request",
      code: "api_error",
      apiCode: "invalid_request",
    });
    expect(await stoaReceived(runId)).toHaveLength(1);
    expect(clock.waits).toEqual([]);
  });

  it("throws the last 503 when the budget is spent", async () => {
    const runId = newRunId("budget");
    await configureStoa(runId, { failures: [503, 503, 503, 503, 503] });
    const { api, clock } = apiSetup(runId, { budgetMs: 1000 });
    const error = await caught(api.request("POST", EVENTS, { body: { events: [usageEvent()] } }));
    expect(error).toMatchObject({ status: 503, type: "server_error", code: "api_error", apiCode: "simulated_failure" });
    expect(clock.waits).toEqual([250, 500]);
    expect(await stoaReceived(runId)).toHaveLength(3);
    expect(await stoaEvents(runId)).toEqual([]);
  });

  it("replays a stored answer for the same key and body, and refuses another body (422)", async () => {
    const runId = newRunId("idem");
    const { api } = apiSetup(runId);
    const body = { events: [usageEvent()] };
    const first = await api.request("POST", EVENTS, { body, idempotencyKey: "k1" });
    const again = await api.request("POST", EVENTS, { body, idempotencyKey: "k1" });
    expect(again).toEqual(first);
    expect(first).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const error = await caught(api.request("POST", EVENTS, { body: { events: [usageEvent()] }, idempotencyKey: "k1" }));
    expect(error).toMatchObject({
      status: 422,
      type: "invalid_request",
      code: "api_error",
      apiCode: "idempotency_key_reused",
    });
  });
});

describe("createApiClient failures", () => {
  it("throws StoaConnectionError when Stoa is down, after retrying within the budget", async () => {
    let calls = 0;
    const counting: FetchLike = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const { api, clock } = apiSetup("", { baseUrl: CLOSED, fetch: counting, budgetMs: 1000 });
    const error = await caught(api.request("POST", EVENTS, { body: { events: [usageEvent()] } }));
    expect(error).toBeInstanceOf(StoaConnectionError);
    expect(error).toMatchObject({ code: "connection_error", name: "StoaConnectionError" });
    expect((error as Error).message).toBe(`Stoa API could not be reached (POST ${CLOSED}${EVENTS}).`);
    expect((error as Error).cause).toBeDefined();
    expect(calls).toBe(3);
    expect(clock.waits).toEqual([250, 500]);
  });

  it("times an attempt out", async () => {
    const hanging: FetchLike = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      });
    const { api } = apiSetup("", { baseUrl: "https://stoa.test/api", fetch: hanging });
    const started = Date.now();
    const error = await caught(api.request("GET", "/v1/x", { timeoutMs: 30, retry: false }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(StoaConnectionError);
    expect((error as Error).message).toBe("Stoa API did not answer within 30 ms (GET https://stoa.test/api/v1/x).");
  });

  it("rejects with the caller's abort reason and does not retry", async () => {
    let calls = 0;
    const hanging: FetchLike = (_input, init) => {
      calls++;
      return new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      });
    };
    const { api, clock } = apiSetup("", { baseUrl: "https://stoa.test/api", fetch: hanging });
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const pending = api.request("GET", "/v1/x", { signal: controller.signal });
    controller.abort(reason);
    expect(await caught(pending)).toBe(reason);
    expect(calls).toBe(1);
    expect(clock.waits).toEqual([]);
  });

  it("reads a non-JSON error body, and consumes every response body", async () => {
    const responses: Response[] = [];
    const html: FetchLike = async () => {
      const response = new Response("<html>502 Bad Gateway</html>", {
        status: 502,
        headers: { "content-type": "text/html" },
      });
      responses.push(response);
      return response;
    };
    const { api } = apiSetup("", { baseUrl: "https://stoa.test/api", fetch: html, budgetMs: 1000 });
    const error = await caught(api.request("GET", "/v1/x"));
    expect(error).toBeInstanceOf(StoaAPIError);
    expect(error).toMatchObject({
      status: 502,
      type: undefined,
      code: "api_error",
      apiCode: undefined,
      message: "Stoa API answered 502",
    });
    expect(responses.map((r) => r.bodyUsed)).toEqual([true, true, true]);
  });

  it("keeps code api_error and takes apiCode from the error envelope, undefined when it has none", async () => {
    const bodies: unknown[] = [
      { error: { type: "invalid_request", code: "invalid_return_url", message: "returnUrl must be https." } },
      { error: { type: "invalid_request", message: "no code" } },
      { error: { type: "invalid_request", code: "", message: "empty code" } },
      { error: "flat" },
    ];
    const fake: FetchLike = async () => Response.json(bodies.shift(), { status: 400 });
    const { api } = apiSetup("", { baseUrl: "https://stoa.test/api", fetch: fake });
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push(await caught(api.request("GET", "/v1/x")));
    expect(errors.map((e) => (e as StoaAPIError).code)).toEqual(["api_error", "api_error", "api_error", "api_error"]);
    expect(errors.map((e) => [(e as StoaAPIError).apiCode, (e as StoaAPIError).type, (e as Error).message])).toEqual([
      ["invalid_return_url", "invalid_request", "Stoa API answered 400 invalid_return_url: returnUrl must be https."],
      [undefined, "invalid_request", "Stoa API answered 400: no code"],
      [undefined, "invalid_request", "Stoa API answered 400: empty code"],
      [undefined, undefined, "Stoa API answered 400"],
    ]);
  });

  it("returns undefined for a 2xx whose body is not JSON or is empty: the call succeeded, once", async () => {
    const bodies = ["not json", "", "<html>OK</html>", "{trunc"];
    let calls = 0;
    const fake: FetchLike = async () => {
      calls++;
      return new Response(bodies.shift() ?? "", { status: calls === 3 ? 202 : 200 });
    };
    const { api, clock } = apiSetup("", { baseUrl: "https://stoa.test/api", fetch: fake });
    for (let i = 0; i < 4; i++) {
      expect(await api.request("POST", EVENTS, { body: { events: [usageEvent()] } })).toBeUndefined();
    }
    expect(calls).toBe(4);
    expect(clock.waits).toEqual([]);
  });

  it("calls the injected fetch without a this", async () => {
    const thisValues: unknown[] = [];
    const fake = function (this: unknown) {
      thisValues.push(this);
      return Promise.resolve(new Response("{}"));
    };
    const { api } = apiSetup("", { baseUrl: "https://stoa.test/api", fetch: fake });
    await api.request("GET", "/v1/x");
    expect(thisValues).toEqual([undefined]);
  });
});

describe("the API key", () => {
  const SECRET = "sk_live_7f3a9c1e5b2d4f6a8c0e";

  it("never appears in an error, its stack, its cause or a log", async () => {
    const logged: unknown[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged.push(...args);
      });
    }
    const seen: string[] = [];
    const echoing: FetchLike = async (_input, init) => {
      const auth = new Headers(init?.headers).get("authorization") ?? "";
      seen.push(auth);
      const inner = new Error(`socket closed while sending ${auth}`);
      throw new TypeError(`fetch failed: ${auth}`, { cause: inner });
    };
    const echoingServer: FetchLike = async (_input, init) => {
      const auth = new Headers(init?.headers).get("authorization") ?? "";
      seen.push(auth);
      return Response.json(
        { error: { type: "authentication", code: "invalid_api_key", message: `No such key: ${auth}` } },
        { status: 401 },
      );
    };
    const hanging: FetchLike = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      });
    const runId = newRunId("secret");
    const errors = [
      await caught(apiSetup(runId, { apiKey: SECRET }).api.request("POST", EVENTS, { body: { events: [] } })),
      await caught(apiSetup("", { apiKey: SECRET, baseUrl: CLOSED, budgetMs: 300 }).api.request("GET", "/v1/x")),
      await caught(
        apiSetup("", { apiKey: SECRET, fetch: echoing, budgetMs: 300, baseUrl: CLOSED }).api.request("GET", "/x"),
      ),
      await caught(apiSetup("", { apiKey: SECRET, fetch: echoingServer, baseUrl: CLOSED }).api.request("GET", "/x")),
      await caught(
        apiSetup("", { apiKey: SECRET, fetch: hanging, baseUrl: CLOSED }).api.request("GET", "/x", { timeoutMs: 10 }),
      ),
    ];
    expect(errors.map((e) => (e as Error).name)).toEqual([
      "StoaAPIError",
      "StoaConnectionError",
      "StoaConnectionError",
      "StoaAPIError",
      "StoaConnectionError",
    ]);
    // the key was really sent, so its absence below means something
    expect((await stoaReceived(runId))[0]?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(seen).toContain(`Bearer ${SECRET}`);
    expect((errors[2] as Error).cause).toBeInstanceOf(Error);
    expect(((errors[2] as Error).cause as Error).message).toBe("fetch failed: Bearer [redacted]");
    expect((errors[3] as Error).message).toBe("Stoa API answered 401 invalid_api_key: No such key: Bearer [redacted]");
    for (const text of [...errors.flatMap(renderings), ...logged.map(String)]) {
      expect(text).not.toContain(SECRET);
    }
  });
});
