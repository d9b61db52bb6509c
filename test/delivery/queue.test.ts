/**
 * The queue outbox and consumer against the fake Stoa, with a recording
 * producer (sendBatch) and hand-made message batches: packing within
 * Cloudflare's limits, the fall-back when the queue refuses, ack/retry,
 * malformed and unreadable messages, the `maxRetries` option, redelivery
 * that regroups messages, and Deno KV's consumer.
 */
import { describe, expect, it } from "vitest";
import { createApiClient } from "../../src/api/client.ts";
import { createOutbox } from "../../src/delivery/outbox.ts";
import { consumeDenoQueueValue, consumeQueueBatch, type QueueMessage } from "../../src/delivery/queue-consumer.ts";
import { CLOUDFLARE_QUEUE_LIMITS, createQueueOutbox, type QueueSendRequest } from "../../src/delivery/queue-outbox.ts";
import { Stoa, StoaConfigError, StoaDeliveryError, type UsageEvent } from "../../src/index.ts";
import { endsWithin, keepAdding } from "../support/busy.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, FAKE_STOA_API_KEY, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";
import { usageEvent, usageEvents } from "../support/usage-event.ts";

const ids = (events: readonly { id?: unknown }[]) => events.map((event) => event.id);

/** A producer that keeps what it is sent, or throws. */
function producer(fail = false) {
  const batches: QueueSendRequest[][] = [];
  return {
    batches,
    async sendBatch(messages: Iterable<QueueSendRequest>) {
      if (fail) throw new Error("Queue send failed: 503");
      batches.push([...messages]);
    },
  };
}

function setup(runId: string, queue: ReturnType<typeof producer>) {
  const errors: Error[] = [];
  const api = createApiClient({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId), retry: { budgetMs: 1_000 } });
  const onError = (error: Error) => errors.push(error);
  const outbox = createQueueOutbox({ producer: queue, fallback: createOutbox({ api, onError }), onError });
  return { api, outbox, errors };
}

/** Messages as a queue hands them over, recording ack and retry. */
function batchOf(bodies: unknown[], attempts = 1) {
  const acked: string[] = [];
  const retried: { id: string; delaySeconds: number | undefined }[] = [];
  const messages: QueueMessage[] = bodies.map((body, i) => ({
    id: `msg_${i}`,
    attempts,
    body,
    ack: () => void acked.push(`msg_${i}`),
    retry: (options) => void retried.push({ id: `msg_${i}`, delaySeconds: options?.delaySeconds }),
  }));
  return { batch: { queue: "stoa-events", messages }, acked, retried };
}

