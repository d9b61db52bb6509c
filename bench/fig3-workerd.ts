/**
 * Figure 3: the openai SDK stream of figure 2 inside workerd. bench/worker.ts
 * is bundled with esbuild and run by Miniflare; it reads the fake provider
 * (child process) on 127.0.0.1 directly. The CPU of the workerd process
 * (all its threads, /proc) is read around each run; variants are
 * interleaved, each client's variants in a group of their own (the
 * alternative designs apart from the pair a figure compares). Ratio
 * metered / plain, and µs per chunk of each design. The openai pair (and the
 * app-set usage path) run each in a Worker of its own, so each pays for its
 * own garbage; every figure is also read on the isolate thread alone.
 *
 * The same for `@anthropic-ai/sdk` (a 2,000-delta Messages stream) and the AI
 * SDK (`streamText` over the openai stream), and for a worker that proxies:
 * it returns `new Response(meteredBody)` to its client (here Miniflare's
 * `dispatchFetch`, read to the end), the event delivered in that request's
 * `waitUntil`, waited for inside the same round.
 */
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import {
  childPids,
  here,
  interleave,
  JSON_CALLS,
  mainThreadCpuUs,
  median,
  pairedDiff,
  pairedRatio,
  processCpuUs,
  processTicksUs,
  provider,
  report,
} from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
/** The key pair (openai plain and metered) swings most between rounds: about twice the rounds (whole turns of three). */
const MAIN_ROUNDS = 6 * Math.ceil((2 * ROUNDS) / 6);
const CHUNKS = 2000;
/** Chunks of the short stream: a call's own cost shows. */
const SHORT_CHUNKS = 20;
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
  "anthropicPlain",
  "anthropicMetered",
  "aiSdkPlain",
  "aiSdkMetered",
  "proxyPlain",
  "proxyMetered",
  "shortPlain",
  "shortMetered",
  "jsonPlain",
  "jsonMetered",
] as const;

/** Variants that run in a Worker of their own (the key pair, and the app-set usage path beside it). */
const OWN_ISOLATE = ["plain", "metered", "meteredAppUsage"] as const;

