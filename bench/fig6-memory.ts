/**
 * Figure 6: peak memory of an app that pauses 1.5 s after the first chunk
 * of a 50 MB stream the provider (child process) sends as fast as it can.
 * Each run is a fresh process (bench/fig6-app.ts) so peaks never mix; runs
 * alternate metered and unmetered. Growth = median peak metered − median
 * peak unmetered, of rss and of arrayBuffers; the figure is the larger.
 */
import { fork } from "node:child_process";
import { here, median, provider, report } from "./lib.ts";

const PAIRS = Number(process.env.BENCH_ROUNDS ?? 4);

interface Peak {
  rssMB: number;
  arrayBuffersMB: number;
  pauseArrayBuffersMB: number;
  bytes: number;
}

function app(variant: string, origin: string): Promise<Peak> {
  const child = fork(here("./fig6-app.ts"), [variant, origin], { execArgv: ["--expose-gc"], stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("message", (peak) => resolve(peak as Peak));
    child.once("exit", (code) => reject(new Error(`memory app exited (${code}) without a result`)));
  });
}

export async function run(): Promise<Record<string, number>> {
  const server = await provider();
  const peaks: Record<string, Peak[]> = { metered: [], plain: [] };
  for (let i = 0; i < PAIRS; i++) {
    for (const variant of i % 2 === 0 ? ["metered", "plain"] : ["plain", "metered"]) {
      const peak = await app(variant, server.origin);
      if (peak.bytes < 50 * 1024 * 1024) throw new Error(`${variant}: read ${peak.bytes} bytes`);
      peaks[variant]?.push(peak);
    }
  }
  server.close();
  const of = (variant: string, key: "rssMB" | "arrayBuffersMB" | "pauseArrayBuffersMB") =>
    median((peaks[variant] ?? []).map((peak) => peak[key]));
  const rss = of("metered", "rssMB") - of("plain", "rssMB");
  const buffers = of("metered", "arrayBuffersMB") - of("plain", "arrayBuffersMB");
  return {
    peakMemoryGrowthMB: Math.max(rss, buffers),
    rssGrowthMB: rss,
    arrayBuffersGrowthMB: buffers,
    plainPeakRssMB: of("plain", "rssMB"),
    meteredPeakRssMB: of("metered", "rssMB"),
    plainPeakArrayBuffersMB: of("plain", "arrayBuffersMB"),
    meteredPeakArrayBuffersMB: of("metered", "arrayBuffersMB"),
    plainPauseArrayBuffersMB: of("plain", "pauseArrayBuffersMB"),
    meteredPauseArrayBuffersMB: of("metered", "pauseArrayBuffersMB"),
  };
}

if (import.meta.main) report(await run());
