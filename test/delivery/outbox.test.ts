import { describe, expect, it, vi } from "vitest";
import { createApiClient } from "../../src/api/client.ts";
import { ENVELOPE_BYTES, MAX_BATCH_BYTES } from "../../src/api/usage-events.ts";
import { createOutbox, type Outbox } from "../../src/delivery/outbox.ts";
import { StoaAPIError, StoaConfigError, StoaConnectionError, StoaDeliveryError } from "../../src/errors.ts";
import type { WaitUntil } from "../../src/runtime.ts";
import type { UsageEvent } from "../../src/usage.ts";
import { endsWithin, keepAdding } from "../support/busy.ts";
import { fakeClock } from "../support/clock.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, FAKE_STOA_API_KEY, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";
import { usageEvent, usageEvents } from "../support/usage-event.ts";

/** Nothing listens on port 1 of the loopback. */
const CLOSED = "http://127.0.0.1:1/api";

interface Setup {
  baseUrl?: string;
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  apiKey?: string;
  budgetMs?: number;
  maxBatch?: number;
  maxBatchBytes?: number;
  onError?: (error: Error) => void;
}

function setup(runId: string, options: Setup = {}) {
  const clock = fakeClock(0.5);
  const api = createApiClient({
    apiKey: options.apiKey ?? FAKE_STOA_API_KEY,
    baseUrl: options.baseUrl ?? stoaBase(runId),
    fetch: options.fetch,
    retry: { ...clock, budgetMs: options.budgetMs ?? 25_000 },
  });
  const errors: StoaDeliveryError[] = [];
  const outbox = createOutbox({
    api,
    onError: options.onError ?? ((error) => errors.push(error as StoaDeliveryError)),
    maxBatch: options.maxBatch,
    maxBatchBytes: options.maxBatchBytes,
  });
  return { outbox, errors, clock };
}

/** A `waitUntil` that keeps what it is handed. */
function recorder(): WaitUntil & { promises: Promise<unknown>[] } {
  const promises: Promise<unknown>[] = [];
  return Object.assign((promise: Promise<unknown>) => void promises.push(promise), { promises });
}

