/**
 * Inside Vercel's EdgeRuntime (@edge-runtime/vm): the example Edge Function
 * streams the answer and hands the delivery of its one usage event to
 * `context.waitUntil`.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { VERSION } from "../../src/index.ts";
import { OPENAI_CHAT_USAGE, STOA_KEY } from "../support/meter.ts";
import { type FakeOptions, newRunId, providerBase, providerRequests } from "../support/provider.ts";
import { configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

declare const EdgeRuntime: unknown;

/** Vercel's per-request context: what `waitUntil` was handed. A method, so an unbound call would fail. */
class RequestContext {
  readonly promises: Promise<unknown>[] = [];
  waitUntil(promise: Promise<unknown>): void {
    this.promises.push(promise);
  }
}

/** A fresh isolate's handler, with the environment of `runId` (one Stoa per isolate, made on the first request). */
async function edgeFunction(runId: string, opts?: FakeOptions) {
  vi.stubEnv("STOA_API_KEY", STOA_KEY);
  vi.stubEnv("STOA_BASE_URL", stoaBase(runId));
  vi.stubEnv("OPENAI_API_KEY", "sk-test");
  vi.stubEnv("OPENAI_BASE_URL", providerBase(runId, opts).openai);
  vi.resetModules();
  const module = await import("../../examples/vercel-edge.ts");
  expect(module.config).toEqual({ runtime: "edge" });
  return module.default;
}

function chat(userId: string): Request {
  return new Request("https://app.example/api/chat", {
    method: "POST",
    headers: { "x-user-id": userId, "content-type": "application/json" },
    body: JSON.stringify({ message: "hi" }),
  });
}

const usagePosts = async (runId: string) =>
  (await stoaReceived(runId)).filter((r) => r.method === "POST" && r.path === "/v1/usage/events");

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("the example Vercel Edge Function", () => {
  it("runs inside EdgeRuntime", () => {
    expect(typeof EdgeRuntime).toBe("string");
    expect(EdgeRuntime).toBe("edge-runtime");
    // the VM's own globals, not Node's copied over (as the default `forks` pool would do)
    expect((globalThis as { navigator?: unknown }).navigator).toBeUndefined();
  });

  it("streams the answer and delivers the event only through context.waitUntil", async () => {
    const runId = newRunId("vercel");
    await configureStoa(runId, { members: { user_v: { paid: true, balanceUsd: 10 } } });
    const handler = await edgeFunction(runId);

    // hold the SDK's delivery at the door until the test opens it (EdgeRuntime's
    // `fetch` is writable but not configurable, so no vi.stubGlobal)
    let open!: () => void;
    const door = new Promise<void>((resolve) => {
      open = resolve;
    });
    const edgeFetch = globalThis.fetch;
    globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.endsWith("/v1/usage/events")) await door;
      return edgeFetch(input, init);
    };
    onTestFinished(() => {
      globalThis.fetch = edgeFetch;
    });

    const context = new RequestContext();
    const response = await handler(chat("user_v"), context);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe("Hello!");

    // the response is over; the event waits in what was handed to waitUntil
    expect(context.promises.length).toBeGreaterThan(0);
    expect(await stoaEvents(runId)).toEqual([]);
    expect(await usagePosts(runId)).toEqual([]);

    open();
    await Promise.all(context.promises);
    const events = await stoaEvents(runId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: `openai:chatcmpl-${runId}-1:req_${runId}_1`,
      userId: "user_v",
      provider: "openai",
      stream: true,
      status: "completed",
      estimated: false,
      usage: OPENAI_CHAT_USAGE,
      metadata: { feature: "chat" },
    });
    const posts = await usagePosts(runId);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.headers["x-stoa-sdk"]).toBe(`stoa-ts/${VERSION} (edge-runtime)`);
    // the call was admitted under a spend hold, released once its event was stored
    const paths = (await stoaReceived(runId)).map((r) => r.path);
    expect(paths.filter((p) => p === "/v1/members/user_v/holds")).toHaveLength(1);
    expect(paths.filter((p) => p.endsWith("/chargeability"))).toHaveLength(0);
    expect(events[0]?.holdId).toMatch(/^hold_/);
  });

  it("bills one aborted event through waitUntil when the client cancels the stream", async () => {
    const runId = newRunId("vercel-cancel");
    await configureStoa(runId, { members: { user_c: { paid: true, balanceUsd: 10 } } });
    const handler = await edgeFunction(runId, { events: 200, delay: 2 });

    const context = new RequestContext();
    const response = await handler(chat("user_c"), context);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (text.length < 100) {
      const { done, value } = await reader.read();
      if (done) throw new Error("the stream ended before the client cancelled it");
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();

    await vi.waitFor(() => expect(context.promises.length).toBeGreaterThan(0), { timeout: 3_000 });
    await Promise.all(context.promises);
    const events = await stoaEvents(runId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: `openai:chatcmpl-${runId}-1:req_${runId}_1`,
      userId: "user_c",
      stream: true,
      status: "aborted",
      estimated: true,
      metadata: { feature: "chat" },
    });
    const usage = events[0]?.usage as { inputTokens: number; outputTokens: number };
    expect(usage.inputTokens).toBe(1); // the request's "hi", estimated
    expect(usage.outputTokens).toBeGreaterThanOrEqual(Math.ceil(text.length / 4));
    const [request] = await providerRequests(runId);
    expect(request?.outcome).toBe("cancelled");
    expect(await usagePosts(runId)).toHaveLength(1);
  });

  it("answers a user who cannot be charged 402 JSON with a checkout URL, without calling the provider", async () => {
    const runId = newRunId("vercel-blocked");
    const handler = await edgeFunction(runId);
    const response = await handler(chat("user_new"), new RequestContext());
    expect(response.status).toBe(402);
    const body = (await response.json()) as { error: { code: string; reason: string }; checkoutUrl: string };
    expect(body.error).toEqual({ code: "charge_required", reason: "payment_required" });
    expect(body.checkoutUrl).toMatch(/\/checkout\/ps_/);
    expect(await providerRequests(runId)).toEqual([]);
  });
});
