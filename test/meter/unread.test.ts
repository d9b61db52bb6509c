/**
 * A response the app neither reads nor cancels is still billed (the provider
 * bills it): after 5 s without a read the meter reads it itself, inside the
 * call's `waitUntil`, and `stoa.flush()` waits for that.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY } from "../support/meter.ts";
import { providerRequests } from "../support/provider.ts";
import { stoaEvents } from "../support/stoa.ts";

const MESSAGES = [{ role: "user" as const, content: "Say hello" }];

describe("a response the app never reads", { timeout: 30_000 }, () => {
  it.concurrent("is read by the meter and billed exactly at stoa.flush(): a stream and a JSON body", async () => {
    const run = await meterRun("unread-flush");
    const client = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" }),
    });
    // a stream the app never iterates, and a JSON answer whose body it never reads
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }).asResponse();
    const events = await run.events();
    expect(events.map((e) => [e.id, e.status, e.estimated, e.stream]).sort()).toEqual([
      [`openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`, "completed", false, true],
      [`openai:chatcmpl-${run.runId}-2:req_${run.runId}_2`, "completed", false, false],
    ]);
    expect(events.map((e) => e.usage)).toEqual([OPENAI_CHAT_USAGE, OPENAI_CHAT_USAGE]);
    expect(run.errors).toEqual([]);
    expect((await providerRequests(run.runId)).map((r) => r.outcome)).toEqual(["completed", "completed"]);
  });

  it.concurrent("is read and delivered inside the call's waitUntil, with no flush", async () => {
    const run = await meterRun("unread-wait");
    const work: Promise<unknown>[] = [];
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", waitUntil: (p) => work.push(p) });
    const response = await meter(`${run.bases().openai}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES, stream: true }),
    });
    expect(response.status).toBe(200);
    // what a runtime does with waitUntil: keep the invocation alive until every promise settles
    for (let done = 0; done < work.length; done++) await work[done];
    const events = await stoaEvents(run.runId);
    expect(events.map((e) => [e.status, e.usage])).toEqual([["completed", OPENAI_CHAT_USAGE]]);
    expect(run.errors).toEqual([]);
  });
});

describe("a waitUntil that throws (an unbound ctx.waitUntil)", { timeout: 30_000 }, () => {
  it.concurrent("does not fail the call: the stream is read, billed once, and onError told once", async () => {
    const run = await meterRun("throwing-wait");
    let handed = 0;
    // as workerd's ExecutionContext does: its method throws unless called on the context itself
    const ctx = {
      waitUntil(this: unknown, _promise: Promise<unknown>): void {
        handed++;
        if (this !== ctx) throw new TypeError("Illegal invocation");
      },
    };
    const waitUntil = ctx.waitUntil; // passed unbound
    const client = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", waitUntil }),
    });
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.length).toBeGreaterThan(0);
    const events = await run.events();
    expect(events.map((e) => [e.id, e.status, e.usage])).toEqual([
      [`openai:chatcmpl-${run.runId}-1:req_${run.runId}_1`, "completed", OPENAI_CHAT_USAGE],
    ]);
    expect(handed).toBeGreaterThanOrEqual(2); // the unread guard's work, then the event's delivery
    expect(run.errors.map((e) => e.name)).toEqual(["StoaConfigError"]);
    expect((await providerRequests(run.runId)).map((r) => r.outcome)).toEqual(["completed"]);
  });
});

describe("with no waitUntil on Vercel", { timeout: 30_000 }, () => {
  it("hands the read of an unread body to Vercel's request context, as the events' delivery is", async () => {
    const run = await meterRun("unread-vercel");
    const key = Symbol.for("@vercel/request-context");
    const global = globalThis as { [key]?: unknown };
    const handed: Promise<unknown>[] = [];
    const context = { waitUntil: (promise: Promise<unknown>) => void handed.push(promise) };
    global[key] = { get: () => context };
    try {
      const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u" });
      const response = await meter(`${run.bases().openai}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES, stream: true }),
      });
      expect(response.status).toBe(200);
      // the body is not read: the meter's guard is in the request's waitUntil from the start
      expect(handed).toHaveLength(1);
      for (let done = 0; done < handed.length; done++) await handed[done];
      const events = await stoaEvents(run.runId);
      expect(events.map((e) => [e.status, e.usage])).toEqual([["completed", OPENAI_CHAT_USAGE]]);
    } finally {
      delete global[key];
    }
  });
});
