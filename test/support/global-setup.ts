/**
 * Vitest global setup (runs once per `vitest run`, in Node): one HTTP server
 * on 127.0.0.1 at a random port that routes `/p/…` to the fake provider and
 * `/s/…` to the fake Stoa API. Tests in every project (workerd included)
 * reach it at `inject("fakeBase")`.
 */
import type { TestProject } from "vitest/node";
import { createFakeProvider } from "../fakes/provider.ts";
import { createFakeStoa } from "../fakes/stoa.ts";
import { serve } from "./serve.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provider = createFakeProvider();
  const stoa = createFakeStoa();
  const server = await serve(async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/p/")) return provider(request);
    if (pathname.startsWith("/s/")) return stoa(request);
    return new Response(`no fake at ${pathname}; use /p/… (provider) or /s/… (Stoa)`, { status: 404 });
  });
  project.provide("fakeBase", server.url);
  return () => server.close();
}
