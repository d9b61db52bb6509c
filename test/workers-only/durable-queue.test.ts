/**
 * Durable delivery in workerd with real Miniflare queues (vitest.config.ts
 * binds STOA_EVENTS, STOA_DOOMED and STOA_CRASH, each consumed by
 * test/support/queue-worker.ts's `queue()` with a dead-letter queue,
 * `stoa-dlq`): metered calls hand their events to the queue while Stoa is
 * down, the queue redelivers until Stoa is back, and nothing is stored twice.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { createApiClient } from "../../src/api/client.ts";
import { createOutbox } from "../../src/delivery/outbox.ts";
import { createQueueOutbox } from "../../src/delivery/queue-outbox.ts";
import { Stoa, StoaDeliveryError, StoaProvider, type UsageEvent } from "../../src/index.ts";
import { PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { newRunId, providerBase } from "../support/provider.ts";
import { queueHandlers } from "../support/queue-worker.ts";
import { configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";
import { usageEvents } from "../support/usage-event.ts";

const bindings = env as unknown as { STOA_EVENTS: Queue; STOA_DOOMED: Queue; STOA_CRASH: Queue };

afterEach(() => queueHandlers.clear());

const ids = (events: readonly { id?: unknown }[]) => events.map((event) => event.id);

/** Event ids of every usage POST of `runId`, with how often each was posted. */
async function postedTimes(runId: string): Promise<Map<unknown, number>> {
  const times = new Map<unknown, number>();
  for (const post of (await stoaReceived(runId)).filter((r) => r.path === "/v1/usage/events")) {
    for (const id of ids((post.body as { events: UsageEvent[] }).events)) times.set(id, (times.get(id) ?? 0) + 1);
  }
  return times;
}

/** Hands `events` to `queue` as one request's outbox does: one task, one `waitUntil`, one `sendBatch`. */
async function handOff(runId: string, queue: Queue, events: UsageEvent[]): Promise<void> {
  const errors: Error[] = [];
  const api = createApiClient({ apiKey: STOA_KEY, baseUrl: stoaBase(runId) });
  const fallback = createOutbox({ api, onError: (error) => errors.push(error) });
  const outbox = createQueueOutbox({ producer: queue, fallback, onError: (error) => errors.push(error) });
  const ctx = createExecutionContext();
  const waitUntil = ctx.waitUntil.bind(ctx);
  const delivered = events.map((event) => outbox.add(event, waitUntil));
  await waitOnExecutionContext(ctx);
  await Promise.all(delivered);
  expect(errors).toEqual([]);
}

function newStoa(runId: string, errors: Error[], outbox?: Queue): Stoa {
  return new Stoa({
    apiKey: STOA_KEY,
    baseUrl: stoaBase(runId),
    retryBudgetMs: 1_000,
    onError: (error) => errors.push(error),
    ...(outbox === undefined ? {} : { outbox }),
  });
}

