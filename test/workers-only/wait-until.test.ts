/**
 * Inside workerd: the example Worker meters through `ctx.waitUntil`, and the
 * event is delivered within the request's execution context.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../examples/worker.ts";
import { VERSION } from "../../src/index.ts";
import { OPENAI_CHAT_USAGE, STOA_KEY } from "../support/meter.ts";
import { newRunId, providerBase, providerRequests } from "../support/provider.ts";
import { configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

/** The example's bindings for `runId`. */
function envOf(runId: string) {
  return {
    STOA_API_KEY: STOA_KEY,
    STOA_BASE_URL: stoaBase(runId),
    OPENAI_API_KEY: "sk-test",
    OPENAI_BASE_URL: providerBase(runId).openai,
  };
}

/** POST /chat as `userId`, with `accept` when given. */
function chat(userId: string, accept?: string): Request {
  return new Request("https://app.example/chat", {
    method: "POST",
    headers: { "x-user-id": userId, "content-type": "application/json", ...(accept ? { accept } : {}) },
    body: JSON.stringify({ message: "hi" }),
  });
}

/** One run for the file: the example makes its Stoa once per isolate, from the first request's env. */
const runId = newRunId("worker");

describe("the example Worker", () => {
  it("streams the answer and delivers the event inside ctx.waitUntil", async () => {
    await configureStoa(runId, { members: { user_w: { paid: true, balanceUsd: 10 } } });
    const env = envOf(runId);
    const ctx = createExecutionContext();
    const response = await worker.fetch(chat("user_w"), env, ctx);
    expect(await response.text()).toBe("Hello!");
    await waitOnExecutionContext(ctx);
    const received = await stoaReceived(runId);
    expect(received.filter((r) => r.path.endsWith("/v1/usage/events"))).toHaveLength(1);
    // admitted under a spend hold: the price table and one hold, no chargeability check
    expect(received.map((r) => r.path)).toEqual(["/v1/prices", "/v1/members/user_w/holds", "/v1/usage/events"]);
    const events = await stoaEvents(runId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ userId: "user_w", usage: OPENAI_CHAT_USAGE, metadata: { feature: "chat" } });
    expect(events[0]?.holdId).toMatch(/^hold_/);
    expect(String(received.at(-1)?.headers["x-stoa-sdk"])).toBe(`stoa-ts/${VERSION} (workerd)`);
  });

  it("answers a user who cannot be charged 402 JSON with a checkout URL, and a browser a 303 to checkout", async () => {
    // the example keeps one Stoa per isolate, made with the first request's env: this file's one run
    const env = envOf(runId);
    const ctx = createExecutionContext();
    const blocked = await worker.fetch(chat("user_new"), env, ctx);
    expect(blocked.status).toBe(402);
    const body = (await blocked.json()) as { error: Record<string, string>; checkoutUrl: string };
    expect(body.error).toEqual({
      code: "charge_required",
      reason: "payment_required",
      message: "Payment is required to continue.",
    });
    expect(body.checkoutUrl).toMatch(/\/checkout\/ps_[0-9a-f]{32}$/);

    const browser = await worker.fetch(chat("user_new", "text/html,application/xhtml+xml"), env, ctx);
    expect(browser.status).toBe(303);
    expect(browser.headers.get("location")).toBe(body.checkoutUrl); // the same open session
    expect((await providerRequests(runId)).length).toBe(1); // the first test's
    const sessions = (await stoaReceived(runId)).filter((r) => r.path === "/v1/payment-sessions");
    expect(sessions.map((r) => r.body)).toEqual([
      { userId: "user_new", returnUrl: "https://app.example/" },
      { userId: "user_new", returnUrl: "https://app.example/" },
    ]);

    await waitOnExecutionContext(ctx);
    expect((await stoaEvents(runId)).map((e) => e.userId)).toEqual(["user_w"]);
  });
});
