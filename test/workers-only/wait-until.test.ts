/**
 * Inside workerd: the example Worker meters through `ctx.waitUntil`, and the
 * event is delivered within the request's execution context.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../examples/worker.ts";
import { VERSION } from "../../src/index.ts";
import { OPENAI_CHAT_USAGE, STOA_KEY } from "../support/meter.ts";
import { newRunId, providerBase } from "../support/provider.ts";
import { configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

describe("the example Worker", () => {
  it("streams the answer and delivers the event inside ctx.waitUntil", async () => {
    const runId = newRunId("worker");
    await configureStoa(runId, { members: { user_w: { paid: true, balanceUsd: 10 } } });
    const env = {
      STOA_API_KEY: STOA_KEY,
      STOA_BASE_URL: stoaBase(runId),
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: providerBase(runId).openai,
    };
    const ctx = createExecutionContext();
    const request = new Request("https://app.example/chat", {
      method: "POST",
      headers: { "x-user-id": "user_w", "content-type": "application/json" },
      body: JSON.stringify({ message: "hi" }),
    });
    const response = await worker.fetch(request, env, ctx);
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
});
