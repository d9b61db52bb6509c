/**
 * `stoa.getUsage()` against the local Stoa server: the events an app's real
 * metered calls made, summed by Stoa and read back exactly; the window on
 * the wire; typed errors for bad input and for answers that are not a summary.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { getUsageSummary } from "../../src/api/usage-summary.ts";
import { StoaAPIError, StoaConfigError } from "../../src/errors.ts";
import { Stoa, StoaProvider } from "../../src/index.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { apiSetup, caught } from "../support/api.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY } from "../support/meter.ts";
import { newRunId } from "../support/provider.ts";
import { FAKE_STOA_API_KEY, stoaBase, stoaReceived } from "../support/stoa.ts";

const MESSAGES = [{ role: "user" as const, content: "hi" }];

describe("stoa.getUsage", () => {
  it("reads back exactly what the metered calls used, and what the local price table made of it", async () => {
    const run = await meterRun("usage-sum");
    const openai = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "reader/1" }),
    });
    for (let i = 0; i < 3; i++) await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    await run.stoa.flush();

    const summary = await run.stoa.getUsage("reader/1");
    const times = (n: number) => n * 3;
    const usage = Object.fromEntries(Object.entries(OPENAI_CHAT_USAGE).map(([k, v]) => [k, times(v)]));
    // per call: 176 input at $0.15, 1024 cached at $0.075, 300 output at $0.60 per million = $0.0002832
    expect(summary).toEqual({
      userId: "reader/1",
      from: expect.any(String),
      to: expect.any(String),
      events: 3,
      usage,
      costUsd: 0.0008496,
      byModel: [
        { provider: "openai", model: expect.stringMatching(/^gpt-4o-mini/), events: 3, usage, costUsd: 0.0008496 },
      ],
    });
    const path = (await stoaReceived(run.runId)).at(-1)?.path;
    expect(path).toBe("/v1/members/reader%2F1/usage");
  });

  it("sends the window as RFC 3339 in UTC, and refuses a bad one before sending anything", async () => {
    const runId = newRunId("usage-win");
    const stoa = new Stoa({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase(runId) });
    const summary = await stoa.getUsage("u", {
      from: new Date("2026-11-01T00:00:00Z"),
      to: "2026-11-20T12:00:00+01:00",
    });
    expect(summary).toMatchObject({
      from: "2026-11-01T00:00:00Z",
      to: "2026-11-20T11:00:00Z",
      events: 0,
      costUsd: null,
    });
    expect((await stoaReceived(runId)).at(-1)?.path).toBe(
      "/v1/members/u/usage?from=2026-11-01T00%3A00%3A00.000Z&to=2026-11-20T11%3A00%3A00.000Z",
    );
    const before = (await stoaReceived(runId)).length;
    for (const bad of [() => stoa.getUsage(""), () => stoa.getUsage("u", { from: "last week" })]) {
      expect(await caught(bad())).toBeInstanceOf(StoaConfigError);
    }
    expect((await stoaReceived(runId)).length).toBe(before);
  });

  it("reads a missing usage field as 0 and a missing cost as null; refuses a body that is not a summary", async () => {
    const answering =
      (body: unknown): FetchLike =>
      async () =>
        Response.json(body);
    const sparse = { userId: "u", from: "a", to: "b", events: 1, usage: { outputTokens: 5 }, byModel: [] };
    const { api } = apiSetup("", { fetch: answering(sparse), baseUrl: "https://stoa.test/api" });
    expect(await getUsageSummary(api, "u")).toMatchObject({
      events: 1,
      usage: { inputTokens: 0, outputTokens: 5, webSearchRequests: 0 },
      costUsd: null,
    });
    for (const body of [
      {},
      { ...sparse, events: -1 },
      { ...sparse, usage: { inputTokens: 1.5 } },
      { ...sparse, byModel: [{}] },
    ]) {
      const { api: bad } = apiSetup("", { fetch: answering(body), baseUrl: "https://stoa.test/api" });
      const error = await caught(getUsageSummary(bad, "u"));
      expect(error).toBeInstanceOf(StoaAPIError);
      expect(error).toMatchObject({
        code: "api_error",
        apiCode: "invalid_response",
        message: "Stoa API answered with a body that is not a usage summary.",
      });
    }
  });
});
