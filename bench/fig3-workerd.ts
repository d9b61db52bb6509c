/**
 * Figure 3: the openai SDK stream of figure 2 inside workerd. bench/worker.ts
 * is bundled with esbuild and run by Miniflare; it reads the fake provider
 * (child process) on 127.0.0.1 directly. The CPU of the workerd process
 * (all its threads, /proc) is read around each run; variants are
 * interleaved. Ratio metered / plain, and µs per chunk of each design.
 */
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import {
  childPids,
  here,
  interleave,
  median,
  pairedRatio,
  processCpuUs,
  processTicksUs,
  provider,
  report,
} from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const CHUNKS = 2000;
const VARIANTS = [
  "plain",
  "metered",
  "meteredAppUsage",
  "transform",
  "tee",
  "hop",
  "identity",
  "byob",
  "coalesce",
] as const;

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [here("./worker.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}

export async function run(): Promise<Record<string, number>> {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  const server = await provider();
  const script = await bundle();
  // Miniflare 5 takes a new option shape; this converts the classic one
  const mf = new Miniflare(
    convertV4MiniflareOptions({ workers: [{ name: "bench", modules: true, script, compatibilityDate: "2026-11-01" }] }),
  );
  try {
    await mf.ready;
    const [pid] = childPids(process.pid, "workerd");
    if (pid === undefined) throw new Error("no workerd child process found");
    const ticksAtStart = processTicksUs(pid);
    let measured = 0;
    const reads: number[] = [];

    const once = (variant: string) => async () => {
      const start = processCpuUs(pid);
      const response = await mf.dispatchFetch(`http://bench/run?variant=${variant}&origin=${server.origin}`);
      const result = (await response.json()) as { chunks: number; reads: number; errors: string[] };
      if (result.reads > 0) reads.push(result.reads);
      const cpu = processCpuUs(pid) - start;
      measured += cpu;
      if (result.chunks !== CHUNKS || result.errors.length > 0) {
        throw new Error(`${variant}: ${result.chunks} chunks, errors: ${result.errors.join("; ")}`);
      }
      return cpu;
    };
    const warm = Object.fromEntries(VARIANTS.map((variant) => [variant, once(variant)])) as Record<
      (typeof VARIANTS)[number],
      () => Promise<number>
    >;
    const cpu = await interleave(warm, ROUNDS, 3);
    const ticks = processTicksUs(pid) - ticksAtStart;

    const perChunk = (variant: (typeof VARIANTS)[number]) => median(cpu[variant]) / CHUNKS;
    return {
      workerdSdkStreamCpuRatio: pairedRatio(cpu.metered, cpu.plain),
      workerdPlainUsPerChunk: perChunk("plain"),
      workerdMeteredUsPerChunk: perChunk("metered"),
      workerdTransformUsPerChunk: perChunk("transform"),
      workerdTeeUsPerChunk: perChunk("tee"),
      workerdHopUsPerChunk: perChunk("hop"),
      workerdIdentityUsPerChunk: perChunk("identity"),
      workerdByobUsPerChunk: perChunk("byob"),
      workerdCoalesceUsPerChunk: perChunk("coalesce"),
      workerdMeteredAppUsageUsPerChunk: perChunk("meteredAppUsage"),
      workerdTransformCpuRatio: pairedRatio(cpu.transform, cpu.plain),
      workerdTeeCpuRatio: pairedRatio(cpu.tee, cpu.plain),
      workerdBodyReadsPerStream: median(reads),
      // the per-thread clock should account for the process's whole CPU (ticks include threads that exited)
      workerdClockCoverage: measured / ticks,
    };
  } finally {
    await mf.dispose();
    server.close();
  }
}

if (import.meta.main) report(await run());
