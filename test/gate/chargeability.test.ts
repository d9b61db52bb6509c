/**
 * The chargeability cache: one request per user per TTL, shared by
 * concurrent first calls, dropped by invalidate; and what happens when Stoa
 * cannot answer.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { Stoa, StoaChargeRequiredError, StoaConnectionError, StoaProvider } from "../../src/index.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { providerRequests } from "../support/provider.ts";
import { configureStoa, stoaReceived } from "../support/stoa.ts";

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
    const run = await meterRun("cache", {}, true);
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
    const run = await meterRun("ttl", {}, true);
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
    const run = await meterRun("refusal", {}, true);
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
    const run = await meterRun("slow", { chargeabilityTimeoutMs: 100 }, true);
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
