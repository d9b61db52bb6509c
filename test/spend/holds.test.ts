/**
 * Spend holds end to end: the real `openai` SDK through `stoa.fetch()`, the
 * fake provider, and the local Stoa server granting and settling holds.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { Stoa, StoaAPIError, StoaChargeRequiredError, StoaConnectionError, StoaProvider } from "../../src/index.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { type FakeOptions, newRunId, providerBase, providerRequests } from "../support/provider.ts";
import { chargeabilityChecks, configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

const MESSAGES = [{ role: "user" as const, content: "Say hello" }];
/** What the local server debits for the fake's chat usage (gpt-4o-mini): 176 × 0.15 + 1024 × 0.075 + 300 × 0.6 per million. */
const CALL_COST_NANOS = 283_200;

function openai(stoa: Stoa, runId: string, userId: string, opts?: FakeOptions) {
  return new OpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: providerBase(runId, opts).openai,
    maxRetries: 0,
    fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId }),
  });
}

async function holdRequests(runId: string, userId?: string) {
  return (await stoaReceived(runId)).filter(
    (r) =>
      r.method === "POST" &&
      /^\/v1\/members\/[^/]+\/holds$/.test(r.path) &&
      (!userId || r.path.includes(`/${userId}/`)),
  );
}

async function balance(stoa: Stoa, userId: string) {
  const b = await stoa.getBalance(userId);
  return {
    balance: Math.round(b.balanceUsd * 1e9),
    held: Math.round(b.heldUsd * 1e9),
    available: Math.round(b.availableUsd * 1e9),
  };
}

