/**
 * Shared pieces of the bench: the OpenAI-shaped SSE events, statistics, CPU
 * clocks, the fake provider child process and the Stoa sinks.
 */
import { type ChildProcess, fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { FALLBACK_PRICE } from "../examples/stoa-server/prices.ts";

export * from "./events.ts";

export const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

// ---------------------------------------------------------------- statistics

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Median of the per-round differences `a[i] − b[i]` (rounds interleaved, so both saw the same noise). */
export function pairedDiff(a: number[], b: number[]): number {
  return median(a.map((value, i) => value - (b[i] as number)));
}

/** Median of the per-round ratios `a[i] / b[i]`. */
export function pairedRatio(a: number[], b: number[]): number {
  return median(a.map((value, i) => value / (b[i] as number)));
}

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** CPU time of this process (all threads), in µs. */
export function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Collects garbage when the process runs with `--expose-gc`. Not used between
 * measured rounds: a forced full GC made the next round's stream reads ~8×
 * dearer in CPU on Node 22 (lazy sweeping and a shrunk young generation).
 */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Runs `variants` in interleaved rounds, after `warmup` unmeasured rounds. The
 * order turns each round, and runs backwards every other turn, so that each
 * variant takes each place (first, middle, last) equally often: with three
 * variants, the middle place measured about 3 % cheaper than the others in
 * figure 2. Returns each variant's samples.
 */
export async function interleave<K extends string>(
  variants: Record<K, () => Promise<number>>,
  rounds: number,
  warmup: number,
): Promise<Record<K, number[]>> {
  const names = Object.keys(variants) as K[];
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < warmup + rounds; round++) {
    // every variant takes every place in the order equally often (a place can be dearer than another)
    const turn = round % names.length;
    const rotated = [...names.slice(turn), ...names.slice(0, turn)];
    const order = Math.floor(round / names.length) % 2 === 0 ? rotated : rotated.reverse();
    for (const name of order) {
      const value = await variants[name]();
      if (round >= warmup) samples[name].push(value);
    }
  }
  return samples;
}

// ---------------------------------------------------------------- client processes

/** A bench client process: `run()` tells it to make one round and answers what it measured. */
export interface ClientProcess<R> {
  run(): Promise<R>;
  close(): void;
}

/**
 * Starts `count` processes of `file` with `args`, taking turns: a figure runs
 * each variant in processes of its own (each heap pays for its own garbage),
 * and two processes running the same code differ by a few %, which turns
 * between several average out. The file answers "ready" once, then one
 * message per `run`.
 */
export async function clientProcesses<R>(file: string, args: string[], count: number): Promise<ClientProcess<R>> {
  const children = await Promise.all(
    Array.from({ length: count }, async () => {
      const child: ChildProcess = fork(here(file), args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      await new Promise<void>((resolve, reject) => {
        child.once("message", () => resolve());
        child.once("exit", (code) => reject(new Error(`${file} ${args.join(" ")} exited (${code})`)));
      });
      return child;
    }),
  );
  let turn = 0;
  return {
    run() {
      const child = children[turn++ % children.length] as ChildProcess;
      return new Promise<R>((resolve) => {
        child.once("message", (message) => resolve(message as R));
        child.send("run");
      });
    },
    close() {
      for (const child of children) child.kill();
    },
  };
}

/** The client side of `clientProcesses`: says "ready", then answers each `run` with one `round()`. */
export function serveRounds<R>(round: () => Promise<R>): void {
  process.on("message", async () => {
    process.send?.(await round());
  });
  process.on("disconnect", () => process.exit(0));
  process.send?.("ready");
}

// ---------------------------------------------------------------- another process's CPU

/**
 * CPU time of process `pid`, all threads, in µs: the sum of each live
 * thread's `/proc/<pid>/task/<tid>/schedstat` (ns, exact) when the kernel
 * has it, else `utime + stime` of `/proc/<pid>/stat` (10 ms ticks).
 */
export function processCpuUs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread exited between the listing and the read
      }
    }
    if (ns > 0) return ns / 1000;
  } catch {
    // no schedstat: fall back to ticks
  }
  return processTicksUs(pid);
}

/** `utime + stime` of `/proc/<pid>/stat` (whole process, exited threads included), in µs. */
/**
 * CPU time of the main thread of process `pid`, in µs (its schedstat). In
 * workerd that is the isolate's thread, which runs every request's
 * JavaScript and is what Workers bill; V8's helper thread (concurrent GC and
 * compilation) is not.
 */
