/**
 * Figure 2: a streamed chat completion (2,000 chunks) read through the real
 * openai SDK, metered (`stoa.fetch()`, events delivered to the Stoa sink in
 * the provider child process) versus the plain global fetch, against the fake
 * provider in a child process. Ratios metered / unmetered of the client's
 * CPU and of wall time, for the stream read.
 *
 * What a user pays: the provider writes one SSE event per write, each flushed
 * on its own (`/events`); each call builds its client and its `stoa.fetch()`,
 * as an app does per request, and is admitted under a spend hold with room
 * (the default gate; the hold's first request is in a warm-up round);
 * the app sends no `stream_options`, so the meter injects `include_usage` and
 * cuts the usage chunk out (the default path). `sdkStreamCpuRatioAppUsage`
 * is the same when the app asks `include_usage` itself (nothing to cut). The usage event's delivery (one
 * POST to the sink, after the read, as `waitUntil` runs it) is reported apart:
 * on Node 22 one loopback `fetch` costs about 2 ms of CPU by itself.
 */
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { chatRequest, cpuUs, interleave, median, pairedRatio, provider, report } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const WARMUP = 6;

export async function run(): Promise<Record<string, number>> {
  const server = await provider();
  let errors = 0;
  const stoa = new Stoa({ apiKey: "k", baseUrl: `${server.origin}/sink`, onError: () => errors++ });
  const baseURL = `${server.origin}/events/v1`;
  const base = new OpenAI({ apiKey: "x", baseURL, maxRetries: 0 });
  const wall = { metered: [] as number[], appUsage: [] as number[], plain: [] as number[] };
  const delivery: number[] = [];

  async function round(variant: "metered" | "appUsage" | "plain"): Promise<number> {
    const startCpu = cpuUs();
    const startWall = performance.now();
    // a client per call, as an app on Workers makes one per request
    const client =
      variant === "plain"
        ? base.withOptions({ maxRetries: 0 })
        : base.withOptions({ fetch: stoa.fetch({ provider: "openai", userId: "user_1" }) });
    const usage = variant === "appUsage" ? { stream_options: { include_usage: true } } : {};
    const stream = await client.chat.completions.create({ ...chatRequest(true), ...usage, stream: true });
    let chunks = 0;
    for await (const chunk of stream) if (chunk.choices.length > 0) chunks++;
    wall[variant].push(performance.now() - startWall);
    const readCpu = cpuUs() - startCpu;
    if (variant !== "plain") {
      // the event's delivery runs after the read (in a Worker, inside waitUntil): measured apart
      const startDelivery = cpuUs();
      await stoa.flush();
      delivery.push(cpuUs() - startDelivery);
    }
    if (chunks !== 2000) throw new Error(`${variant}: ${chunks} chunks`);
    return readCpu;
  }

  const cpu = await interleave(
    { metered: () => round("metered"), appUsage: () => round("appUsage"), plain: () => round("plain") },
    ROUNDS,
    WARMUP,
  );
  server.close();
  if (errors > 0) throw new Error(`the meter reported ${errors} errors`);
  return {
    sdkStreamCpuRatio: pairedRatio(cpu.metered, cpu.plain),
    sdkStreamWallRatio: pairedRatio(wall.metered.slice(WARMUP), wall.plain.slice(WARMUP)),
    sdkStreamCpuRatioAppUsage: pairedRatio(cpu.appUsage, cpu.plain),
    plainCpuUsPerChunk: median(cpu.plain) / 2000,
    meteredCpuUsPerChunk: median(cpu.metered) / 2000,
    plainWallMs: median(wall.plain.slice(WARMUP)),
    deliveryCpuUsPerStream: median(delivery),
  };
}

if (import.meta.main) report(await run());