describe("spend holds under load", () => {
  it("never lets a member spend more than they have: 8 instances × 25 concurrent streams", async () => {
    const runId = newRunId("holdload");
    const BALANCE_NANOS = 100_000_000; // $0.10
    await configureStoa(runId, { members: { ada: { balanceUsd: 0.1, paid: true } } });
    const errors: Error[] = [];
    const instances = Array.from(
      { length: 8 },
      () =>
        new Stoa({
          apiKey: STOA_KEY,
          baseUrl: stoaBase(runId),
          onError: (e) => errors.push(e),
          spend: { holdUsd: 0.005 },
        }),
    );
    const watcher = instances[0] as Stoa;
    const samples: { balance: number; held: number; available: number }[] = [];
    let running = true;
    const watching = (async () => {
      while (running) {
        samples.push(await balance(watcher, "ada"));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    // each call may write up to 8 000 tokens at $0.60 per million: a worst case of about $0.0048,
    // 200 calls about $0.96, 9.6 times the balance; the fake answers in ~7 events 15 ms apart
    const outcomes = await Promise.all(
      instances.flatMap((stoa) =>
        Array.from({ length: 25 }, async () => {
          try {
            const stream = await openai(stoa, runId, "ada", { delay: 15 }).chat.completions.create({
              model: "gpt-4o-mini",
              messages: MESSAGES,
              max_tokens: 8000,
              stream: true,
            });
            let text = "";
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
            return text === "Hello!" ? "completed" : `wrong text ${text}`;
          } catch (error) {
            const blocked = StoaChargeRequiredError.from(error);
            return blocked === null ? `error ${String(error)}` : `refused ${blocked.reason}`;
          }
        }),
      ),
    );
    await Promise.all(instances.map((stoa) => stoa.flush()));
    running = false;
    await watching;

    const completed = outcomes.filter((o) => o === "completed").length;
    const refused = outcomes.filter((o) => o === "refused insufficient_balance").length;
    expect(completed + refused).toBe(200); // nothing else: every call completed or was refused
    // holds of 4 × the worst case: the balance covers about five of them, four calls each
    expect(completed).toBeGreaterThanOrEqual(16);
    expect(refused).toBeGreaterThan(0);
    // refused calls never reached the provider; completed ones once each
    expect(await providerRequests(runId)).toHaveLength(completed);
    const events = await stoaEvents(runId);
    expect(events).toHaveLength(completed);
    expect(new Set(events.map((e) => e.id)).size).toBe(completed);
    expect(events.every((e) => e.status === "completed" && typeof e.holdId === "string")).toBe(true);
    // never below zero, at any sampled moment, and debits equal the exact costs
    expect(samples.length).toBeGreaterThan(3);
    for (const sample of samples) {
      expect(sample.balance).toBeGreaterThanOrEqual(0);
      expect(sample.available).toBeGreaterThanOrEqual(0);
    }
    const after = await balance(watcher, "ada");
    expect(after).toEqual({
      balance: BALANCE_NANOS - completed * CALL_COST_NANOS,
      held: 0,
      available: BALANCE_NANOS - completed * CALL_COST_NANOS,
    });
    expect(errors).toEqual([]);
  });
});

describe("spend holds on the hot path", () => {
  it("100 sequential calls of one user make at most 3 hold requests and no chargeability check", async () => {
    const run = await meterRun("holdhot", {}, true);
    await configureStoa(run.runId, { members: { bob: { balanceUsd: 10, paid: true } } });
    const client = openai(run.stoa, run.runId, "bob");
    for (let i = 0; i < 100; i++) {
      await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, max_tokens: 100 });
    }
    const holds = await holdRequests(run.runId);
    expect(holds.length).toBeGreaterThanOrEqual(1);
    expect(holds.length).toBeLessThanOrEqual(3);
    expect(await chargeabilityChecks(run.runId)).toBe(0);
    const events = await run.events();
    expect(events).toHaveLength(100);
    expect(new Set(events.map((e) => e.holdId)).size).toBe(holds.length);
    expect(await balance(run.stoa, "bob")).toEqual({
      balance: 10e9 - 100 * CALL_COST_NANOS,
      held: 0,
      available: 10e9 - 100 * CALL_COST_NANOS,
    });
    expect(run.errors).toEqual([]);
  });

  it("asks for max(holdUsd, 4 × worst case), and two users never share a hold", async () => {
    const run = await meterRun("holdtwo", { spend: { holdUsd: 0.25, holdTtlSeconds: 60 } }, true);
    await configureStoa(run.runId, {
      members: { ann: { balanceUsd: 1, paid: true }, ben: { balanceUsd: 1, paid: true } },
    });
    await openai(run.stoa, run.runId, "ann").chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      max_tokens: 10,
    });
    await openai(run.stoa, run.runId, "ben").chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      max_tokens: 10,
    });
    const holds = await holdRequests(run.runId);
    expect(holds.map((h) => h.path)).toEqual(["/v1/members/ann/holds", "/v1/members/ben/holds"]);
    expect(holds[0]?.body).toMatchObject({ targetUsd: 0.25, ttlSeconds: 60 });
    const events = await run.events();
    expect(events.map((e) => e.userId)).toEqual(["ann", "ben"]);
    expect(events[0]?.holdId).not.toBe(events[1]?.holdId);
  });
});