export function mainThreadCpuUs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
}

export function processTicksUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // fields 14 and 15 of stat; USER_HZ is 100
}

/** Pids of the direct children of `parent` whose command name is `name`. */
export function childPids(parent: number, name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent && comm === name) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

// ---------------------------------------------------------------- the fake provider (child process)

export interface ProviderServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): void;
}

/** Starts `bench/provider-server.ts` in a child process, so its CPU is not the client's. */
export async function startProvider(): Promise<ProviderServer> {
  const child: ChildProcess = fork(here("./provider-server.ts"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message) => resolve((message as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`provider server exited (${code})`)));
  });
  child.unref();
  child.channel?.unref();
  return { origin: `http://127.0.0.1:${port}`, close: () => child.kill() };
}

/** The provider named by `BENCH_PROVIDER` (set by run.ts), or a new one for a figure run alone. */
export async function provider(): Promise<ProviderServer> {
  const origin = process.env.BENCH_PROVIDER;
  if (origin !== undefined && origin !== "") return { origin, close() {} };
  return startProvider();
}

// ---------------------------------------------------------------- Stoa sinks

/** The Stoa API's answer to the pre-flight `GET /v1/members/:id/chargeability`: yes, cached for 10 minutes. */
export const CHARGEABLE = '{"userId":"user_1","chargeable":true,"reason":null,"ttlSeconds":600}';

/** The Stoa API's price table (`GET /v1/prices`): the models the bench calls, and the contract's fallback row. */
export const PRICE_TABLE = JSON.stringify({
  currency: "USD",
  ttlSeconds: 3600,
  prices: [
    {
      provider: "openai",
      model: "gpt-4o",
      inputPerMTok: 2.5,
      outputPerMTok: 10,
      cacheReadPerMTok: 1.25,
      maxOutputTokens: 16384,
    },
    {
      provider: "openai",
      model: "gpt-4o-mini",
      inputPerMTok: 0.15,
      outputPerMTok: 0.6,
      cacheReadPerMTok: 0.075,
      maxOutputTokens: 16384,
    },
    {
      provider: "anthropic",
      model: "claude-sonnet-5",
      inputPerMTok: 3,
      outputPerMTok: 15,
      cacheReadPerMTok: 0.3,
      cacheWritePerMTok: 3.75,
      maxOutputTokens: 64000,
    },
  ],
  fallback: FALLBACK_PRICE,
});

let holds = 0;

/**
 * The Stoa API's answer to a spend-hold request (`POST /v1/members/:id/holds`):
 * granted in full, for a member with $100; to a release, its figures.
 */
export function holdAnswer(path: string, body: string): string {
  if (path.endsWith("/release")) return '{"id":"hold","amountUsd":1,"spentUsd":0,"releasedUsd":1}';
  const { targetUsd } = JSON.parse(body) as { targetUsd: number };
  const expiresAt = new Date(Date.now() + 120_000).toISOString();
  return JSON.stringify({
    granted: true,
    id: `hold_${++holds}`,
    userId: "user_1",
    amountUsd: targetUsd,
    expiresAt,
    availableUsd: 100 - targetUsd,
  });
}

/** An in-memory Stoa API: answers every call at once, without parsing the events. */
export async function memorySink(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const headers = { "content-type": "application/json" };
  const path = String(input);
  if (path.endsWith("/chargeability")) return new Response(CHARGEABLE, { headers });
  if (path.endsWith("/v1/prices")) return new Response(PRICE_TABLE, { headers });
  if (path.endsWith("/holds") || path.endsWith("/release")) {
    return new Response(holdAnswer(path, String(init?.body)), { status: 201, headers });
  }
  const body = typeof init?.body === "string" ? init.body : "";
  let accepted = 0;
  for (let at = body.indexOf('"userId":'); at !== -1; at = body.indexOf('"userId":', at + 9)) accepted++;
  return new Response(`{"accepted":${accepted},"duplicates":0,"rejected":[]}`, { headers });
}

/** Reads a stream to its end; returns the bytes read. */
export async function drain(body: ReadableStream<Uint8Array>): Promise<number> {
  const reader = body.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.length;
  }
}

/** Sends a figure's result to run.ts, or prints it when the figure runs alone. */
export function report(result: Record<string, unknown>): void {
  if (process.send !== undefined) process.send(result);
  else console.log(JSON.stringify(result, null, 2));
}