const ids = (events: readonly { id?: unknown }[]) => events.map((event) => event.id);
const postedIds = async (runId: string) =>
  (await stoaReceived(runId)).map((r) => ids((r.body as { events: UsageEvent[] }).events));
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("batching", () => {
  it("sends the events of one task in one POST, without flush()", async () => {
    const runId = newRunId("turn");
    const { outbox, errors } = setup(runId);
    const [a, b, c] = usageEvents(3);
    outbox.add(a as UsageEvent);
    outbox.add(b as UsageEvent);
    await Promise.resolve();
    await Promise.resolve();
    outbox.add(c as UsageEvent);
    await expect.poll(async () => (await stoaEvents(runId)).length, { timeout: 1500, interval: 10 }).toBe(3);
    expect(await postedIds(runId)).toEqual([[a?.id, b?.id, c?.id]]);
    expect(errors).toEqual([]);
  });

  it("sends the body JSON.stringify would make of the batch, each event serialised once", async () => {
    const runId = newRunId("body");
    const bodies: string[] = [];
    const recording = (input: RequestInfo | URL, init?: RequestInit) => {
      if (init?.method === "POST") bodies.push(String(init.body));
      return fetch(input, init);
    };
    const { outbox, errors } = setup(runId, { fetch: recording });
    const events = [
      usageEvent({ metadata: { plan: "pro" } }),
      usageEvent({ metadata: { note: "naïve café ✓ 😀" } }),
      usageEvent(),
    ];
    const stringify = vi.spyOn(JSON, "stringify");
    for (const event of events) outbox.add(event);
    await expect.poll(async () => (await stoaEvents(runId)).length, { timeout: 1500, interval: 10 }).toBe(3);
    const args = stringify.mock.calls.map(([value]) => value);
    stringify.mockRestore();
    expect(bodies).toEqual([JSON.stringify({ events })]);
    // each event once (to size it), the batch never as a whole
    expect(args.filter((value) => events.includes(value as UsageEvent))).toEqual(events);
    expect(args.filter((value) => Object.hasOwn(Object(value), "events"))).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("sends events added while a POST is under way in the next POST, kept alive by the same promise", async () => {
    const runId = newRunId("later");
    await configureStoa(runId, { delayMs: 100 });
    const { outbox } = setup(runId);
    const waitUntil = recorder();
    const [a, b, c] = usageEvents(3);
    outbox.add(a as UsageEvent, waitUntil);
    await nextTask();
    outbox.add(b as UsageEvent, waitUntil);
    await nextTask();
    outbox.add(c as UsageEvent, waitUntil);
    expect(waitUntil.promises).toHaveLength(1);
    await waitUntil.promises[0];
    expect(await postedIds(runId)).toEqual([[a?.id], [b?.id, c?.id]]);
    expect(outbox.held).toBe(0);
    outbox.add(a as UsageEvent, waitUntil);
    expect(waitUntil.promises).toHaveLength(2);
    await waitUntil.promises[1];
  });

  it("cuts 1,200 events into POSTs of 500, 500 and 200, each with its own key", async () => {
    const runId = newRunId("cut");
    const { outbox, errors } = setup(runId);
    const events = usageEvents(1200);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    const received = await stoaReceived(runId);
    expect(received.map((r) => (r.body as { events: unknown[] }).events.length).sort()).toEqual([200, 500, 500]);
    expect(new Set(received.map((r) => r.headers["idempotency-key"])).size).toBe(3);
    expect(ids(await stoaEvents(runId)).sort()).toEqual(ids(events).sort());
    expect(errors).toEqual([]);
  });

  it("honours maxBatch", async () => {
    const runId = newRunId("maxbatch");
    const { outbox } = setup(runId, { maxBatch: 2 });
    const events = usageEvents(5);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    expect((await postedIds(runId)).map((batch) => batch.length).sort()).toEqual([1, 2, 2]);
  });

  it("fills a body up to maxBatchBytes exactly, and never past it", async () => {
    const runId = newRunId("bytes");
    const events = [0, 1, 2].map((i) => usageEvent({ id: `evt_bytes_${i}` }));
    const sizes = events.map((event) => new TextEncoder().encode(JSON.stringify(event)).byteLength);
    const limit = ENVELOPE_BYTES + (sizes[0] as number) + 1 + (sizes[1] as number);
    const { outbox } = setup(runId, { maxBatchBytes: limit });
    for (const event of events) outbox.add(event);
    await outbox.flush();
    const received = await stoaReceived(runId);
    const lengths = received.map((r) => new TextEncoder().encode(JSON.stringify(r.body)).byteLength);
    expect(lengths.sort((x, y) => y - x)).toEqual([limit, ENVELOPE_BYTES + (sizes[2] as number)]);
  });

  it("keeps every body under 1 MiB when events are large", async () => {
    const runId = newRunId("mib");
    const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`key_${k}`, "é".repeat(250)]));
    const events = Array.from({ length: 300 }, (_, i) => usageEvent({ id: `evt_mib_${1000 + i}`, metadata }));
    const size = new TextEncoder().encode(JSON.stringify(events[0])).byteLength;
    const perBatch = Math.floor((MAX_BATCH_BYTES - ENVELOPE_BYTES + 1) / (size + 1));
    const { outbox, errors } = setup(runId);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    const received = await stoaReceived(runId);
    const counts = received.map((r) => (r.body as { events: unknown[] }).events.length);
    expect(counts.sort((x, y) => y - x)).toEqual([perBatch, perBatch, 300 - 2 * perBatch]);
    expect(perBatch).toBeLessThan(150);
    expect((await stoaEvents(runId)).length).toBe(300);
    expect(errors).toEqual([]);
  });
});

