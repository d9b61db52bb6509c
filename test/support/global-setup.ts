/**
 * Vitest global setup (runs once per `vitest run`, in Node): one HTTP server
 * on 127.0.0.1 at a random port. `/p/…` is the fake provider, `/s/<runId>/…`
 * the Stoa API of a run (test controls in front of the local Stoa server),
 * and every other path the local Stoa server itself (checkout, pages), here
 * in-process over an in-memory `node:sqlite`. Tests in every project
 * (workerd included) reach it at `inject("fakeBase")`.
 */
import type { TestProject } from "vitest/node";
import { createStoaServer } from "../../examples/stoa-server/app.ts";
import { createLedger } from "../../examples/stoa-server/ledger.ts";
import { createFakeProvider } from "../fakes/provider.ts";
import { createFakeStoa } from "../fakes/stoa.ts";
import { serve } from "./serve.ts";
import { nodeSql } from "./sqlite.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provider = createFakeProvider();
  const app = createStoaServer({ ledger: createLedger(nodeSql()) });
  const server = async (request: Request) => app.fetch(request);
  const stoa = createFakeStoa(server);
  const running = await serve(async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname.startsWith("/p/")) return provider(request);
    if (pathname.startsWith("/s/")) return stoa(request);
    return server(request);
  });
  project.provide("fakeBase", running.url);
  return () => running.close();
}
