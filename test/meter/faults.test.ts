/**
 * Billing faults never break the app's call, nothing is lost or billed twice,
 * and no secret or text leaves in an event.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { Stoa, StoaConfigError, StoaDeliveryError, StoaProvider } from "../../src/index.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { newRunId, providerBase, providerRequests } from "../support/provider.ts";
import { configureStoa, stoaReceived } from "../support/stoa.ts";

const MESSAGES = [{ role: "user" as const, content: "Say hello, secret prompt text" }];

function openai(stoa: Stoa, base: string) {
  return new OpenAI({
    apiKey: PROVIDER_KEY,
    baseURL: base,
    maxRetries: 0,
    fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_f" }),
  });
}

describe("delivery faults", () => {
  it("stores an event once when Stoa answers 503 then 200, with one idempotency key", async () => {
    const run = await meterRun("fault-503");
    await configureStoa(run.runId, { failures: [503], retryAfter: 0 });
    await openai(run.stoa, run.bases().openai).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const events = await run.events();
    expect(events.map((e) => e.usage)).toEqual([OPENAI_CHAT_USAGE]);
    const posts = (await stoaReceived(run.runId)).filter((r) => r.path.endsWith("/v1/usage/events"));
    expect(posts).toHaveLength(2);
    expect(posts[0]?.headers["idempotency-key"]).toBe(posts[1]?.headers["idempotency-key"]);
    expect(JSON.stringify(posts[0]?.body)).toBe(JSON.stringify(posts[1]?.body));
    expect(run.errors).toEqual([]);
  });

  it("hands the events to onError when Stoa is down, and the app's call still succeeds", async () => {
    const runId = newRunId("fault-down");
    const errors: Error[] = [];
    // a port nothing listens on: the fake's own port with a path Stoa never serves would still answer
    const stoa = new Stoa({
      apiKey: STOA_KEY,
      baseUrl: "http://127.0.0.1:9",
      onError: (e) => errors.push(e),
      retryBudgetMs: 300,
    });
    const stream = await openai(stoa, providerBase(runId).openai).chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Hello!");
    await stoa.flush();
    const delivery = errors.filter((e) => e instanceof StoaDeliveryError);
    expect(delivery).toHaveLength(1);
    expect((delivery[0] as StoaDeliveryError).events.map((e) => e.id)).toEqual([
      `openai:chatcmpl-${runId}-1:req_${runId}_1`,
    ]);
    expect((delivery[0] as StoaDeliveryError).events[0]?.usage).toEqual(OPENAI_CHAT_USAGE);
  });

  it("cancels upstream and bills an aborted event when the app aborts with a signal", async () => {
    const run = await meterRun("fault-signal");
    const controller = new AbortController();
    const stream = await openai(run.stoa, run.bases({ events: 100, delay: 3 }).openai).chat.completions.create(
      { model: "gpt-4o-mini", messages: MESSAGES, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    // the SDK ends the iteration quietly on the app's own abort
    for await (const _ of stream) if (++chunks === 5) controller.abort();
    expect(chunks).toBe(5);
    const events = await run.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: "aborted", estimated: true });
    expect(events[0]?.usage.outputTokens).toBeGreaterThanOrEqual(3);
    const [request] = await providerRequests(run.runId);
    expect(request?.outcome).toBe("cancelled");
  });
});

describe("privacy", () => {
  it("sends no prompt, no completion text and no API key to Stoa", async () => {
    const run = await meterRun("privacy");
    const client = openai(run.stoa, run.bases({ text: "english" }).openai);
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(await run.events()).toHaveLength(2);
    const sent = JSON.stringify(await stoaReceived(run.runId));
    expect(sent).not.toContain(PROVIDER_KEY);
    expect(sent).not.toContain("secret prompt text");
    expect(sent).not.toContain(text.slice(0, 40));
    expect(sent).not.toContain("Hello!");
  });

  it("keeps the Stoa key out of errors", async () => {
    const runId = newRunId("privacy-key");
    const errors: Error[] = [];
    const stoa = new Stoa({
      apiKey: "sk_wrong_key_456",
      baseUrl: `${providerBase(runId).anthropic}/x`,
      onError: (e) => errors.push(e),
    });
    // a 404 to the chargeability check (wrong base URL) fails the call: its error is checked too
    await openai(stoa, providerBase(runId).openai)
      .chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((error: unknown) => errors.push(error as Error));
    await stoa.flush();
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      expect(`${error.message} ${error.stack} ${String((error as { cause?: unknown }).cause)}`).not.toContain(
        "sk_wrong_key_456",
      );
    }
  });
});

describe("configuration", () => {
  it("throws a StoaConfigError that says how to pass a key", () => {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    const saved = env?.STOA_API_KEY;
    if (env) delete env.STOA_API_KEY;
    try {
      expect(() => new Stoa()).toThrow(StoaConfigError);
      expect(() => new Stoa()).toThrow(/apiKey/);
    } finally {
      if (env && saved !== undefined) env.STOA_API_KEY = saved;
    }
  });

  it("reads STOA_API_KEY and STOA_BASE_URL from the environment where there is one", async () => {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    if (env === undefined) {
      expect(typeof (globalThis as { process?: unknown }).process).toBe("undefined");
      return;
    }
    const run = await meterRun("env");
    env.STOA_API_KEY = STOA_KEY;
    env.STOA_BASE_URL = `${run.bases().anthropic.replace(/\/p\/.*/, "")}/s/${run.runId}/`;
    try {
      const stoa = new Stoa();
      await openai(stoa, run.bases().openai).chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
      await stoa.flush();
      expect(await run.events()).toHaveLength(1);
    } finally {
      delete env.STOA_API_KEY;
      delete env.STOA_BASE_URL;
    }
  });

  it("refuses an unknown provider, an empty userId and oversized metadata early", () => {
    const stoa = new Stoa({ apiKey: "k" });
    expect(() => stoa.fetch({ provider: "acme" as "openai", userId: "u" })).toThrow(
      'Unknown provider "acme": use one of StoaProvider.OpenAI, StoaProvider.Anthropic, StoaProvider.OpenRouter, StoaProvider.Google, StoaProvider.Bedrock, StoaProvider.Azure, StoaProvider.Groq, StoaProvider.DeepSeek, StoaProvider.XAI, StoaProvider.Mistral.',
    );
    expect(() => stoa.fetch({ provider: StoaProvider.OpenAI, userId: "" })).toThrow(StoaConfigError);
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    expect(() => stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", metadata })).toThrow(/16 keys/);
    expect(() => stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", metadata: { k: "x".repeat(501) } })).toThrow(
      /500/,
    );
  });
});
