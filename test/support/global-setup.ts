/**
 * Vitest global setup (runs once per `vitest run`, in Node): the local Stoa
 * server (test/support/local-stoa.ts: workerd by default, in-process with
 * `STOA_SERVER=node`) and one HTTP server on 127.0.0.1 at a random port.
 * On it, `/p/…` is the fake provider, `/m/…` the fake of issue 11's providers
 * (test/support/fake-provider-more.ts, its path with `/m` cut off), `/s/<runId>/…` a run's Stoa API (test
 * controls in front of the local Stoa server), and every other path goes to
 * the local Stoa server itself. Tests in every project (workerd included)
 * reach it at `inject("fakeBase")`, the server at `inject("stoaServer")`.
 */
import type { TestProject } from "vitest/node";
import { createFakeProvider } from "./fake-provider.ts";
import { fakeProviderMore } from "./fake-provider-more.ts";
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
    if (pathname.startsWith("/m/")) return fakeProviderMore(await unprefixed(request, 2));
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

/** `request` with the first `length` characters of its path (a routing prefix) cut off. */
async function unprefixed(request: Request, length: number): Promise<Request> {
  const url = new URL(request.url);
  url.pathname = url.pathname.slice(length);
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  return new Request(url, { method: request.method, headers: request.headers, body, signal: request.signal });
}
