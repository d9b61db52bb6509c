/**
 * `stoa.flush()` on a busy server: it waits for the events and metering work
 * there is when it is called, not for the calls that start while it waits
 * (another request's stream, its body not yet read), so it always ends.
 */
import OpenAI from "openai";
import { expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { endsWithin } from "../support/busy.ts";
import { meterRun } from "../support/meter.ts";
import { stoaEvents } from "../support/stoa.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("resolves while other requests keep streaming, after the events of the calls made before it are stored", async () => {
  const run = await meterRun("flushbusy");
  const client = new OpenAI({
    apiKey: "sk-x",
    baseURL: run.bases().openai,
    maxRetries: 0,
    fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u_busy" }),
  });
  let calls = 0;
  let running = true;
  /** One request: a streamed call whose body the app begins to read 30 ms after it arrives. */
  async function request(): Promise<void> {
    const stream = await client.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    await sleep(30);
    for await (const _chunk of stream) {
      // read to the end
    }
    calls++;
  }
  const traffic = (async () => {
    const inFlight: Promise<void>[] = [];
    while (running) {
      inFlight.push(request());
      await sleep(5);
    }
    await Promise.all(inFlight);
  })();
  await expect.poll(() => calls, { timeout: 5000, interval: 5 }).toBeGreaterThan(2);
  const callsBefore = calls;
  const flushedInTime = await endsWithin(run.stoa.flush(), 3000); // the traffic goes on meanwhile
  const storedAtFlush = (await stoaEvents(run.runId)).length;
  running = false;
  await traffic;
  const events = await run.events();
  expect(flushedInTime).toBe(true);
  expect(storedAtFlush).toBeGreaterThanOrEqual(callsBefore);
  expect(events).toHaveLength(calls);
  expect(run.errors).toEqual([]);
});
