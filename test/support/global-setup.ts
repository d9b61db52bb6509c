/**
 * Vitest global setup (runs once per `vitest run`, in Node): the local Stoa
 * server (test/support/local-stoa.ts: workerd by default, in-process with
 * `STOA_SERVER=node`) and one HTTP server on 127.0.0.1 at a random port.
 * On it, `/p/…` is the fake provider, `/s/<runId>/…` a run's Stoa API (test
 * controls in front of the local Stoa server), and every other path goes to
 * the local Stoa server itself. Tests in every project (workerd included)
 * reach it at `inject("fakeBase")`, the server at `inject("stoaServer")`.
 */
import type { TestProject } from "vitest/node";
import { createFakeProvider } from "./fake-provider.ts";
import { createFakeStoa } from "./fake-stoa.ts";
import { startLocalStoa } from "./local-stoa.ts";
import { serve } from "./serve.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provider = createFakeProvider();
  const local = await startLocalStoa();
  const stoa = createFakeStoa(local.fetch);
  const running = await serve(async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/p/")) return provider(request);
    if (pathname.startsWith("/s/")) return stoa(request);
    return local.fetch(request);
  });
  project.provide("fakeBase", running.url);
  project.provide("stoaServer", local.url ?? running.url);
  project.provide("stoaServerHost", local.host);
  return async () => {
    await running.close();
    await local.stop();
  };
}
