/**
 * Starts the local Stoa server (examples/stoa-server) for the test suite:
 * under `wrangler` in workerd, with its Durable Object and a fresh state
 * folder (the default), or in-process in Node over an in-memory
 * `node:sqlite` (`STOA_SERVER=node`, faster, no workerd).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unstable_dev } from "wrangler";
import { createStoaServer } from "../../examples/stoa-server/app.ts";
import { createLedger } from "../../examples/stoa-server/ledger.ts";

/** A running local Stoa server. */
export interface LocalStoa {
  host: "workerd" | "node";
  /** Its origin, or `undefined` in-process (then it answers any origin). */
  url: string | undefined;
  /** Sends a request to it (a request to another origin is sent to its own). */
  fetch(request: Request): Promise<Response>;
  stop(): Promise<void>;
}

/** Where the server's wrangler config is. */
export const STOA_SERVER_CONFIG = "examples/stoa-server/wrangler.toml";

/** Starts the server on `host`; for workerd, state lives in `persistTo` (default: a new temporary folder, removed on stop). */
export async function startLocalStoa(
  host: "workerd" | "node" = process.env.STOA_SERVER === "node" ? "node" : "workerd",
  persistTo?: string,
): Promise<LocalStoa> {
  if (host === "node") {
    // loaded only here: node:sqlite warns that it is experimental when imported
    const { nodeSql } = await import("../../examples/stoa-server/node-sql.ts");
    const app = createStoaServer({ ledger: createLedger(nodeSql()) });
    return { host, url: undefined, fetch: async (request) => app.fetch(request), stop: async () => {} };
  }
  const folder = persistTo ?? (await mkdtemp(join(tmpdir(), "stoa-state-")));
  const worker = await unstable_dev("examples/stoa-server/worker.ts", {
    config: STOA_SERVER_CONFIG,
    ip: "127.0.0.1",
    persistTo: folder,
    logLevel: "warn",
    experimental: { disableExperimentalWarning: true },
  });
  const url = `http://${worker.address}:${worker.port}`;
  return {
    host,
    url,
    async fetch(request) {
      const { pathname, search } = new URL(request.url);
      // whole bodies: the server may answer (a 401, say) before it reads one
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      const response = await fetch(`${url}${pathname}${search}`, {
        method: request.method,
        headers: endToEnd(request.headers),
        body,
        redirect: "manual",
      });
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        // fetch already decoded the body
        headers: endToEnd(response.headers, "content-encoding"),
      });
    },
    async stop() {
      await worker.stop();
      if (persistTo === undefined) await rm(folder, { recursive: true, force: true });
    },
  };
}

/** `headers` without the hop-by-hop and framing ones, which belong to each connection. */
function endToEnd(headers: Headers, ...more: string[]): Headers {
  const copy = new Headers(headers);
  for (const name of ["host", "connection", "keep-alive", "transfer-encoding", "content-length", ...more]) {
    copy.delete(name);
  }
  return copy;
}
