/**
 * One variant of figure 2 in a process of its own (a heap of its own, as two
 * apps would have): told `run` over IPC, it reads one 2,000-chunk stream
 * through the openai SDK and answers its CPU (this process, all threads) and
 * wall time, then the CPU of the event's delivery in the call's `waitUntil`.
 *
 *   node bench/fig2-client.ts <plain|metered|appUsage> <provider origin>
 */
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { chatRequest, cpuUs, serveRounds } from "./lib.ts";

type Variant = "plain" | "metered" | "appUsage";

/** What one call cost. */
export interface ClientRound {
  cpu: number;
  wall: number;
  delivery: number;
  chunks: number;
  errors: number;
}

const variant = process.argv[2] as Variant;
const origin = process.argv[3] as string;
let errors = 0;
const stoa = new Stoa({ apiKey: "k", baseUrl: `${origin}/sink`, onError: () => errors++ });
const base = new OpenAI({ apiKey: "x", baseURL: `${origin}/events/v1`, maxRetries: 0 });

async function round(): Promise<ClientRound> {
  const startCpu = cpuUs();
  const startWall = performance.now();
  // a client per call, as an app on Workers makes one per request, with that request's waitUntil
  const pending: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => void pending.push(promise);
  const client =
    variant === "plain"
      ? base.withOptions({ maxRetries: 0 })
      : base.withOptions({ fetch: stoa.fetch({ provider: "openai", userId: "user_1", waitUntil }) });
  const usage = variant === "appUsage" ? { stream_options: { include_usage: true } } : {};
  const stream = await client.chat.completions.create({ ...chatRequest(true), ...usage, stream: true });
  let chunks = 0;
  for await (const chunk of stream) if (chunk.choices.length > 0) chunks++;
  const wall = performance.now() - startWall;
  const cpu = cpuUs() - startCpu;
  // the event's delivery runs after the read, in the call's waitUntil: measured apart (not flush(),
  // which retires the user's spend hold: each call would then ask for a new one)
  const startDelivery = cpuUs();
  await Promise.all(pending);
  const delivery = cpuUs() - startDelivery;
  return { cpu, wall, delivery, chunks, errors };
}

serveRounds(round);
