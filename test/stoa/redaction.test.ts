/**
 * Redaction: when Stoa or a fetch echoes the API key, no string that leaves
 * the SDK carries it: the API error's fields, the `rejected` entries of a
 * delivery error (and its message and default log line), an AggregateError's
 * `errors` inside a fetch failure's `cause`.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApiClient } from "../../src/api/client.ts";
import { Stoa, StoaAPIError, StoaConnectionError, StoaDeliveryError, StoaProvider } from "../../src/index.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { caught, renderings } from "../support/api.ts";
import { fakeClock } from "../support/clock.ts";

const KEY = "sk_live_echo_4b1d9e7f2a6c";

/** Every string an error holds, deep: own fields, `rejected`, `errors`, `cause`. */
function strings(value: unknown, depth = 0, out: string[] = []): string[] {
  if (depth > 10 || value == null) return out;
  if (typeof value === "string") out.push(value);
  else if (typeof value === "object") {
    if (value instanceof Error) out.push(...renderings(value));
    for (const name of Object.getOwnPropertyNames(value)) {
      strings((value as Record<string, unknown>)[name], depth + 1, out);
    }
  }
  return out;
}

function client(fetch: FetchLike) {
  return createApiClient({
    apiKey: KEY,
    baseUrl: "https://stoa.test/api",
    fetch,
    retry: { ...fakeClock(0.5), budgetMs: 1000 },
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the API key echoed back", () => {
  it("is redacted from every field of a StoaAPIError", async () => {
    const echoing: FetchLike = async () =>
      Response.json(
        { error: { type: `type ${KEY}`, code: `code_${KEY}`, message: `No such key: ${KEY}` } },
        { status: 401, headers: { "x-request-id": `req_${KEY}` } },
      );
    const error = (await caught(client(echoing).request("GET", "/v1/x"))) as StoaAPIError;
    expect(error).toBeInstanceOf(StoaAPIError);
    expect({ type: error.type, apiCode: error.apiCode, requestId: error.requestId, message: error.message }).toEqual({
      type: "type [redacted]",
      apiCode: "code_[redacted]",
      requestId: "req_[redacted]",
      message: "Stoa API answered 401 code_[redacted]: No such key: [redacted]",
    });
    for (const text of strings(error)) expect(text).not.toContain(KEY);
  });

  it("is redacted from an AggregateError's errors inside a fetch failure's cause", async () => {
    const failing: FetchLike = async () => {
      throw new TypeError("fetch failed", {
        cause: new AggregateError([new Error(`connect ECONNREFUSED ${KEY}`), new Error("plain")], "all failed"),
      });
    };
    const error = (await caught(client(failing).request("GET", "/v1/x", { retry: false }))) as StoaConnectionError;
    expect(error).toBeInstanceOf(StoaConnectionError);
    const aggregate = (error.cause as Error).cause as AggregateError;
    expect(aggregate).toBeInstanceOf(AggregateError);
    expect(aggregate.errors.map((e: Error) => e.message)).toEqual(["connect ECONNREFUSED [redacted]", "plain"]);
    for (const text of strings(error)) expect(text).not.toContain(KEY);
  });

  it("is redacted from a 2xx answer's strings, so a delivery error's rejected entries, message and log line are clean", async () => {
    const logged: unknown[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      logged.push(...args);
    });
    const stoaApi: FetchLike = async (input, init) => {
      if (String(input).endsWith("/chargeability"))
        return Response.json({ userId: "u", chargeable: true, reason: null, ttlSeconds: 60 });
      const { events } = JSON.parse(String(init?.body)) as { events: { id: string }[] };
      return Response.json({
        accepted: 0,
        duplicates: 0,
        rejected: events.map((event) => ({ id: event.id, code: `bad_${KEY}`, message: `key was ${KEY}` })),
      });
    };
    const stoa = new Stoa({ spend: false, apiKey: KEY, baseUrl: "https://stoa.test/api", fetch: stoaApi });
    const upstream: FetchLike = async () =>
      Response.json({ id: "c1", model: "m", choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    const metered = stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: upstream });
    await (
      await metered("https://api.openai.com/v1/chat/completions", { method: "POST", body: '{"model":"m"}' })
    ).text();
    const errors: Error[] = [];
    const collecting = new Stoa({
      spend: false,
      apiKey: KEY,
      baseUrl: "https://stoa.test/api",
      fetch: stoaApi,
      onError: (error) => errors.push(error),
    });
    const metered2 = collecting.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: upstream });
    await (
      await metered2("https://api.openai.com/v1/chat/completions", { method: "POST", body: '{"model":"m"}' })
    ).text();
    await Promise.all([stoa.flush(), collecting.flush()]);

    expect(errors).toHaveLength(1);
    const delivery = errors[0] as StoaDeliveryError;
    expect(delivery).toBeInstanceOf(StoaDeliveryError);
    expect(delivery.rejected).toEqual([
      { id: expect.any(String), code: "bad_[redacted]", message: "key was [redacted]" },
    ]);
    expect(delivery.message).toBe("Stoa rejected 1 of 1 usage event(s) (first: bad_[redacted]: key was [redacted]).");
    expect(logged).toHaveLength(1);
    for (const text of [...strings(delivery), ...logged.map(String)]) expect(text).not.toContain(KEY);
  });
});