describe("durable delivery through Cloudflare Queues", () => {
  it("meters 200 calls while Stoa is down, then the queue redelivers and each event is stored exactly once", async () => {
    const runId = newRunId("qdown");
    await configureStoa(runId, { failures: Array.from({ length: 10_000 }, () => 503) });
    const consumerErrors: Error[] = [];
    const consumer = newStoa(runId, consumerErrors);
    queueHandlers.set("stoa-events", (batch) =>
      consumer.handleQueue(batch, { maxRetries: 50, retryDelaySeconds: () => 1 }),
    );

    const producerErrors: Error[] = [];
    const stoa = newStoa(runId, producerErrors, bindings.STOA_EVENTS);
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const ctx = createExecutionContext();
        const openai = new OpenAI({
          apiKey: PROVIDER_KEY,
          baseURL: providerBase(runId).openai,
          maxRetries: 0,
          fetch: stoa.fetch({
            provider: StoaProvider.OpenAI,
            userId: `user_q${i % 7}`,
            waitUntil: ctx.waitUntil.bind(ctx),
            checkChargeability: false,
          }),
        });
        const completion = await openai.chat.completions.create({
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "Say hello" }],
        });
        // the request's waitUntil holds only the hand-off to the queue: it settles while Stoa is down
        await waitOnExecutionContext(ctx);
        return completion.choices[0]?.message.content;
      }),
    );
    expect(answers).toEqual(Array.from({ length: 200 }, () => "Hello!"));
    expect(producerErrors).toEqual([]);

    // the consumer tried and failed while Stoa was down: nothing stored yet
    await expect.poll(async () => (await postedTimes(runId)).size, { timeout: 20_000, interval: 100 }).toBe(200);
    expect(await stoaEvents(runId)).toEqual([]);

    await configureStoa(runId, { failures: [] });
    await expect.poll(async () => (await stoaEvents(runId)).length, { timeout: 30_000, interval: 200 }).toBe(200);
    const stored = ids(await stoaEvents(runId));
    expect(new Set(stored).size).toBe(200);
    const times = await postedTimes(runId);
    expect([...times.keys()].sort()).toEqual([...stored].sort());
    expect(Math.min(...times.values())).toBeGreaterThanOrEqual(2);
    // billed once: Stoa's own count of what it stored for these users
    let counted = 0;
    for (let u = 0; u < 7; u++) counted += (await consumer.getUsage(`user_q${u}`)).events;
    expect(counted).toBe(200);
    expect(consumerErrors).toEqual([]);
  }, 90_000);

  it("moves a message that keeps failing to the dead-letter queue, and onError hears of its events", async () => {
    const runId = newRunId("qdoomed");
    await configureStoa(runId, { failures: Array.from({ length: 10_000 }, () => 503) });
    const errors: Error[] = [];
    const consumer = newStoa(runId, errors);
    const attempts: number[] = [];
    queueHandlers.set("stoa-doomed", (batch) => {
      attempts.push(...batch.messages.map((m) => m.attempts));
      return consumer.handleQueue(batch, { maxRetries: 2, retryDelaySeconds: () => 0 });
    });
    const dead: Message<unknown>[] = [];
    queueHandlers.set("stoa-dlq", async (batch) => {
      dead.push(...batch.messages);
      batch.ackAll();
    });

    const events = usageEvents(3);
    await handOff(runId, bindings.STOA_DOOMED, events);

    await expect.poll(() => dead.length, { timeout: 30_000, interval: 100 }).toBe(1);
    expect(attempts).toEqual([1, 2, 3]);
    expect(await stoaEvents(runId)).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoaDeliveryError);
    expect(ids((errors[0] as StoaDeliveryError).events)).toEqual(ids(events));
    expect((errors[0] as Error).message).toMatch(
      /^3 usage event\(s\) of message .+ were not delivered after 3 attempts/,
    );

    // once Stoa is back, the dead letter replays through the same handler
    await configureStoa(runId, { failures: [] });
    const letter = dead[0] as Message<unknown>;
    const replay = createMessageBatch("stoa-dlq", [
      { id: letter.id, timestamp: letter.timestamp, attempts: 1, body: letter.body },
    ]);
    const replayCtx = createExecutionContext();
    await consumer.handleQueue(replay);
    const result = await getQueueResult(replay, replayCtx);
    expect(result.explicitAcks).toEqual([letter.id]);
    expect(result.retryMessages).toEqual([]);
    expect(ids(await stoaEvents(runId))).toEqual(ids(events));
  }, 60_000);

  it("a consumer that crashes after Stoa stored a batch but before ack: redelivery stores nothing twice", async () => {
    const runId = newRunId("qcrash");
    const errors: Error[] = [];
    const consumer = newStoa(runId, errors);
    let runs = 0;
    queueHandlers.set("stoa-crash", async (batch) => {
      if (runs++ > 0) return consumer.handleQueue(batch);
      // the first run delivers, then dies before any ack reaches the queue
      await consumer.handleQueue({
        queue: batch.queue,
        messages: batch.messages.map((m) => ({ id: m.id, attempts: m.attempts, body: m.body, ack() {}, retry() {} })),
      });
      throw new Error("the consumer crashed before acking");
    });
    const events = usageEvents(40);
    await handOff(runId, bindings.STOA_CRASH, events);

    await expect.poll(() => runs, { timeout: 20_000, interval: 50 }).toBe(2);
    await expect.poll(async () => (await postedTimes(runId)).get(events[0]?.id), { timeout: 5_000 }).toBe(2);
    const posts = (await stoaReceived(runId)).filter((r) => r.path === "/v1/usage/events");
    expect(posts).toHaveLength(2);
    expect(posts[1]?.body).toEqual(posts[0]?.body);
    expect(posts[1]?.headers["idempotency-key"]).toBe(posts[0]?.headers["idempotency-key"]);
    expect(ids(await stoaEvents(runId))).toEqual(ids(events));
    expect((await consumer.getUsage("user_123")).events).toBe(40);
    expect(errors).toEqual([]);
  }, 60_000);
});
