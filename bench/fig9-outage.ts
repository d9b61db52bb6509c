/**
 * Figure 9: the in-memory outbox (no queue given) while Stoa is down. Stoa
 * answers 503 to every `POST /v1/usage/events` for 20 s while 100 metered
 * calls a second finish (2 000 events), then comes back; the run goes on
 * until every event is stored or reported. Figures: POST attempts per event
 * (`outboxPostsPerEventDuringOutage`), the most attempts that carried one
 * event, the most events held at once against the cap (`maxEvents`), and
 * that every event was stored or reported.
 *
 * Time is simulated: the retry loop runs on a virtual clock (its `sleep`
 * waits for the driver to move the clock), and `fetch` answers in memory,
 * so 20 s of outage plus the 25 s retry budget take a second or two and the
 * figure does not depend on the machine. Between two moves of the clock the
 * driver lets the real event loop run until the outbox is idle (its
 * zero-delay batching timers, the client's promises). The default retry
 * policy (500 ms base, 10 s cap, 25 s budget) and outbox bounds (10 000
 * events, 4 deliveries at once) are used; `random` is a fixed sequence.
 *
 * Two shapes of app: one process without `waitUntil` (Node, Deno Deploy:
 * one lane, so pending events share batches), and one `waitUntil` per call
 * (Workers: a delivery belongs to its request, so batches cannot mix
 * requests' events). A third run gives the second a cap of 500 events, to
 * show the bound hold: never more held, the rest reported at once.
 */
import { createApiClient } from "../src/api/client.ts";
import type { RetryClock } from "../src/api/retry.ts";
import { createOutbox } from "../src/delivery/outbox.ts";
import type { StoaDeliveryError } from "../src/errors.ts";
import type { UsageEvent } from "../src/usage.ts";
import { usageEvent } from "./events.ts";
import { report } from "./lib.ts";

const CALLS_PER_SECOND = 100;
const OUTAGE_MS = 20_000;
const MAX_EVENTS = 10_000;

/** A clock whose `sleep` resolves when the driver moves `now` past its end. */
function virtualClock() {
  let now = 0;
  let seed = 1;
  const sleepers: { at: number; resolve: () => void }[] = [];
  const clock: RetryClock = {
    now: () => now,
    random: () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; // a fixed sequence, the same each run
      return seed / 2_147_483_648;
    },
    sleep: (ms) => new Promise<void>((resolve) => sleepers.push({ at: now + ms, resolve })),
  };
  return {
    clock,
    /** The next time a sleeper wakes, if any. */
    next: () => (sleepers.length === 0 ? undefined : Math.min(...sleepers.map((s) => s.at))),
    /** Moves to `to`, waking the sleepers due by then. */
    moveTo(to: number) {
      now = Math.max(now, to);
      for (let i = sleepers.length - 1; i >= 0; i--) {
        const sleeper = sleepers[i] as { at: number; resolve: () => void };
        if (sleeper.at <= now) {
          sleepers.splice(i, 1);
          sleeper.resolve();
        }
      }
    },
  };
}

/** Lets the real event loop run: timers of 0 ms first, then what they start (all in memory). */
async function idle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
}

const event = (i: number): UsageEvent => usageEvent("outage", i);

interface Outcome {
  posts: number;
  postsPerEvent: number;
  mostPostsForOneEvent: number;
  mostHeld: number;
  stored: number;
  reported: number;
  lost: number;
  simulatedSeconds: number;
}

async function run(perCallWaitUntil: boolean, maxEvents = MAX_EVENTS): Promise<Outcome> {
  const time = virtualClock();
  let down = true;
  const attempts = new Map<string, number>();
  const stored = new Set<string>();
  let posts = 0;
  const fetch = async (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    posts++;
    const body = JSON.parse(String(init?.body)) as { events: UsageEvent[] };
    for (const { id } of body.events) attempts.set(id, (attempts.get(id) ?? 0) + 1);
    if (down) return new Response('{"error":{"code":"unavailable","message":"down"}}', { status: 503 });
    for (const { id } of body.events) stored.add(id);
    return Response.json({ rejected: [] });
  };
  const api = createApiClient({ apiKey: "sk_bench", baseUrl: "https://stoa.invalid/api", fetch, retry: time.clock });
  const reported = new Set<string>();
  const onError = (error: Error) => {
    for (const { id } of (error as StoaDeliveryError).events ?? []) reported.add(id);
  };
  const outbox = createOutbox({ api, onError, maxEvents });
  const total = (OUTAGE_MS / 1_000) * CALLS_PER_SECOND;
  const step = 1_000 / CALLS_PER_SECOND;
  let mostHeld = 0;
  const kept: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const at = i * step;
    for (let wake = time.next(); wake !== undefined && wake <= at; wake = time.next()) {
      time.moveTo(wake);
      await idle();
    }
    time.moveTo(at);
    outbox.add(event(i), perCallWaitUntil ? (promise) => void kept.push(promise) : undefined);
    mostHeld = Math.max(mostHeld, outbox.held);
    await idle();
  }
  time.moveTo(OUTAGE_MS);
  down = false;
  const flushed = outbox.flush();
  for (let wake = time.next(); wake !== undefined; wake = time.next()) {
    time.moveTo(wake);
    await idle();
  }
  await flushed;
  const lost = Array.from({ length: total }, (_, i) => `openai:chatcmpl-outage-${i}`).filter(
    (id) => !stored.has(id) && !reported.has(id),
  ).length;
  return {
    posts,
    postsPerEvent: Number((posts / total).toFixed(3)),
    mostPostsForOneEvent: Math.max(...attempts.values()),
    mostHeld,
    stored: stored.size,
    reported: reported.size,
    lost,
    simulatedSeconds: Number((time.clock.now() / 1_000).toFixed(1)),
  };
}

const oneLane = await run(false);
const perRequest = await run(true);
const SMALL_CAP = 500;
const capped = await run(true, SMALL_CAP);
for (const [name, outcome, cap] of [
  ["one lane", oneLane, MAX_EVENTS],
  ["per request", perRequest, MAX_EVENTS],
  ["per request, cap 500", capped, SMALL_CAP],
] as const) {
  if (outcome.lost !== 0) throw new Error(`${name}: ${outcome.lost} events neither stored nor reported`);
  if (outcome.mostHeld > cap) throw new Error(`${name}: held ${outcome.mostHeld}, over the cap of ${cap}`);
}
if (process.send === undefined) console.error({ oneLane, perRequest, capped });
report({
  outboxPostsPerEventDuringOutage: Math.max(oneLane.postsPerEvent, perRequest.postsPerEvent),
  outagePostsPerEventOneLane: oneLane.postsPerEvent,
  outagePostsPerEventPerRequest: perRequest.postsPerEvent,
  outageMostPostsForOneEvent: Math.max(oneLane.mostPostsForOneEvent, perRequest.mostPostsForOneEvent),
  outageMostEventsHeld: Math.max(oneLane.mostHeld, perRequest.mostHeld),
  outageEventsCap: MAX_EVENTS,
  outageMostEventsHeldCap500: capped.mostHeld,
  outageReportedCap500: capped.reported,
});
