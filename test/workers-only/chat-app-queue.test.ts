/**
 * The example chat app (examples/chat/app.ts) with its usage queue bound, as
 * wrangler.toml binds it for `npm run dev`: a chat's usage event goes to a
 * real Miniflare queue (vitest.config.ts's `chat-events`, passed as the app's
 * STOA_EVENTS) inside the request, nothing is posted to Stoa on the
 * request's path, and the app's own `queue()` handler, which the queue
 * calls, delivers it: stored once.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { afterEach, expect, it } from "vitest";
import type { Env } from "../../examples/chat/env.ts";
import { fakeUsage } from "../../examples/chat/fake-provider.ts";
import type { KVNamespaceLike } from "../../src/hono/index.ts";
import type { QueueBatch } from "../../src/index.ts";
import { newRunId } from "../support/provider.ts";
import { queueHandlers } from "../support/queue-worker.ts";
import { configureStoa, FAKE_STOA_API_KEY, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

const REGISTRATION_SECRET = "chat-queue-registration-secret-0123456789abcdef";
const ORIGIN = "http://localhost:8787";

afterEach(() => queueHandlers.delete("chat-events"));

const kv: KVNamespaceLike = { get: async () => null, put: async () => {}, delete: async () => {} };

it("hands a chat's usage event to the queue, and the app's queue() delivers it to Stoa once", async () => {
  // a copy of the app of its own (another module id): it makes its one Stoa from the first request's env, this file's
  const fresh = "../../examples/chat/app.ts?queue";
  const worker = ((await import(/* @vite-ignore */ fresh)) as typeof import("../../examples/chat/app.ts")).default;
  const runId = newRunId("chat-queue");
  await configureStoa(runId, {
    registrationSecret: REGISTRATION_SECRET,
    members: { "queued-quinn": { paid: true, balanceUsd: 10 } },
  });
  const env: Env = {
    STOA_API_KEY: FAKE_STOA_API_KEY,
    STOA_BASE_URL: stoaBase(runId),
    STOA_STATE_SECRET: "chat-queue-state-secret-0123456789abcdef-0123",
    STOA_REGISTRATION_SECRET: REGISTRATION_SECRET,
    RESUME: kv,
    STOA_EVENTS: (workerEnv as unknown as { CHAT_EVENTS: Queue }).CHAT_EVENTS,
  };
  const consumed: unknown[] = [];
  let release!: () => void;
  const open = new Promise<void>((resolve) => {
    release = resolve;
  });
  queueHandlers.set("chat-events", async (batch) => {
    await open; // the consumer waits until the test has looked at what the request did
    consumed.push(...batch.messages.map((message) => message.body));
    await worker.queue(batch as unknown as QueueBatch, env);
  });

  const request = async (path: string, init: RequestInit) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(new URL(path, ORIGIN), init), env, ctx);
    const text = await response.text();
    await waitOnExecutionContext(ctx);
    return { response, text };
  };
  const login = await request("/login", { method: "POST", body: new URLSearchParams({ name: "Queued Quinn" }) });
  expect(login.response.status).toBe(303);
  const cookie = (login.response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const message = "Does my usage go through the queue?";
  const chat = await request("/chat", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/plain", cookie },
    body: JSON.stringify({ message }),
  });
  expect(chat.response.status).toBe(200);

  // the request is over, its waitUntil settled: the event is in the queue, not posted to Stoa
  const posted = async () => (await stoaReceived(runId)).filter((r) => r.path === "/v1/usage/events");
  expect(await posted()).toEqual([]);
  expect(consumed).toEqual([]);

  release();
  await expect.poll(async () => (await stoaEvents(runId)).length, { timeout: 20_000, interval: 100 }).toBe(1);
  const [event] = await stoaEvents(runId);
  const { inputTokens, outputTokens } = fakeUsage([{ role: "user", content: message }]);
  expect(event).toMatchObject({
    userId: "queued-quinn",
    provider: "openai",
    status: "completed",
    estimated: false,
    usage: { inputTokens, outputTokens },
  });
  // it came through the queue: one message, carrying that event, and one POST by the consumer
  expect(consumed).toHaveLength(1);
  const carried = JSON.parse(consumed[0] as string) as { stoa: string; events: { id: string }[] };
  expect(carried.stoa).toBe("usage-events/1");
  expect(carried.events.map((e) => e.id)).toEqual([event?.id]);
  expect(await posted()).toHaveLength(1);
}, 30_000);