describe("lanes", () => {
  it("keeps one lane per waitUntil and hands each its delivery promise at once", async () => {
    const runId = newRunId("lanes");
    const { outbox, errors } = setup(runId);
    const a = recorder();
    const b = recorder();
    const [e1, e2, e3, e4] = usageEvents(4);
    outbox.add(e1 as UsageEvent, a);
    outbox.add(e2 as UsageEvent, b);
    outbox.add(e3 as UsageEvent, a);
    outbox.add(e4 as UsageEvent);
    expect(a.promises).toHaveLength(1);
    expect(b.promises).toHaveLength(1);

    await a.promises[0];
    expect(ids(await stoaEvents(runId))).toEqual(expect.arrayContaining([e1?.id, e3?.id]));
    await b.promises[0];
    await outbox.flush();
    const posted = await postedIds(runId);
    expect(posted).toHaveLength(3);
    expect(posted).toEqual(expect.arrayContaining([[e1?.id, e3?.id], [e2?.id], [e4?.id]]));
    expect(errors).toEqual([]);
  });

  it("with shareLanes, puts every waitUntil's events in one lane, each waitUntil handed its own events' promise", async () => {
    const runId = newRunId("shared");
    const api = createApiClient({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId) });
    const errors: Error[] = [];
    const outbox = createOutbox({ api, onError: (e) => errors.push(e), shareLanes: true });
    const a = recorder();
    const b = recorder();
    const throwing: WaitUntil = () => {
      throw new Error("waitUntil called after the request ended");
    };
    const [e1, e2, e3, e4, e5] = usageEvents(5);
    outbox.add(e1 as UsageEvent, a);
    outbox.add(e2 as UsageEvent, a);
    outbox.add(e3 as UsageEvent, b);
    outbox.add(e4 as UsageEvent, throwing);
    outbox.add(e5 as UsageEvent, throwing);
    expect(a.promises).toHaveLength(1);
    expect(b.promises).toHaveLength(1);
    await a.promises[0];
    expect(ids(await stoaEvents(runId))).toEqual(ids([e1, e2, e3, e4, e5] as UsageEvent[]));
    await b.promises[0];
    expect(await postedIds(runId)).toEqual([ids([e1, e2, e3, e4, e5] as UsageEvent[])]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoaConfigError);
    expect(errors[0]?.message).toMatch(/^waitUntil threw when handed a usage delivery/);
  });

  it("uses Vercel's request context when no waitUntil is given", async () => {
    const runId = newRunId("vercel");
    const { outbox } = setup(runId);
    const waitUntil = recorder();
    const key = Symbol.for("@vercel/request-context");
    const context = { waitUntil };
    const global = globalThis as { [key]?: unknown };
    global[key] = { get: () => context };
    try {
      const [e1, e2] = usageEvents(2);
      outbox.add(e1 as UsageEvent);
      outbox.add(e2 as UsageEvent);
      expect(waitUntil.promises).toHaveLength(1);
      await waitUntil.promises[0];
      expect(ids(await stoaEvents(runId))).toEqual([e1?.id, e2?.id]);
    } finally {
      delete global[key];
    }
  });
});

describe("lanes on Vercel", () => {
  /**
   * Two requests, each in its own Vercel request context, adding an event
   * through `@vercel/functions`' `waitUntil`: one module-level function that
   * hands to the current request. Returns what each request's own
   * `waitUntil` was handed, once both events are stored.
   */
  async function twoRequests(outbox: Outbox): Promise<{ a: number; b: number; events: UsageEvent[] }> {
    const key = Symbol.for("@vercel/request-context");
    const global = globalThis as { [key]?: unknown };
    let current: { waitUntil: WaitUntil } | undefined;
    global[key] = { get: () => current };
    const waitUntil: WaitUntil = (promise) => current?.waitUntil(promise);
    try {
      const a = recorder();
      const b = recorder();
      const events = usageEvents(2);
      current = { waitUntil: a };
      outbox.add(events[0] as UsageEvent, waitUntil);
      current = { waitUntil: b };
      outbox.add(events[1] as UsageEvent, waitUntil);
      const handed = { a: a.promises.length, b: b.promises.length };
      await Promise.all([...a.promises, ...b.promises]);
      return { ...handed, events };
    } finally {
      delete global[key];
    }
  }

  it("keeps a lane per request context when the waitUntil is @vercel/functions' one function for all", async () => {
    const runId = newRunId("vercelfn");
    const { a, b, events } = await twoRequests(setup(runId).outbox);
    // each request's own waitUntil keeps its own events
    expect([a, b]).toEqual([1, 1]);
    expect(ids(await stoaEvents(runId)).sort()).toEqual(ids(events).sort());
    expect(await stoaReceived(runId)).toHaveLength(2); // a POST each: no request's I/O serves another
  });

  it("with shared lanes (Node), hands each request context its own events' promise", async () => {
    const runId = newRunId("vercelnode");
    const api = createApiClient({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId) });
    const { a, b, events } = await twoRequests(createOutbox({ api, onError: () => {}, shareLanes: true }));
    expect([a, b]).toEqual([1, 1]);
    expect(ids(await stoaEvents(runId)).sort()).toEqual(ids(events).sort());
    expect(await stoaReceived(runId)).toHaveLength(1); // one lane in Node: one POST for both
  });
});

