/**
 * Event ids are unique per provider response, even from a host that repeats
 * its response ids, and stable for the same response (a re-sent event is a
 * duplicate, not a second charge).
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider } from "../../src/index.ts";
import { eventId } from "../../src/meter/event.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY } from "../support/meter.ts";

/**
 * A self-hosted OpenAI-compatible server as some are: every response has the
 * id `chatcmpl-626`, and its own `x-request-id`. (The fake provider's answer
 * with its ids rewritten.)
 */
async function repeatingHost(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  const text = (await response.text()).replace(/chatcmpl-[A-Za-z0-9_-]+/g, "chatcmpl-626");
  return new Response(text, { status: response.status, headers: response.headers });
}

describe("event ids", () => {
  it("differ per response when the host repeats its response id, and every response is billed", async () => {
    const run = await meterRun("ids-repeat");
    const openai = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_ids", fetch: repeatingHost }),
    });
    const messages = [{ role: "user" as const, content: "Say hello" }];
    for (let i = 0; i < 3; i++) {
      const completion = await openai.chat.completions.create({ model: "gpt-4o-mini", messages });
      expect(completion.id).toBe("chatcmpl-626");
    }
    const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    for await (const chunk of stream) expect(chunk.id).toBe("chatcmpl-626");
    const events = await run.events();
    expect(events.map((e) => e.id).sort()).toEqual(
      [1, 2, 3, 4].map((n) => `openai:chatcmpl-626:req_${run.runId}_${n}`).sort(),
    );
    expect(events.map((e) => e.usage)).toEqual([1, 2, 3, 4].map(() => OPENAI_CHAT_USAGE));
    expect(run.errors).toEqual([]);
  });

  it("are stable for the same response, at most 128 characters, and unambiguous", () => {
    expect(eventId("openai", "chatcmpl-1", "req_1")).toBe("openai:chatcmpl-1:req_1");
    expect(eventId("openai", "chatcmpl-1", "req_1")).toBe(eventId("openai", "chatcmpl-1", "req_1"));
    expect(eventId("openai", "chatcmpl-1", "req_2")).not.toBe(eventId("openai", "chatcmpl-1", "req_1"));
    // one id where the request id is the response id (OpenRouter's generation id)
    expect(eventId("openrouter", "gen-1", "gen-1")).toBe("openrouter:gen-1");
    expect(eventId("openai", undefined, "req_1")).toBe("openai:req_1");
    expect(eventId("anthropic", "msg_1", undefined)).toBe("anthropic:msg_1");
    // a colon in a response id could make two pairs read alike: those are hashed
    expect(eventId("openai", "a:b", "c")).not.toBe(eventId("openai", "a", "b:c"));
    const long = eventId("openai", "x".repeat(100), "y".repeat(100));
    expect(long.length).toBeLessThanOrEqual(128);
    expect(long).toBe(eventId("openai", "x".repeat(100), "y".repeat(100)));
    expect(long).not.toBe(eventId("openai", "x".repeat(100), "y".repeat(99)));
    expect(eventId("openai", undefined, undefined)).toMatch(/^openai:local_[0-9a-f-]{36}$/);
  });
});
