/**
 * Figure 2: a streamed chat completion (2,000 chunks) read through the real
 * openai SDK, metered (`stoa.fetch()`, events delivered to the Stoa sink in
 * the provider child process) versus the plain global fetch, against the fake
 * provider in a child process. Ratios metered / unmetered of the client's
 * CPU and of wall time, for the stream read. Each variant runs in a client
 * process of its own (`fig2-client.ts`: a heap of its own, so each pays for
 * its own garbage), told over IPC to make one call at a time, interleaved.
 *
 * What a user pays: the provider writes one SSE event per write, each flushed
 * on its own (`/events`); each call builds its client and its `stoa.fetch()`,
 * as an app does per request, and is admitted under a spend hold with room
 * (the default gate; the hold's first request is in a warm-up round, and
 * the hold lives across calls, as in a server or a Worker's isolate);
 * the app sends no `stream_options`, so the meter injects `include_usage` and
 * cuts the usage chunk out (the default path). `sdkStreamCpuRatioAppUsage`
 * is the same when the app asks `include_usage` itself (nothing to cut). The usage event's delivery (one
 * POST to the sink, after the read, in the call's `waitUntil`) is reported apart:
 * on Node 22 one loopback `fetch` costs about 2 ms of CPU by itself.
 */
import type { ClientRound } from "./fig2-client.ts";
import { clientProcesses, interleave, median, pairedRatio, provider, report } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 42); // whole turns of the three variants' order
const WARMUP = 6;
const VARIANTS = ["metered", "appUsage", "plain"] as const;
/** Client processes per variant. */
const PROCESSES = 3;

export async function run(): Promise<Record<string, number>> {
  const server = await provider();
  const clients = Object.fromEntries(
    await Promise.all(
      VARIANTS.map(
        async (variant) =>
          [
            variant,
            await clientProcesses<ClientRound>("./fig2-client.ts", [variant, server.origin], PROCESSES),
          ] as const,
      ),
    ),
  ) as Record<(typeof VARIANTS)[number], Awaited<ReturnType<typeof clientProcesses<ClientRound>>>>;
  const wall = { metered: [] as number[], appUsage: [] as number[], plain: [] as number[] };
  const delivery: number[] = [];
  let errors = 0;

  async function round(variant: (typeof VARIANTS)[number]): Promise<number> {
    const result = await clients[variant].run();
    if (result.chunks !== 2000) throw new Error(`${variant}: ${result.chunks} chunks`);
    errors = Math.max(errors, result.errors);
    wall[variant].push(result.wall);
    if (variant !== "plain") delivery.push(result.delivery);
    return result.cpu;
  }

  const cpu = await interleave(
    { metered: () => round("metered"), appUsage: () => round("appUsage"), plain: () => round("plain") },
    ROUNDS,
    WARMUP,
  );
  for (const c of Object.values(clients)) c.close();
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
