/**
 * Events of concurrent requests, each with its own `waitUntil`: where a
 * request's I/O may serve another's (Node, Bun) they share POSTs; in workerd
 * each request's events go in POSTs of its own. Either way every `waitUntil`
 * is handed a promise that settles once its own event is stored. The same
 * test runs in Node and in workerd.
 */
import OpenAI from "openai";
import { expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { detectRuntime, requestsShareIo } from "../../src/runtime.ts";
import { meterRun } from "../support/meter.ts";
import { configureStoa, stoaEvents, stoaReceived } from "../support/stoa.ts";

const REQUESTS = 6;

it(`delivers ${REQUESTS} concurrent requests' events in shared POSTs where requests may share I/O, else one POST each`, async () => {
  const run = await meterRun("concurrent", { spend: false });
  await configureStoa(run.runId, { everyoneChargeable: true, delayMs: 50 }); // a POST takes 50 ms
  const kept: Promise<unknown>[][] = Array.from({ length: REQUESTS }, () => []);
  const ids = await Promise.all(
    kept.map(async (promises, i) => {
      const client = new OpenAI({
        apiKey: "sk-x",
        baseURL: run.bases().openai,
        maxRetries: 0,
        fetch: run.stoa.fetch({
          provider: StoaProvider.OpenAI,
          userId: `u_${i}`,
          waitUntil: (promise) => void promises.push(promise),
        }),
      });
      const completion = await client.chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "user", content: "hi" }],
      });
      return completion.id;
    }),
  );
  // each request's waitUntil settles once its own event is stored
  for (const [i, promises] of kept.entries()) {
    expect(promises.length).toBeGreaterThan(0);
    await Promise.all(promises);
    expect((await stoaEvents(run.runId)).map((event) => event.userId)).toContain(`u_${i}`);
  }
  const posts = (await stoaReceived(run.runId)).filter((r) => r.path === "/v1/usage/events");
  const stored = await stoaEvents(run.runId);
  expect(stored).toHaveLength(REQUESTS);
  expect(new Set(ids).size).toBe(REQUESTS);
  if (requestsShareIo()) {
    expect(["node", "bun"]).toContain(detectRuntime());
    expect(posts.length).toBeLessThanOrEqual(2); // the first request's POST, and the rest together behind it
  } else {
    expect(detectRuntime()).toBe("workerd");
    expect(posts).toHaveLength(REQUESTS);
  }
  expect(run.errors).toEqual([]);
});
