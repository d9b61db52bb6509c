/**
 * The chargeability gate (`spend: false`, and the fallback of a server with
 * no spend holds). Its cache: one request per user per TTL, shared by
 * concurrent first calls, dropped by invalidate; and what happens when Stoa
 * cannot answer.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import {
  Stoa,
  StoaAPIError,
  StoaChargeRequiredError,
  StoaConfigError,
  StoaConnectionError,
  StoaProvider,
} from "../../src/index.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { newRunId, providerBase, providerRequests } from "../support/provider.ts";
import { configureStoa, stoaBase, stoaReceived } from "../support/stoa.ts";

const MESSAGES = [{ role: "user" as const, content: "hi" }];

function client(stoa: Stoa, base: string, userId = "user_ok") {
  return new OpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: base,
    maxRetries: 0,
    fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId }),
  });
}

async function checks(runId: string): Promise<number> {
  return (await stoaReceived(runId)).filter((r) => r.path.endsWith("/chargeability")).length;
}

describe("the chargeability cache", () => {
  it("asks once for repeated calls, and once for 10 concurrent first calls", async () => {
    const run = await meterRun("cache", { spend: false }, true);
    await configureStoa(run.runId, {
      members: { user_ok: { paid: true, balanceUsd: 10 }, user_b: { paid: true, balanceUsd: 10 } },
      chargeabilityDelayMs: 50,
    });
    const openai = client(run.stoa, run.bases().openai);
    for (let i = 0; i < 3; i++) await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await checks(run.runId)).toBe(1);
    const other = client(run.stoa, run.bases().openai, "user_b");
    await Promise.all(
      Array.from({ length: 10 }, () => other.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })),
    );
    expect(await checks(run.runId)).toBe(2);
    expect(await run.events()).toHaveLength(13);
  });

  it("honours ttlSeconds and invalidateChargeability()", async () => {
    const run = await meterRun("ttl", { spend: false }, true);
    await configureStoa(run.runId, { members: { user_ok: { paid: true, balanceUsd: 10 } }, chargeabilityTtl: 1 });
    const openai = client(run.stoa, run.bases().openai);
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await checks(run.runId)).toBe(1);
    run.stoa.invalidateChargeability("user_ok");
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await checks(run.runId)).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await checks(run.runId)).toBe(3);
  });

  it("does not cache a refusal: paying unblocks the next call", async () => {
    const run = await meterRun("refusal", { spend: false }, true);
    const openai = client(run.stoa, run.bases().openai, "user_new");
    const first = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }).catch((e) => e);
    expect(first instanceof StoaChargeRequiredError).toBe(true);
    await configureStoa(run.runId, { members: { user_new: { paid: true, balanceUsd: 5 } } });
    await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await checks(run.runId)).toBe(2);
    expect((await run.events()).map((e) => e.usage)).toEqual([OPENAI_CHAT_USAGE]);
  });
});

describe("when Stoa cannot answer", () => {
  it("allows and meters the call when Stoa is slow, and tells onError", async () => {
    const run = await meterRun("slow", { chargeabilityTimeoutMs: 100, spend: false }, true);
    await configureStoa(run.runId, { chargeabilityDelayMs: 1_000 });
    const started = Date.now();
    await client(run.stoa, run.bases().openai).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(Date.now() - started).toBeLessThan(900);
    expect((await run.events()).map((e) => e.usage)).toEqual([OPENAI_CHAT_USAGE]);
    expect(run.errors.some((e) => e instanceof StoaConnectionError)).toBe(true);
  });

  it("allows the call when Stoa is down", async () => {
    const errors: Error[] = [];
    const run = await meterRun("down-allow");
    const stoa = new Stoa({
      spend: false,
      apiKey: STOA_KEY,
      baseUrl: "http://127.0.0.1:9",
      onError: (e) => errors.push(e),
      retryBudgetMs: 200,
    });
    const done = await client(stoa, run.bases().openai).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
    });
    expect(done.choices[0]?.message.content).toBe("Hello!");
    await stoa.flush();
    expect(errors[0]).toBeInstanceOf(StoaConnectionError);
  });

  it("blocks the call with whenUnavailable: 'block'", async () => {
    const run = await meterRun("down-block");
    const stoa = new Stoa({
      spend: false,
      apiKey: STOA_KEY,
      baseUrl: "http://127.0.0.1:9",
      whenUnavailable: "block",
      onError: () => {},
    });
    const error = await client(stoa, run.bases().openai)
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e: unknown) => e);
    expect(StoaChargeRequiredError.from(error)).toMatchObject({ reason: "unavailable", userId: "user_ok" });
    expect(await providerRequests(run.runId)).toEqual([]);
  });
});

describe("when Stoa refuses the check itself (a 4xx)", () => {
  /** The call's error, the config error it carries, and what reached the provider and Stoa. */
  async function refusedCall(label: string, userId: string, options: { apiKey?: string; failures?: number[] }) {
    const run = await meterRun(
      label,
      options.apiKey === undefined ? { spend: false } : { apiKey: options.apiKey, spend: false },
      true,
    );
    if (options.failures !== undefined) await configureStoa(run.runId, { chargeabilityFailures: options.failures });
    const error = await client(run.stoa, run.bases().openai, userId)
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e: unknown) => e);
    return { run, error, provider: await providerRequests(run.runId), events: await run.events() };
  }

  for (const whenUnavailable of ["allow", "block"] as const) {
    it(`fails the call with StoaConfigError on a 401 (whenUnavailable: "${whenUnavailable}")`, async () => {
      const run = await meterRun(
        `c401${whenUnavailable}`,
        { apiKey: "sk_test_wrong", whenUnavailable, spend: false },
        true,
      );
      const error = await client(run.stoa, run.bases().openai)
        .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
      const cause = (error as Error).cause as StoaConfigError;
      expect(cause).toBeInstanceOf(StoaConfigError);
      expect(cause.message).toBe(
        'The chargeability check for user "user_ok" was refused (Stoa API answered 401 invalid_api_key: Missing or invalid API key.); the call was not made. Check the Stoa API key, base URL and the userId.',
      );
      expect(cause.cause).toBeInstanceOf(StoaAPIError);
      expect(cause.cause).toMatchObject({ status: 401, apiCode: "invalid_api_key" });
      expect(run.errors).toEqual([cause]);
      expect(await providerRequests(run.runId)).toEqual([]);
      expect(await run.events()).toEqual([]);
    });
  }

  it("fails the call on a 431 (headers too large for Stoa's front), every time", async () => {
    const userId = "user_ok";
    const { run, error, provider, events } = await refusedCall("c431", userId, { failures: [431, 431] });
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(StoaConfigError);
    expect((cause as Error).cause).toMatchObject({ status: 431 });
    expect(run.errors).toEqual([cause]);
    expect(provider).toEqual([]);
    expect(events).toEqual([]);
    const again = await client(run.stoa, run.bases().openai, userId)
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e: unknown) => e);
    expect((again as Error).cause).toBeInstanceOf(StoaConfigError);
    expect(run.errors).toHaveLength(2);
  });

  it("refuses a userId that is not well-formed UTF-16 or too long at stoa.fetch(), without asking Stoa", async () => {
    const run = await meterRun("clone", {}, true);
    for (const userId of ["u\uD800", `u_${"x".repeat(40_000)}`]) {
      expect(() => run.stoa.fetch({ provider: "openai", userId })).toThrow(StoaConfigError);
    }
    expect(run.errors).toEqual([]);
    expect(await checks(run.runId)).toBe(0);
  });

  it("still treats a 408, 429 or 503 as Stoa being unavailable", async () => {
    for (const status of [408, 429, 503]) {
      const { run, error, provider } = await refusedCall(`c${status}`, "user_ok", { failures: [status] });
      expect((error as { choices?: unknown }).choices).toHaveLength(1);
      expect(run.errors.map((e) => e.constructor)).toEqual([StoaConnectionError]);
      expect(provider).toHaveLength(1);
    }
  });
});