/** Events each variant must see: SDK chunks, AI SDK text parts (the last chunk has none), or SSE `data:` lines proxied. */
const EXPECTED: Partial<Record<(typeof VARIANTS)[number], number>> = {
  aiSdkPlain: CHUNKS - 1,
  aiSdkMetered: CHUNKS - 1,
  proxyPlain: CHUNKS + 2, // the usage chunk and [DONE]
  proxyMetered: CHUNKS + 1, // the usage chunk is cut
  shortPlain: SHORT_CHUNKS,
  shortMetered: SHORT_CHUNKS,
  jsonPlain: JSON_CALLS,
  jsonMetered: JSON_CALLS,
};

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
  // Miniflare 5 takes a new option shape; this converts the classic one. The openai pair's variants
  // each run in a Worker (an isolate, a heap) of their own, as two apps would: the garbage one variant
  // makes is collected in its own isolate, not during the other's run.
  const worker = (name: string) => ({ name, modules: true, script, compatibilityDate: "2026-11-01" });
  const mf = new Miniflare(
    convertV4MiniflareOptions({ workers: [worker("bench"), ...OWN_ISOLATE.map((variant) => worker(variant))] }),
  );
  try {
    await mf.ready;
    const [pid] = childPids(process.pid, "workerd");
    if (pid === undefined) throw new Error("no workerd child process found");
    const ticksAtStart = processTicksUs(pid);
    let measured = 0;
    const reads: number[] = [];
    const isolate: Partial<Record<(typeof VARIANTS)[number], number[]>> = {}; // the isolate thread's CPU

    type Result = { chunks: number; reads: number; errors: string[] };
    const isolates = new Map(
      await Promise.all(OWN_ISOLATE.map(async (variant) => [variant, await mf.getWorker(variant)] as const)),
    );
    /** Runs `variant` in the shared Worker, or with `isolated` in its own. */
    const call = async (variant: string, isolated = false): Promise<Result> => {
      const url = `http://bench/run?variant=${variant}&origin=${server.origin}`;
      const own = isolated ? isolates.get(variant as (typeof OWN_ISOLATE)[number]) : undefined;
      const response = (
        own === undefined ? await mf.dispatchFetch(url) : await (own as unknown as typeof globalThis).fetch(url)
      ) as Response;
      if (!variant.startsWith("proxy")) return (await response.json()) as Result;
      const text = await response.text();
      // the event's delivery runs in the proxy request's waitUntil: wait for it, inside the round
      let status = await call("status");
      while (status.chunks > 0) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        status = await call("status");
      }
      return { chunks: text.split("data: ").length - 1, reads: 0, errors: status.errors };
    };
    const once = (variant: (typeof VARIANTS)[number], isolated: boolean) => async (): Promise<number> => {
      const start = processCpuUs(pid);
      const startIsolate = mainThreadCpuUs(pid);
      const result = await call(variant, isolated);
      if (result.reads > 0) reads.push(result.reads);
      const cpu = processCpuUs(pid) - start;
      const isolateSamples = isolate[variant] ?? [];
      isolateSamples.push(mainThreadCpuUs(pid) - startIsolate);
      isolate[variant] = isolateSamples;
      measured += cpu;
      if (result.chunks !== (EXPECTED[variant] ?? CHUNKS) || result.errors.length > 0) {
        throw new Error(`${variant}: ${result.chunks} chunks, errors: ${result.errors.join("; ")}`);
      }
      return cpu;
    };
    // Each client's pair is interleaved on its own: a variant that leaves much garbage (the AI SDK,
    // the alternatives) would otherwise be paid for by whichever variant runs after it in the isolate.
    // BENCH_VARIANTS=a,b runs only those (a figure run alone, while working on one path).
    const only = process.env.BENCH_VARIANTS?.split(",");
    type Variant = (typeof VARIANTS)[number];
    const group = async (
      variants: Variant[],
      rounds = ROUNDS,
      isolated = false,
    ): Promise<Record<Variant, number[]>> => {
      const chosen = only === undefined ? variants : variants.filter((variant) => only.includes(variant));
      const runs = Object.fromEntries(chosen.map((v) => [v, once(v, isolated)]));
      const samples = (chosen.length === 0 ? {} : await interleave(runs, rounds, 3)) as Record<string, number[]>;
      return Object.fromEntries(VARIANTS.map((v) => [v, samples[v] ?? [Number.NaN]])) as Record<Variant, number[]>;
    };
    const main = await group(["plain", "metered", "meteredAppUsage"], MAIN_ROUNDS, true);
    const alt = await group(["plain", "hop", "transform", "tee", "identity", "byob", "coalesce"]);
    const anthropic = await group(["anthropicPlain", "anthropicMetered"]);
    const aiSdk = await group(["aiSdkPlain", "aiSdkMetered"]);
    const proxy = await group(["proxyPlain", "proxyMetered"]);
    const short = await group(["shortPlain", "shortMetered"], MAIN_ROUNDS);
    const json = await group(["jsonPlain", "jsonMetered"], MAIN_ROUNDS);
    const cpu = {
      ...main,
      hop: alt.hop,
      transform: alt.transform,
      tee: alt.tee,
      identity: alt.identity,
      byob: alt.byob,
      coalesce: alt.coalesce,
      anthropicPlain: anthropic.anthropicPlain,
      anthropicMetered: anthropic.anthropicMetered,
      aiSdkPlain: aiSdk.aiSdkPlain,
      aiSdkMetered: aiSdk.aiSdkMetered,
      proxyPlain: proxy.proxyPlain,
      proxyMetered: proxy.proxyMetered,
    };
    const ticks = processTicksUs(pid) - ticksAtStart;
    if (process.env.BENCH_SAMPLES)
      (await import("node:fs")).writeFileSync(process.env.BENCH_SAMPLES, JSON.stringify({ cpu, isolate }));

    const perChunk = (variant: (typeof VARIANTS)[number]) => median(cpu[variant]) / CHUNKS;
    /** The same pair's ratio on the isolate thread alone (warm-up rounds dropped, as `interleave` does). */
    const isolateRatio = (a: Variant, b: Variant) => {
      const drop = (samples: number[] | undefined) => (samples ?? []).slice(3);
      return pairedRatio(drop(isolate[a]), drop(isolate[b]));
    };
    return {
      workerdSdkStreamCpuRatio: pairedRatio(cpu.metered, cpu.plain),
      workerdSdkStreamIsolateCpuRatio: isolateRatio("metered", "plain"),
      workerdAnthropicStreamIsolateCpuRatio: isolateRatio("anthropicMetered", "anthropicPlain"),
      workerdAiSdkStreamIsolateCpuRatio: isolateRatio("aiSdkMetered", "aiSdkPlain"),
      workerdPlainUsPerChunk: perChunk("plain"),
      workerdMeteredUsPerChunk: perChunk("metered"),
      workerdTransformUsPerChunk: perChunk("transform"),
      workerdTeeUsPerChunk: perChunk("tee"),
      workerdHopUsPerChunk: perChunk("hop"),
      workerdIdentityUsPerChunk: perChunk("identity"),
      workerdByobUsPerChunk: perChunk("byob"),
      workerdCoalesceUsPerChunk: perChunk("coalesce"),
      workerdMeteredAppUsageUsPerChunk: perChunk("meteredAppUsage"),
      workerdAnthropicStreamCpuRatio: pairedRatio(cpu.anthropicMetered, cpu.anthropicPlain),
      workerdAiSdkStreamCpuRatio: pairedRatio(cpu.aiSdkMetered, cpu.aiSdkPlain),
      workerdProxyCpuRatio: pairedRatio(cpu.proxyMetered, cpu.proxyPlain),
      workerdAnthropicPlainUsPerChunk: perChunk("anthropicPlain"),
      workerdAiSdkPlainUsPerChunk: perChunk("aiSdkPlain"),
      workerdProxyPlainUsPerChunk: perChunk("proxyPlain"),
      workerdTransformCpuRatio: pairedRatio(alt.transform, alt.plain),
      workerdTeeCpuRatio: pairedRatio(alt.tee, alt.plain),
      workerdAltPlainUsPerChunk: median(alt.plain) / CHUNKS,
      workerdBodyReadsPerStream: median(reads),
      workerdShortCallRatio: pairedRatio(short.shortMetered, short.shortPlain),
      workerdShortCallAddedUs: pairedDiff(short.shortMetered, short.shortPlain),
      workerdShortPlainUsPerCall: median(short.shortPlain),
      workerdJsonOverheadUsPerRequest: pairedDiff(json.jsonMetered, json.jsonPlain) / JSON_CALLS,
      workerdJsonPlainUsPerRequest: median(json.jsonPlain) / JSON_CALLS,
      // the per-thread clock should account for the process's whole CPU (ticks include threads that exited)
      workerdClockCoverage: measured / ticks,
    };
  } finally {
    await mf.dispose();
    server.close();
  }
}

if (import.meta.main) report(await run());