describe("queue outbox", () => {
  it("hands one task's events to the queue in one sendBatch, messages under 64 000 bytes, and posts nothing", async () => {
    const runId = newRunId("qpack");
    const queue = producer();
    const { outbox, errors } = setup(runId, queue);
    const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`key_${k}`, "x".repeat(100)]));
    const events = Array.from({ length: 100 }, () => usageEvent({ metadata }));
    const delivered = events.map((event) => outbox.add(event));
    // in the queue, not yet stored by Stoa: a spend hold naming them is left to expire, not released
    expect(await Promise.all(delivered)).toEqual(events.map(() => false));
    expect(queue.batches).toHaveLength(1);
    const messages = queue.batches[0] as QueueSendRequest[];
    const sizes = messages.map((m) => new TextEncoder().encode(m.body as string).byteLength);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(CLOUDFLARE_QUEUE_LIMITS.maxMessageBytes);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(256_000);
    expect(messages.every((m) => m.contentType === "text")).toBe(true);
    const carried = messages.flatMap((m) => (JSON.parse(m.body as string) as { events: UsageEvent[] }).events);
    expect(carried).toEqual(events);
    // each message but the last is full: the next event would not have fitted
    const eventBytes = new TextEncoder().encode(JSON.stringify(events[0])).byteLength;
    expect(messages.length).toBeGreaterThan(1);
    for (const size of sizes.slice(0, -1)) expect(size + eventBytes + 1).toBeGreaterThan(64_000);
    expect(await stoaReceived(runId)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("hands off in a microtask, not a timer: one sendBatch for a synchronous run, before any timer fires", async () => {
    const runId = newRunId("qmicro");
    const queue = producer();
    const { outbox, errors } = setup(runId, queue);
    const kept: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => void kept.push(promise);
    const first = usageEvents(3);
    const delivered = first.map((event) => outbox.add(event, waitUntil));
    await Promise.resolve();
    expect(queue.batches).toHaveLength(1);
    // an event of the same waitUntil after the hand-off goes in a hand-off of its own
    const late = usageEvent();
    delivered.push(outbox.add(late, waitUntil));
    await Promise.all(delivered);
    expect(queue.batches).toHaveLength(2);
    const carried = queue.batches.map((batch) =>
      batch.flatMap((m) => ids((JSON.parse(m.body as string) as { events: UsageEvent[] }).events)),
    );
    expect(carried).toEqual([ids(first), [late.id]]);
    expect(kept).toHaveLength(2); // one promise for waitUntil per hand-off, not per event
    expect(outbox.held).toBe(0);
    expect(errors).toEqual([]);
  });

  it("flush() resolves once the events added before it are queued, while more keep coming", async () => {
    const runId = newRunId("qflushbusy");
    const sent: QueueSendRequest[][] = [];
    const slow = {
      async sendBatch(messages: Iterable<QueueSendRequest>) {
        await new Promise((resolve) => setTimeout(resolve, 30)); // each hand-off takes 30 ms
        sent.push([...messages]);
      },
    };
    const { outbox, errors } = setup(runId, slow as ReturnType<typeof producer>);
    const traffic = keepAdding((event) => outbox.add(event));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = traffic.added.length;
    const ended = await endsWithin(outbox.flush(), 2000); // the traffic goes on meanwhile
    const queuedAtFlush = sent.flat().length;
    await traffic.stop();
    await outbox.flush();
    expect(ended).toBe(true);
    expect(queuedAtFlush).toBeGreaterThanOrEqual(before);
    const queued = sent.flatMap((batch) => batch.flatMap((m) => (m.body as string).match(/"id":"[^"]+"/g) ?? []));
    expect(queued).toHaveLength(traffic.added.length);
    expect(errors).toEqual([]);
  });

  it("when sendBatch throws, delivers directly, tells onError, and drops nothing", async () => {
    const runId = newRunId("qrefused");
    const { outbox, errors } = setup(runId, producer(true));
    const events = usageEvents(5);
    const delivered = events.map((event) => outbox.add(event));
    // Delivered resolves only once direct delivery stored them (true: stored)
    expect(await Promise.all(delivered)).toEqual(events.map(() => true));
    expect(ids(await stoaEvents(runId))).toEqual(ids(events));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoaDeliveryError);
    expect((errors[0] as StoaDeliveryError).events).toEqual([]);
    expect((errors[0] as Error).message).toBe(
      "The queue refused 5 usage event(s) (Queue send failed: 503); they are being delivered to Stoa directly instead.",
    );
  });

  it("new Stoa({ outbox }) checks the option and says how to fix it", () => {
    const base = { apiKey: "sk_test", baseUrl: "https://stoa.test/api" };
    expect(() => new Stoa({ ...base, outbox: undefined })).toThrow(StoaConfigError);
    expect(() => new Stoa({ ...base, outbox: undefined })).toThrow(/is the binding missing\?/);
    expect(() => new Stoa({ ...base, outbox: { enqueue() {} } as never })).toThrow(
      "outbox was given a Deno KV handle: wrap it, `outbox: denoKvOutbox(kv)`, so that messages keep to KV's limits.",
    );
    expect(() => new Stoa({ ...base, outbox: {} as never })).toThrow(/without sendBatch\(\)/);
    expect(new Stoa({ ...base, outbox: producer() })).toBeInstanceOf(Stoa);
  });
});

describe("queue consumer", () => {
  it("acks stored and rejected messages, reports the rejected events, and acks and reports a foreign message", async () => {
    const runId = newRunId("qconsume");
    const queue = producer();
    const { api, outbox } = setup(runId, queue);
    const good = usageEvents(3);
    const bad = usageEvent({ occurredAt: "yesterday" });
    for (const event of good) outbox.add(event);
    await outbox.flush();
    outbox.add(bad);
    await outbox.flush();
    const bodies = queue.batches.flat().map((m) => m.body);
    const errors: Error[] = [];
    const { batch, acked, retried } = batchOf([...bodies, "hello", { stoa: "usage-events/1", events: [] }]);
    await consumeQueueBatch(api, batch, (error) => errors.push(error));
    expect(acked.sort()).toEqual(["msg_0", "msg_1", "msg_2", "msg_3"]);
    expect(retried).toEqual([]);
    expect(ids(await stoaEvents(runId))).toEqual(ids(good));
    expect(await stoaReceived(runId)).toHaveLength(1);
    expect(errors.map((e) => e.constructor.name).sort()).toEqual([
      "StoaConfigError",
      "StoaConfigError",
      "StoaDeliveryError",
    ]);
    expect((errors.find((e) => e instanceof StoaDeliveryError) as StoaDeliveryError).events).toEqual([bad]);
  });

  it("retries what failed with a growing delay, and reports the events on the last attempt", async () => {
    const runId = newRunId("qretry");
    await configureStoa(runId, { failures: Array.from({ length: 100 }, () => 503) });
    const queue = producer();
    const { api, outbox } = setup(runId, queue);
    const events = usageEvents(2);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    const body = queue.batches[0]?.[0]?.body;
    const delays: (number | undefined)[] = [];
    const errors: Error[] = [];
    for (const attempts of [1, 2, 3, 4]) {
      const { batch, acked, retried } = batchOf([body], attempts);
      await consumeQueueBatch(api, batch, (error) => errors.push(error), { maxRetries: 3 });
      expect(acked).toEqual([]);
      delays.push(...retried.map((r) => r.delaySeconds));
    }
    expect(delays).toEqual([10, 20, 40, 80]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as StoaDeliveryError).events).toEqual(events);
    expect((errors[0] as Error).message).toMatch(/not delivered after 4 attempts/);
  });

  it("redelivery in another grouping stores nothing twice (event-id dedup, not only the idempotency key)", async () => {
    const runId = newRunId("qregroup");
    const queue = producer();
    const { api, outbox } = setup(runId, queue);
    const first = usageEvents(2);
    const second = usageEvents(2);
    for (const event of first) outbox.add(event);
    await outbox.flush();
    for (const event of second) outbox.add(event);
    await outbox.flush();
    const [a, b] = queue.batches.map((batch) => batch[0]?.body);
    await consumeQueueBatch(api, batchOf([a]).batch, () => {});
    await consumeQueueBatch(api, batchOf([b, a]).batch, () => {});
    const posts = await stoaReceived(runId);
    expect(posts).toHaveLength(2);
    expect(posts[1]?.headers["idempotency-key"]).not.toBe(posts[0]?.headers["idempotency-key"]);
    expect(ids((posts[1]?.body as { events: UsageEvent[] } | undefined)?.events ?? [])).toEqual(
      ids([...second, ...first]),
    );
    expect(ids(await stoaEvents(runId)).sort()).toEqual(ids([...first, ...second]).sort());
    expect((await new Stoa({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId) }).getUsage("user_123")).events).toBe(
      4,
    );
  });

  it("handleQueue refuses a maxRetries Cloudflare's max_retries cannot be, before it touches a message", async () => {
    const runId = newRunId("qmaxretries");
    const queue = producer();
    const { outbox } = setup(runId, queue);
    outbox.add(usageEvent());
    await outbox.flush();
    const body = queue.batches[0]?.[0]?.body;
    const errors: Error[] = [];
    const stoa = new Stoa({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId), onError: (e) => errors.push(e) });
    for (const maxRetries of [Number.NaN, "10", 101, -1, 2.5, Number.POSITIVE_INFINITY, null]) {
      const { batch, acked, retried } = batchOf([body]);
      const thrown = await stoa.handleQueue(batch, { maxRetries: maxRetries as number }).catch((error) => error);
      expect(thrown).toBeInstanceOf(StoaConfigError);
      expect((thrown as StoaConfigError).message).toBe(
        "handleQueue({ maxRetries }) must be the consumer's max_retries from wrangler.toml, a whole number from 0 to 100; leave it out for Cloudflare's default, 3.",
      );
      expect([acked, retried]).toEqual([[], []]);
    }
    expect(await stoaReceived(runId)).toEqual([]);
    for (const maxRetries of [0, 100]) {
      const { batch, acked } = batchOf([body]);
      await stoa.handleQueue(batch, { maxRetries });
      expect(acked).toEqual(["msg_0"]);
    }
    expect(errors).toEqual([]);
  });

  it("acks and reports each message it cannot read (a v8 body with a BigInt, a body that throws), and delivers the others", async () => {
    const runId = newRunId("qunreadable");
    const queue = producer();
    const { api, outbox } = setup(runId, queue);
    const good = usageEvents(2);
    for (const event of good) outbox.add(event);
    await outbox.flush();
    const foreign = { stoa: "usage-events/1", events: [{ id: "evt_bigint", tokens: 1n }] };
    const { batch, acked, retried } = batchOf([foreign, queue.batches[0]?.[0]?.body]);
    const broken: QueueMessage = {
      id: "msg_broken",
      attempts: 1,
      get body(): unknown {
        throw new TypeError("Could not deserialize the message body");
      },
      ack: () => void acked.push("msg_broken"),
      retry: () => void retried.push({ id: "msg_broken", delaySeconds: undefined }),
    };
    const errors: Error[] = [];
    await consumeQueueBatch(api, { ...batch, messages: [...batch.messages, broken] }, (error) => errors.push(error));
    expect(acked.sort()).toEqual(["msg_0", "msg_1", "msg_broken"]);
    expect(retried).toEqual([]);
    expect(ids(await stoaEvents(runId))).toEqual(ids(good));
    expect(errors.map((e) => e.message)).toEqual([
      "Message msg_0 on queue stoa-events could not be read as a Stoa usage batch (TypeError: Do not know how to serialize a BigInt); it was acked and dropped, with what events could be read attached. Send only `new Stoa({ outbox })`'s messages to the queue that stoa.handleQueue() consumes.",
      "Message msg_broken on queue stoa-events could not be read as a Stoa usage batch (TypeError: Could not deserialize the message body); it was acked and dropped, with what events could be read attached. Send only `new Stoa({ outbox })`'s messages to the queue that stoa.handleQueue() consumes.",
    ]);
    expect(errors.every((e) => e instanceof StoaDeliveryError)).toBe(true);
    expect((errors[0] as StoaDeliveryError).events).toEqual(foreign.events);
    expect((errors[1] as StoaDeliveryError).events).toEqual([]);
  });
});