describe("flush", () => {
  it("sends what waits for its timer, and resolves once it is stored", async () => {
    const runId = newRunId("flush");
    const { outbox } = setup(runId);
    const events = usageEvents(2);
    // The outbox's timer goes to a fake clock that is then dropped: it never fires.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      for (const event of events) outbox.add(event);
    } finally {
      vi.useRealTimers();
    }
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual(ids(events));
    expect(await stoaReceived(runId)).toHaveLength(1);
  });

  it("resolves once the events added before it are stored, while more keep coming", async () => {
    const runId = newRunId("flushbusy");
    const { outbox, errors } = setup(runId);
    await configureStoa(runId, { delayMs: 40 }); // each POST takes 40 ms: the lane is never empty
    const traffic = keepAdding((event) => outbox.add(event));
    await new Promise((resolve) => setTimeout(resolve, 60));
    const before = ids(traffic.added);
    const ended = await endsWithin(outbox.flush(), 2000); // the traffic goes on meanwhile
    const storedAtFlush = ids(await stoaEvents(runId));
    await traffic.stop();
    await outbox.flush();
    expect(ended).toBe(true);
    expect(storedAtFlush).toEqual(expect.arrayContaining(before));
    expect(ids(await stoaEvents(runId))).toEqual(ids(traffic.added));
    expect(errors).toEqual([]);
  });

  it("settles each event's Delivered with its own batch, not when the lane next runs dry", async () => {
    const runId = newRunId("delivered");
    const { outbox, errors } = setup(runId);
    await configureStoa(runId, { delayMs: 40 });
    const first = usageEvent();
    const delivered = outbox.add(first);
    let settled = false;
    void delivered.then(() => {
      settled = true;
    });
    // more events keep the lane busy well past the first POST (up to 1.5 s: a loaded machine is slow to answer)
    const later: UsageEvent[] = [];
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 15));
      const event = usageEvent();
      later.push(event);
      outbox.add(event);
      if (settled) break;
    }
    expect(settled).toBe(true);
    expect(ids(await stoaEvents(runId))).toContain(first.id);
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual(ids([first, ...later]));
    expect(errors).toEqual([]);
  });

  it("also waits for the deliveries handed to a waitUntil", async () => {
    const runId = newRunId("flushwu");
    const { outbox } = setup(runId);
    await configureStoa(runId, { delayMs: 50 });
    const event = usageEvent();
    outbox.add(event, recorder());
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual([event.id]);
  });

  it("resolves at once with nothing queued", async () => {
    const { outbox } = setup(newRunId("empty"));
    await expect(outbox.flush()).resolves.toBeUndefined();
  });
});

