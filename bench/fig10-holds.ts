/**
 * Figure 10: spend holds on the hot path. `holdHotPathCpuUsPerCall` is the CPU
 * a call spends on its hold when the hold has room: the worst case reckoned
 * from the request and the price table, the reservation, and the settlement
 * of its actual cost, less a baseline loop that awaits as many resolved
 * promises in the same process. `holdRoundTripsPer100Calls` counts the hold
 * requests 100 sequential small calls of one user make with the defaults.
 *
 * Stoa here is the bench's in-process one (`memorySink`: the contract's
 * shapes, a $100 member), so only the SDK's own CPU is counted.
 */
import { createApiClient } from "../src/api/client.ts";
import { createChargeabilityGate } from "../src/gate/chargeability.ts";
import { createSpendGate } from "../src/spend/call-gate.ts";
import type { UsageEvent } from "../src/usage.ts";
import { createTurns } from "../src/util/turns.ts";
import { cpuUs, median, memorySink, report } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const PER_ROUND = 500;

let holdRequests = 0;
/** The bench's in-memory Stoa (prices, holds granted in full), counting hold requests. */
const stoa = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  if (String(input).endsWith("/holds")) holdRequests++;
  return memorySink(input, init);
};

function gate() {
  const api = createApiClient({ apiKey: "sk_bench", baseUrl: "http://stoa.bench/api", fetch: stoa });
  const turns = createTurns();
  const onError = (error: Error) => {
    throw error;
  };
  return createSpendGate({
    api,
    chargeability: createChargeabilityGate({ api, onError, turns }),
    onError,
    whenUnavailable: "allow",
    timeoutMs: 2_000,
    turns,
    holdUsd: 0.5,
    holdTtlSeconds: 120,
    keepAlive: () => {},
  });
}

/** A small chat request as the OpenAI SDK sends it. */
const BODY = {
  model: "gpt-4o-mini",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Say hello in three languages, briefly." },
  ],
  stream: true,
  stream_options: { include_usage: true },
};
const BODY_BYTES = new TextEncoder().encode(JSON.stringify(BODY)).byteLength;
const CALL = {
  userId: "user_bench",
  provider: "openai",
  model: "gpt-4o-mini",
  body: BODY,
  bodyBytes: BODY_BYTES,
  waitUntil: undefined,
};
const EVENT = {
  provider: "openai",
  model: "gpt-4o-mini-2024-07-18",
  usage: {
    inputTokens: 176,
    cacheReadTokens: 1024,
    cacheWriteTokens: 0,
    audioInputTokens: 0,
    outputTokens: 300,
    audioOutputTokens: 0,
    reasoningTokens: 0,
    webSearchRequests: 0,
  },
} as UsageEvent;
const DELIVERED = Promise.resolve(true); // stored

// round trips: 100 sequential calls on a fresh gate
const counting = gate();
holdRequests = 0;
for (let i = 0; i < 100; i++) {
  const admission = await counting.admit(CALL);
  if (!admission.allowed) throw new Error("refused");
  admission.settle(EVENT, DELIVERED);
}
const roundTrips = holdRequests;

// CPU: the same, on a gate whose hold has room, against a loop of resolved awaits
const hot = gate();
const warm = await hot.admit(CALL);
if (warm.allowed) warm.settle(EVENT, DELIVERED);
const perCall: number[] = [];
for (let round = 0; round < ROUNDS + 3; round++) {
  let start = cpuUs();
  for (let i = 0; i < PER_ROUND; i++) await DELIVERED;
  const baseline = cpuUs() - start;
  start = cpuUs();
  for (let i = 0; i < PER_ROUND; i++) {
    const admission = await hot.admit(CALL);
    if (!admission.allowed) throw new Error("refused");
    admission.settle(EVENT, DELIVERED);
  }
  if (round >= 3) perCall.push((cpuUs() - start - baseline) / PER_ROUND);
}
report({
  holdHotPathCpuUsPerCall: Number(median(perCall).toFixed(2)),
  holdRoundTripsPer100Calls: roundTrips,
});