describe("what a refused call carries", () => {
  it("requiredUsd is the call's exact worst case: bytes, the model's row and an image part", async () => {
    const run = await meterRun("holdworst", {}, true);
    await configureStoa(run.runId, { members: { cy: { balanceUsd: 0.000001, paid: true } } });
    const body = {
      model: "gpt-4o-mini",
      max_tokens: 1000,
      messages: [
        {
          role: "user" as const,
          content: [
            { type: "text" as const, text: "What is this?" },
            { type: "image_url" as const, image_url: { url: "https://example.com/cat.png" } },
          ],
        },
      ],
    };
    const error = await openai(run.stoa, run.runId, "cy")
      .chat.completions.create(body)
      .catch((e: unknown) => e);
    const blocked = StoaChargeRequiredError.from(error);
    expect(blocked?.reason).toBe("insufficient_balance");
    // the body the meter sent, in UTF-8 bytes, plus 20 000 tokens for the image, at $0.15 per million;
    // 1 000 output tokens at $0.60 per million
    const bytes = new TextEncoder().encode(JSON.stringify(body)).byteLength;
    expect(blocked?.requiredUsd).toBe(((bytes + 20_000) * 150 + 1000 * 600) / 1e9);
    expect(blocked?.availableUsd).toBe(0.000001);
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("a model with no price row is reckoned at the fallback row", async () => {
    const run = await meterRun("holdfallback", {}, true);
    await configureStoa(run.runId, { members: { dee: { balanceUsd: 0.000001, paid: true } } });
    const body = { model: "no-such-model", max_tokens: 10, messages: MESSAGES };
    const error = await openai(run.stoa, run.runId, "dee")
      .chat.completions.create(body)
      .catch((e: unknown) => e);
    // input at the fallback's dearest rate ($18.75) with its 1 000 overhead tokens; output at $75
    const bytes = new TextEncoder().encode(JSON.stringify(body)).byteLength;
    expect(StoaChargeRequiredError.from(error)?.requiredUsd).toBe(((bytes + 1000) * 18_750 + 10 * 75_000) / 1e9);
  });

  it("a user who never paid is refused with payment_required and nothing available", async () => {
    const run = await meterRun("holdunpaid", {}, true);
    const error = await openai(run.stoa, run.runId, "eve")
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e: unknown) => e);
    expect(error instanceof StoaChargeRequiredError).toBe(true);
    expect(StoaChargeRequiredError.from(error)).toMatchObject({ reason: "payment_required", availableUsd: 0 });
    // a bare fetch caller gets the error thrown, with the same fields
    const fetch = run.stoa.fetch({ provider: "openai", userId: "eve" });
    const thrown = await fetch(`${providerBase(run.runId).openai}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES }),
    }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(StoaChargeRequiredError);
    expect(thrown).toMatchObject({ reason: "payment_required", availableUsd: 0 });
    expect(await providerRequests(run.runId)).toEqual([]);
  });
});

describe("when holds cannot be had", () => {
  it("Stoa answering 503 to a hold: allowed without one (whenUnavailable allow), onError told", async () => {
    const run = await meterRun("hold503", {}, true);
    await configureStoa(run.runId, { members: { fay: { balanceUsd: 1, paid: true } }, holdFailures: [503] });
    const done = await openai(run.stoa, run.runId, "fay").chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
    });
    expect(done.choices[0]?.message.content).toBe("Hello!");
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]?.holdId).toBeUndefined();
    expect(run.errors.map((e) => e.constructor)).toEqual([StoaConnectionError]);
  });

  it("Stoa answering 503 to a hold with whenUnavailable block: refused as unavailable", async () => {
    const run = await meterRun("hold503b", { whenUnavailable: "block" }, true);
    await configureStoa(run.runId, { members: { gus: { balanceUsd: 1, paid: true } }, holdFailures: [503] });
    const error = await openai(run.stoa, run.runId, "gus")
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e: unknown) => e);
    expect(StoaChargeRequiredError.from(error)?.reason).toBe("unavailable");
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("a hold request slower than the timeout: allowed without one, told", async () => {
    const run = await meterRun("holdslow", { chargeabilityTimeoutMs: 100 }, true);
    await configureStoa(run.runId, { members: { hal: { balanceUsd: 1, paid: true } }, delayMs: 400 });
    const done = await openai(run.stoa, run.runId, "hal").chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
    });
    expect(done.choices[0]?.message.content).toBe("Hello!");
    await run.stoa.flush();
    expect(run.errors[0]).toBeInstanceOf(StoaConnectionError);
  });

  it("a 2026-11-01 server (404 to holds) falls back to the chargeability check, said once", async () => {
    const run = await meterRun("hold404", {}, true);
    await configureStoa(run.runId, { members: { ivy: { balanceUsd: 1, paid: true } }, holdFailures: [404, 404] });
    const client = openai(run.stoa, run.runId, "ivy");
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await holdRequests(run.runId)).toHaveLength(1);
    expect(await chargeabilityChecks(run.runId)).toBe(1);
    const events = await run.events();
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.holdId === undefined)).toBe(true);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(StoaAPIError);
  });

  it("a server with no price table (404) falls back the same way", async () => {
    const run = await meterRun("price404", {}, true);
    await configureStoa(run.runId, { members: { jo: { balanceUsd: 1, paid: true } }, priceFailures: [404] });
    await openai(run.stoa, run.runId, "jo").chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(await holdRequests(run.runId)).toHaveLength(0);
    expect(await chargeabilityChecks(run.runId)).toBe(1);
    expect(run.errors.map((e) => (e as StoaAPIError).status)).toEqual([404]);
  });
});

describe("settling", () => {
  it("an aborted stream settles its estimated cost; the hold is released after delivery", async () => {
    const run = await meterRun("holdabort", {}, true);
    await configureStoa(run.runId, { members: { kim: { balanceUsd: 1, paid: true } } });
    const stream = await openai(run.stoa, run.runId, "kim", { text: "english", delay: 5 }).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let n = 0;
    for await (const _ of stream) if (++n === 3) break; // the SDK cancels the body
    const events = await run.events();
    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event).toMatchObject({ status: "aborted", estimated: true });
    expect(event?.holdId).toMatch(/^hold_/);
    const u = event?.usage ?? OPENAI_CHAT_USAGE;
    const cost = u.inputTokens * 150 + u.cacheReadTokens * 75 + u.outputTokens * 600;
    expect(await balance(run.stoa, "kim")).toEqual({ balance: 1e9 - cost, held: 0, available: 1e9 - cost });
    // the release came after the event was stored
    const paths = (await stoaReceived(run.runId)).map((r) => r.path);
    const stored = paths.indexOf("/v1/usage/events");
    const released = paths.findIndex((p) => /^\/v1\/holds\/[^/]+\/release$/.test(p));
    expect(stored).toBeGreaterThan(-1);
    expect(released).toBeGreaterThan(stored);
  });

  it("with a queue outbox the hold is not released when the event is queued: the consumer's delivery spends from it", async () => {
    const runId = newRunId("holdqueue");
    await configureStoa(runId, { members: { ida: { balanceUsd: 1, paid: true } } });
    const sent: string[] = [];
    const outbox = {
      sendBatch: async (messages: Iterable<{ body: unknown }>) =>
        void sent.push(...[...messages].map((m) => String(m.body))),
    };
    const errors: Error[] = [];
    const stoa = new Stoa({ apiKey: STOA_KEY, baseUrl: stoaBase(runId), outbox, onError: (e) => errors.push(e) });
    const completion = await openai(stoa, runId, "ida").chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
    });
    expect(completion.usage?.completion_tokens).toBe(OPENAI_CHAT_USAGE.outputTokens);
    await stoa.flush();
    // queued, not stored: releasing the $0.50 hold now would let the event be debited with nothing reserved for it
    const received = (await stoaReceived(runId)).map((r) => r.path);
    expect(received.filter((p) => p.endsWith("/release"))).toEqual([]);
    expect(await balance(stoa, "ida")).toEqual({ balance: 1e9, held: 0.5e9, available: 0.5e9 });
    // the consumer delivers the queued event: Stoa takes its cost from the hold, still live
    const messages = sent.map((body, i) => ({ id: `m${i}`, attempts: 1, body, ack() {}, retry() {} }));
    await stoa.handleQueue({ queue: "stoa-events", messages });
    const events = await stoaEvents(runId);
    expect(events).toHaveLength(1);
    expect(events[0]?.holdId).toMatch(/^hold_/);
    expect(await balance(stoa, "ida")).toEqual({
      balance: 1e9 - CALL_COST_NANOS,
      held: 0.5e9 - CALL_COST_NANOS,
      available: 0.5e9,
    });
    expect(errors).toEqual([]);
  });

  it("a call the provider refuses (429) gives its reservation back and makes no event", async () => {
    const run = await meterRun("hold429", {}, true);
    await configureStoa(run.runId, { members: { lee: { balanceUsd: 1, paid: true } } });
    const error = await openai(run.stoa, run.runId, "lee", { status: 429 })
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e: unknown) => e);
    expect((error as { status?: number }).status).toBe(429);
    expect(await run.events()).toEqual([]);
    expect(await balance(run.stoa, "lee")).toEqual({ balance: 1e9, held: 0, available: 1e9 });
  });
});
