/**
 * The ground floor of the runtime: what runtime we are on, its environment
 * variables, and the shapes of `fetch` and `waitUntil` the package accepts,
 * without importing anything runtime-specific.
 */

/** The `fetch` signature this package accepts and hands out. */
export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * A `waitUntil` as Workers (`ctx.waitUntil`) and Vercel hand it out. Deno
 * and Deno Deploy have none per request: there, leave it out and call
 * `stoa.flush()` when the server stops.
 */
export type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * The default `fetch`: the global one, looked up at call time (so a test or
 * polyfill installed later is seen) and called without a `this`.
 */
export const globalFetch: FetchLike = (input, init) => globalThis.fetch(input, init);

/** The runtime names used in the `x-stoa-sdk` header. */
export type RuntimeName = "workerd" | "edge-runtime" | "deno" | "bun" | "node" | "browser" | "unknown";

interface RuntimeGlobals {
  navigator?: { userAgent?: string };
  WebSocketPair?: unknown;
  EdgeRuntime?: unknown;
  Deno?: { env?: { get(name: string): string | undefined } };
  Bun?: unknown;
  process?: { release?: { name?: string }; env?: Record<string, string | undefined> };
  window?: unknown;
}

const g = globalThis as unknown as RuntimeGlobals;

/**
 * True in workerd: its user agent, or, where a Worker has no `navigator`
 * (the `no_global_navigator` flag, or a date before 2022-03-21), its own
 * global `WebSocketPair`. With `nodejs_compat` a Worker also has Node's
 * `process`, so this is asked first.
 */
function isWorkerd(): boolean {
  return g.navigator?.userAgent === "Cloudflare-Workers" || typeof g.WebSocketPair === "function";
}

/**
 * Detects the current runtime from its globals: workerd first, Node only by
 * `process.release.name` (Deno and Bun, which say "node" there too, are
 * asked before), and `unknown` for what none of them recognises.
 */
export function detectRuntime(): RuntimeName {
  if (isWorkerd()) return "workerd";
  if (typeof g.EdgeRuntime === "string") return "edge-runtime";
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  if (g.process?.release?.name === "node") return "node";
  if (g.window !== undefined) return "browser";
  return "unknown";
}

/**
 * Whether one request's I/O may serve another's: in Node and Bun, yes; in
 * Workers it may not (a subrequest belongs to the request that made it), and
 * the other runtimes, an unrecognised one included, are taken to be like
 * Workers.
 */
export function requestsShareIo(runtime: RuntimeName = detectRuntime()): boolean {
  return runtime === "node" || runtime === "bun";
}

/**
 * Reads an environment variable where the runtime has an environment
 * (`process.env`, `Deno.env`). Workers have none: pass values explicitly.
 */
export function readEnv(name: string): string | undefined {
  try {
    const fromProcess = g.process?.env?.[name];
    if (fromProcess !== undefined && fromProcess !== "") return fromProcess;
  } catch {
    // a locked-down process.env throws: treat as absent
  }
  try {
    const fromDeno = g.Deno?.env?.get(name);
    if (fromDeno !== undefined && fromDeno !== "") return fromDeno;
  } catch {
    // Deno without --allow-env throws: treat as absent
  }
  return undefined;
}