describe("Deno KV queue consumer", () => {
  it("tells onError of each failed attempt, with the events, and throws the same error so that Deno retries", async () => {
    const runId = newRunId("qdenofail");
    await configureStoa(runId, { failures: Array.from({ length: 100 }, () => 503) });
    const queue = producer();
    const { api, outbox } = setup(runId, queue);
    const events = usageEvents(2);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    const body = queue.batches[0]?.[0]?.body;
    const errors: Error[] = [];
    const thrown: unknown[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      thrown.push(await consumeDenoQueueValue(api, body, (error) => errors.push(error)).catch((error) => error));
    }
    expect(errors).toHaveLength(2);
    expect(thrown).toEqual(errors);
    for (const error of errors) {
      expect(error).toBeInstanceOf(StoaDeliveryError);
      expect((error as StoaDeliveryError).events).toEqual(events);
      expect(error.message).toMatch(
        /^2 usage event\(s\) were not delivered to Stoa \(.+\); Deno will retry the message, and after its last retry keeps it under denoKvOutbox\(\)'s deadLetterPrefix \(\["stoa", "undelivered", …\] by default\)\. onError hears of every failed attempt, so it may hear of these events again\.$/,
      );
    }
    expect(await stoaEvents(runId)).toEqual([]);
  });

  it("reports a value in Stoa's format it cannot read and takes it as handled (true), so Deno does not retry it", async () => {
    const runId = newRunId("qdenounreadable");
    const { api } = setup(runId, producer());
    const value = { stoa: "usage-events/1", events: [{ id: "evt_bigint", tokens: 1n }] };
    const errors: Error[] = [];
    expect(await consumeDenoQueueValue(api, value, (error) => errors.push(error))).toBe(true);
    expect(await consumeDenoQueueValue(api, { hello: "app" }, (error) => errors.push(error))).toBe(false);
    expect(errors.map((e) => e.message)).toEqual([
      'A Deno KV queue message could not be read as a Stoa usage batch (TypeError: Do not know how to serialize a BigInt); it was dropped, with what events could be read attached. Enqueue nothing else with a `stoa` field of "usage-events/1".',
    ]);
    expect((errors[0] as StoaDeliveryError).events).toEqual(value.events);
    expect(await stoaReceived(runId)).toEqual([]);
  });
});
