/**
 * `stoa()` and `meteredFetch()` of `@onstoa/sdk/hono`, through
 * `app.request(path, init, env, executionCtx)`.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { stoa } from "../../src/hono/index.ts";
import { StoaConfigError } from "../../src/index.ts";
import { meterRun, STOA_KEY } from "../support/meter.ts";
import { stoaBase } from "../support/stoa.ts";
import { buildApp } from "./app.ts";

describe("stoa() and meteredFetch()", () => {
  it("makes one Stoa per app from c.env and exposes it as c.var.stoa", async () => {
    const run = await meterRun("hono-env");
    const app = new Hono();
    app.use(stoa());
    app.get("/", (c) => c.text(String(c.var.stoa.constructor.name)));
    const seen = new Set<unknown>();
    app.get("/same", (c) => {
      seen.add(c.var.stoa);
      return c.text("ok");
    });
    const env = { STOA_API_KEY: STOA_KEY, STOA_BASE_URL: stoaBase(run.runId) };
    expect(await (await app.request("/", {}, env)).text()).toBe("Stoa");
    await app.request("/same", {}, env);
    await app.request("/same", {}, env);
    expect(seen.size).toBe(1);
  });

  it("fails clearly with no API key", async () => {
    const app = new Hono();
    app.use(stoa());
    app.get("/", (c) => c.text("never"));
    let error: unknown;
    app.onError((e, c) => {
      error = e;
      return c.text("no", 500);
    });
    expect((await app.request("/", {}, {})).status).toBe(500);
    expect(error).toBeInstanceOf(StoaConfigError);
  });

  it("uses c.executionCtx.waitUntil when there is one, and works without", async () => {
    const run = await meterRun("hono-wait");
    const t = buildApp(run);
    const ok = await t.request("/chat", {
      method: "POST",
      headers: { "content-type": "application/json", "x-user-id": "u" },
      body: JSON.stringify({ message: "hi" }),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ answer: "Hello!" });
    expect(t.ctx.pending.length).toBeGreaterThan(0);
    await Promise.all(t.ctx.pending);
    // no execution context: Hono's getter throws, the helper carries on
    const bare = await t.app.request("/page", { headers: { "x-user-id": "u" } });
    expect(await bare.text()).toBe("Hello!");
    expect(await run.events()).toHaveLength(2);
  });
});