describe("failures", () => {
  it("hands rejected events to onError with their reasons, and stores the others", async () => {
    const runId = newRunId("rejected");
    const { outbox, errors } = setup(runId);
    const good = usageEvent();
    const bad = usageEvent({ usage: { ...good.usage, inputTokens: -1 } });
    const worse = usageEvent({ occurredAt: "yesterday" });
    outbox.add(good);
    outbox.add(bad);
    outbox.add(worse);
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual([good.id]);
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(error).toBeInstanceOf(StoaDeliveryError);
    expect(error?.code).toBe("delivery_error");
    expect(error?.events).toEqual([bad, worse]);
    expect(error?.rejected).toEqual([
      { id: bad.id, code: "invalid_field", message: "usage.inputTokens must be a non-negative integer." },
      { id: worse.id, code: "invalid_field", message: "occurredAt must be an RFC 3339 time in UTC." },
    ]);
    expect(error?.message).toBe(
      "Stoa rejected 2 of 3 usage event(s) (first: invalid_field: usage.inputTokens must be a non-negative integer.).",
    );
    expect(await stoaReceived(runId)).toHaveLength(1);
  });

  it("hands every event to onError when Stoa is down, and flush resolves", async () => {
    const { outbox, errors, clock } = setup("", { baseUrl: CLOSED, budgetMs: 1000 });
    const events = usageEvents(3);
    for (const event of events) outbox.add(event);
    await expect(outbox.flush()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.events).toEqual(events);
    expect(errors[0]?.rejected).toEqual([]);
    expect(errors[0]?.cause).toBeInstanceOf(StoaConnectionError);
    expect(errors[0]?.message).toBe(
      `3 usage event(s) were not delivered to Stoa: Stoa API could not be reached (POST ${CLOSED}/v1/usage/events).`,
    );
    expect(clock.waits).toEqual([250, 500]);
  });

  it("settles Delivered true for a batch stored whole, false for one with a rejected event or a failed POST", async () => {
    const runId = newRunId("storedflag");
    const { outbox } = setup(runId);
    const stored = outbox.add(usageEvent());
    await outbox.flush();
    const good = outbox.add(usageEvent());
    const bad = outbox.add(usageEvent({ occurredAt: "yesterday" })); // the same batch, so the same group
    await outbox.flush();
    expect([await stored, await good, await bad]).toEqual([true, false, false]);
    const down = setup("", { baseUrl: CLOSED, budgetMs: 300 }).outbox;
    const lost = down.add(usageEvent());
    await down.flush();
    expect(await lost).toBe(false);
  });

  it("stores an event once after a 503, with the same key on both POSTs", async () => {
    const runId = newRunId("o503");
    await configureStoa(runId, { failures: [503] });
    const { outbox, errors, clock } = setup(runId);
    const event = usageEvent();
    outbox.add(event);
    await outbox.flush();
    const received = await stoaReceived(runId);
    expect(received).toHaveLength(2);
    expect(received[1]?.headers["idempotency-key"]).toBe(received[0]?.headers["idempotency-key"]);
    expect(received[1]?.body).toEqual(received[0]?.body);
    expect(await stoaEvents(runId)).toEqual([event]);
    expect(errors).toEqual([]);
    expect(clock.waits).toEqual([250]);
  });

  it("does not retry a 400 and hands all the batch's events to onError", async () => {
    const runId = newRunId("o400");
    await configureStoa(runId, { failures: [400] });
    const { outbox, errors, clock } = setup(runId);
    const events = usageEvents(2);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    expect(await stoaReceived(runId)).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.events).toEqual(events);
    expect(errors[0]?.cause).toBeInstanceOf(StoaAPIError);
    expect(errors[0]?.cause).toMatchObject({ status: 400, code: "api_error", apiCode: "simulated_failure" });
    expect(clock.waits).toEqual([]);
  });

  it("takes any 2xx as stored, even with a body that is not JSON", async () => {
    const runId = newRunId("o2xxtext");
    // the fake stores the events; a proxy in front of it then answers 200 with plain text
    const { outbox, errors } = setup(runId, {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        await response.body?.cancel();
        return new Response("OK", { status: 200, headers: { "content-type": "text/plain" } });
      },
    });
    const events = usageEvents(39);
    for (const event of events) outbox.add(event);
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual(ids(events));
    expect(await stoaReceived(runId)).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it("hands an event too large for any body to onError without sending it", async () => {
    const runId = newRunId("huge");
    const { outbox, errors } = setup(runId, { maxBatchBytes: 2000 });
    const small = usageEvent();
    const huge = usageEvent({ metadata: { note: "x".repeat(2000) } });
    outbox.add(small);
    outbox.add(huge);
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual([small.id]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.events).toEqual([huge]);
    expect(errors[0]?.rejected).toEqual([
      { id: huge.id, code: "event_too_large", message: "larger than a whole request body (2000 bytes) may be" },
    ]);
  });

  it("accounts for every event: stored or handed to onError", async () => {
    const runId = newRunId("ledger");
    await configureStoa(runId, { failures: [503, 429] });
    const { outbox, errors } = setup(runId);
    const events = usageEvents(700);
    events[10] = usageEvent({ status: "done" as UsageEvent["status"] });
    events[650] = usageEvent({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, k) => [`k${k}`, "v"])) });
    for (const event of events) outbox.add(event);
    await outbox.flush();
    const stored = ids(await stoaEvents(runId));
    const failed = ids(errors.flatMap((error) => error.events));
    expect(stored).toHaveLength(698);
    expect(failed.sort()).toEqual([events[10]?.id, events[650]?.id].sort());
    expect([...stored, ...failed].sort()).toEqual(ids(events).sort());
  });

  it("contains an onError that throws", async () => {
    // (an async hook's rejection is the Stoa wrapper's to contain: the outbox's onError is synchronous)
    const runId = newRunId("throws");
    let calls = 0;
    const { outbox } = setup(runId, {
      apiKey: "sk_test_wrong",
      onError: () => {
        calls++;
        throw new Error("onError broke");
      },
    });
    outbox.add(usageEvent());
    await expect(outbox.flush()).resolves.toBeUndefined();
    outbox.add(usageEvent());
    await expect(outbox.flush()).resolves.toBeUndefined();
    expect(calls).toBe(2);
    expect(outbox.held).toBe(0);
  });

  it("never throws from add() when waitUntil throws, delivers anyway, and says so once per waitUntil", async () => {
    const runId = newRunId("addsafe");
    const errors: unknown[] = [];
    const { outbox } = setup(runId, { onError: (error) => errors.push(error) });
    const [a, b, c] = usageEvents(3) as [UsageEvent, UsageEvent, UsageEvent];
    const late: WaitUntil = () => {
      throw new Error("waitUntil called after the response");
    };
    // the classic slip: a method passed without its object
    const ctx = {
      promises: [] as Promise<unknown>[],
      waitUntil(this: { promises: Promise<unknown>[] }, promise: Promise<unknown>) {
        this.promises.push(promise);
      },
    };
    expect(outbox.add(a, late)).toBeInstanceOf(Promise);
    await nextTask();
    expect(outbox.add(b, late)).toBeInstanceOf(Promise);
    expect(outbox.add(c, ctx.waitUntil as WaitUntil)).toBeInstanceOf(Promise);
    await outbox.flush();
    expect(ids(await stoaEvents(runId)).sort()).toEqual([a.id, b.id, c.id].sort());
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(StoaConfigError);
      expect((error as Error).message).toContain("ctx.waitUntil.bind(ctx)");
    }
    expect((errors[0] as Error).cause).toMatchObject({ message: "waitUntil called after the response" });
    expect((errors[1] as Error).cause).toBeInstanceOf(TypeError);
  });
});

