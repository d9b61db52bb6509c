/**
 * Figure 8: the CPU a request spends handing its usage events to a durable
 * queue (`new Stoa({ outbox })`): one event per request, each with its own
 * `waitUntil`, through the queue outbox to a producer whose `sendBatch`
 * resolves at once (the queue's own I/O is not ours). CPU per event, in µs,
 * the median of rounds; the JSON, packing, microtask and promises included.
 * The isolate's steady state: an isolate serves many requests, so the first
 * WARMUP rounds (4 000 events) let the JIT settle and are not counted (with
 * 3 rounds of warm-up the figure was mostly compilation: 7 µs against 2).
 */
import { createApiClient } from "../src/api/client.ts";
import { createOutbox } from "../src/delivery/outbox.ts";
import { createQueueOutbox, type QueueSendRequest } from "../src/delivery/queue-outbox.ts";
import type { UsageEvent } from "../src/usage.ts";
import { usageEvent } from "./events.ts";
import { cpuUs, median, report } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const PER_ROUND = 200;
const WARMUP = 20;

const event = (i: number): UsageEvent => usageEvent("bench", i);

let sent = 0;
const producer = {
  async sendBatch(messages: Iterable<QueueSendRequest>) {
    for (const _ of messages) sent++;
  },
};
const api = createApiClient({ apiKey: "sk_bench", baseUrl: "http://127.0.0.1:1/api" });
const onError = (error: Error) => {
  throw error;
};
const outbox = createQueueOutbox({ producer, fallback: createOutbox({ api, onError }), onError });

const perEvent: number[] = [];
let n = 0;
for (let round = 0; round < ROUNDS + WARMUP; round++) {
  const start = cpuUs();
  for (let i = 0; i < PER_ROUND; i++) {
    const kept: Promise<unknown>[] = [];
    await outbox.add(event(n++), (promise) => void kept.push(promise));
  }
  if (round >= WARMUP) perEvent.push((cpuUs() - start) / PER_ROUND);
}
if (sent !== n) throw new Error(`sent ${sent} messages for ${n} events`);
report({ queueHandOffCpuUsPerEvent: Number(median(perEvent).toFixed(2)) });