describe("a crowd of first checks", () => {
  it("keeps at most 32 checks in flight for 3,000 unpaid users arriving at once; none reaches the provider", async () => {
    const runId = newRunId("crowd");
    let inFlight = 0;
    let most = 0;
    const errors: Error[] = [];
    const stoa = new Stoa({
      spend: false,
      apiKey: STOA_KEY,
      baseUrl: stoaBase(runId),
      onError: (e) => errors.push(e),
      chargeabilityTimeoutMs: 60_000,
      // counts the checks that are at the fake Stoa at once
      fetch: async (input, init) => {
        most = Math.max(most, ++inFlight);
        try {
          const response = await fetch(input, init);
          const body = await response.arrayBuffer();
          return new Response(body, { status: response.status, headers: response.headers });
        } finally {
          inFlight--;
        }
      },
    });
    const base = providerBase(runId).openai;
    const outcomes = await Promise.all(
      Array.from({ length: 3_000 }, (_, i) =>
        client(stoa, base, `crowd_${i}`)
          .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
          .then(
            () => "completed",
            (error: unknown) => StoaChargeRequiredError.from(error)?.reason ?? String(error),
          ),
      ),
    );
    expect(outcomes.filter((o) => o === "payment_required")).toHaveLength(3_000);
    expect(most).toBe(32);
    expect(await checks(runId)).toBe(3_000);
    expect(await providerRequests(runId)).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);
});