describe("createOutbox options", () => {
  it("throws StoaConfigError for out-of-range options", () => {
    const api = createApiClient({ apiKey: "sk", baseUrl: "https://stoa.test/api" });
    const onError = () => {};
    expect(() => createOutbox({ api, onError, maxBatch: 0 })).toThrow(StoaConfigError);
    expect(() => createOutbox({ api, onError, maxBatch: 501 })).toThrow(
      "maxBatch must be an integer from 1 to 500; got 501.",
    );
    expect(() => createOutbox({ api, onError, maxBatchBytes: MAX_BATCH_BYTES + 1 })).toThrow(StoaConfigError);
    expect(() => createOutbox({ api, onError: undefined as unknown as () => void })).toThrow(StoaConfigError);
    expect(createOutbox({ api, onError, maxBatch: 500, maxBatchBytes: MAX_BATCH_BYTES })).toHaveProperty("flush");
  });
});

describe("bounds while Stoa is down", () => {
  it("at 1,000 events/s for 2 s of 503s: few POSTs per event, never more than the cap held, every event accounted for", async () => {
    // issue 12's 100 calls/s for 20 s against a 25 s budget, ten times faster: 50 ms base, 1 s cap, 2.5 s budget
    const runId = newRunId("outage");
    await configureStoa(runId, { failures: Array.from({ length: 50_000 }, () => 503) });
    const api = createApiClient({
      apiKey: FAKE_STOA_API_KEY,
      baseUrl: stoaBase(runId),
      retry: { baseDelayMs: 50, maxDelayMs: 1_000, budgetMs: 2_500, random: () => 0.5 },
    });
    const errors: StoaDeliveryError[] = [];
    const outbox = createOutbox({ api, onError: (e) => errors.push(e as StoaDeliveryError), maxEvents: 1_500 });
    const events = usageEvents(2_000);
    let most = 0;
    for (let tick = 0; tick < 200; tick++) {
      for (let i = 0; i < 10; i++) outbox.add(events[tick * 10 + i] as UsageEvent);
      most = Math.max(most, outbox.held);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await configureStoa(runId, { failures: [] });
    await outbox.flush();

    const posts = (await stoaReceived(runId)).filter((r) => r.path === "/v1/usage/events");
    const attempts = new Map<unknown, number>();
    for (const post of posts) {
      for (const id of ids((post.body as { events: UsageEvent[] }).events)) {
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
      }
    }
    const stored = ids(await stoaEvents(runId));
    const reported = ids(errors.flatMap((error) => error.events));
    expect(most).toBe(1_500);
    expect(outbox.held).toBe(0);
    // every event stored or reported (one whose last attempt timed out as Stoa came back may be both)
    expect(new Set([...stored, ...reported]).size).toBe(2_000);
    expect(new Set(stored).size).toBe(stored.length);
    expect(posts.length / 2_000).toBeLessThanOrEqual(3);
  }, 20_000);

  it("reports what is over maxEvents at once, with the events, and keeps the rest", async () => {
    const runId = newRunId("cap");
    await configureStoa(runId, { delayMs: 50 });
    const { errors } = setup(runId);
    const api = createApiClient({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId) });
    const outbox = createOutbox({ api, onError: (e) => errors.push(e as StoaDeliveryError), maxEvents: 3 });
    const events = usageEvents(5);
    for (const event of events) outbox.add(event);
    expect(outbox.held).toBe(3);
    await outbox.flush();
    expect(ids(await stoaEvents(runId))).toEqual(ids(events.slice(0, 3)));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(StoaDeliveryError);
    expect(errors[0]?.events).toEqual(events.slice(3));
    expect(errors[0]?.message).toBe(
      "2 usage event(s) were not queued: the outbox already holds 3 events (Stoa is slow or down).",
    );
  });

  it("runs at most maxConcurrent deliveries, and retries a batch with one key and one body", async () => {
    const runId = newRunId("conc");
    await configureStoa(runId, { delayMs: 30, failures: [503] });
    let inFlight = 0;
    let most = 0;
    const api = createApiClient({
      apiKey: FAKE_STOA_API_KEY,
      baseUrl: stoaBase(runId),
      retry: { ...fakeClock(0.5) },
      fetch: async (input, init) => {
        most = Math.max(most, ++inFlight);
        try {
          return await fetch(input, init);
        } finally {
          inFlight--;
        }
      },
    });
    const errors: Error[] = [];
    const outbox = createOutbox({ api, onError: (e) => errors.push(e), maxConcurrent: 2, maxBatch: 2 });
    const lanes = [recorder(), recorder(), recorder()];
    const events = usageEvents(6);
    for (const [i, event] of events.entries()) outbox.add(event, lanes[i % 3]);
    await outbox.flush();
    const posts = await stoaReceived(runId);
    expect(most).toBe(2);
    expect(posts.map((p) => ids((p.body as { events: UsageEvent[] }).events)).sort()).toEqual(
      [
        [events[0]?.id, events[3]?.id],
        [events[0]?.id, events[3]?.id],
        [events[1]?.id, events[4]?.id],
        [events[2]?.id, events[5]?.id],
      ].sort(),
    );
    const first = posts.filter((p) => JSON.stringify(p.body) === JSON.stringify(posts[0]?.body));
    expect(first.map((p) => p.headers["idempotency-key"])).toEqual([
      posts[0]?.headers["idempotency-key"],
      posts[0]?.headers["idempotency-key"],
    ]);
    expect(ids(await stoaEvents(runId)).sort()).toEqual(ids(events).sort());
    expect(lanes.map((lane) => lane.promises.length)).toEqual([1, 1, 1]);
    expect(errors).toEqual([]);
  });
});
