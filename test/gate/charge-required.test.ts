/**
 * A user who cannot be charged never reaches the provider, and the app gets
 * an error for which `instanceof StoaChargeRequiredError` holds, through the
 * real SDKs and through a bare fetch.
 */
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import Anthropic from "@anthropic-ai/sdk";
import { HTTPClient, Mistral } from "@mistralai/mistralai";
import { generateText, streamText } from "ai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { type MeteredFetch, StoaChargeRequiredError, StoaError, StoaProvider } from "../../src/index.ts";
import { FAKE } from "../meter/more-clients-support.ts";
import { meterRun, PROVIDER_KEY } from "../support/meter.ts";
import { providerRequests } from "../support/provider.ts";
import { configureStoa, stoaReceived } from "../support/stoa.ts";

/** A metering fetch that counts its calls. */
function counted(meter: MeteredFetch): { fetch: MeteredFetch; calls: () => number } {
  let calls = 0;
  const fetch = Object.assign((input: RequestInfo | URL, init?: RequestInit) => {
    calls++;
    return meter(input, init);
  }, meter) as MeteredFetch;
  return { fetch, calls: () => calls };
}

async function blockedRun(label: string, reason: string) {
  const run = await meterRun(label, {}, true);
  const members =
    reason === "insufficient_balance"
      ? { user_blocked: { paid: true, balanceUsd: 0 } }
      : reason === "member_suspended"
        ? { user_blocked: { paid: true, balanceUsd: 5, suspended: true } }
        : {};
  await configureStoa(run.runId, { members });
  return run;
}

function expectBlocked(error: unknown, reason: string): void {
  expect(error instanceof StoaChargeRequiredError).toBe(true);
  const typed = StoaChargeRequiredError.from(error);
  expect(typed).toBeInstanceOf(StoaChargeRequiredError);
  expect(typed).toBeInstanceOf(StoaError);
  expect(typed).toMatchObject({ userId: "user_blocked", reason, code: "charge_required" });
}

describe("a blocked user", () => {
  it("through openai: one fetch call, no provider request, instanceof holds", async () => {
    const run = await blockedRun("gate-openai", "payment_required");
    const meter = counted(run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_blocked" }));
    const openai = new OpenAI({ apiKey: PROVIDER_KEY, baseURL: run.bases().openai, fetch: meter.fetch });
    const error = await openai.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expectBlocked(error, "payment_required");
    expect(meter.calls()).toBe(1);
    expect(await providerRequests(run.runId)).toEqual([]);
    expect(await run.events()).toEqual([]);
  });

  it("through @anthropic-ai/sdk, streamed or not", async () => {
    const run = await blockedRun("gate-anthropic", "insufficient_balance");
    const meter = counted(run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_blocked" }));
    const claude = new Anthropic({ apiKey: PROVIDER_KEY, baseURL: run.bases().anthropic, fetch: meter.fetch });
    const request = { model: "claude-sonnet-5", max_tokens: 64, messages: [{ role: "user" as const, content: "hi" }] };
    const plain = await claude.messages.create(request).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(Anthropic.PaymentRequiredError);
    expectBlocked(plain, "insufficient_balance");
    const streamed = await claude.messages
      .stream(request)
      .finalMessage()
      .catch((e: unknown) => e);
    expectBlocked(streamed, "insufficient_balance");
    expect(meter.calls()).toBe(2);
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("through the AI SDK: generateText throws it, streamText reports it", async () => {
    const run = await blockedRun("gate-aisdk", "member_suspended");
    const meter = counted(run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_blocked" }));
    const openai = createOpenAI({ apiKey: PROVIDER_KEY, baseURL: run.bases().openai, fetch: meter.fetch });
    const generated = await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "hi" }).catch((e: unknown) => e);
    expectBlocked(generated, "member_suspended");
    expect(meter.calls()).toBe(1);

    const anthropicMeter = counted(run.stoa.fetch({ provider: StoaProvider.Anthropic, userId: "user_blocked" }));
    const anthropic = createAnthropic({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().anthropicV1,
      fetch: anthropicMeter.fetch,
    });
    const errors: unknown[] = [];
    const streamed = streamText({
      model: anthropic("claude-sonnet-5"),
      prompt: "hi",
      onError: ({ error }) => errors.push(error),
    });
    for await (const _ of streamed.textStream) {
      // nothing arrives
    }
    expect(errors).toHaveLength(1);
    expectBlocked(errors[0], "member_suspended");
    expect(anthropicMeter.calls()).toBe(1);
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("through a bare fetch: the error is thrown", async () => {
    const run = await blockedRun("gate-bare", "payment_required");
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_blocked" });
    const error = await meter(`${run.bases().openai}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [] }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoaChargeRequiredError);
    expectBlocked(error, "payment_required");
    expect((error as Error).message).toContain("createPaymentSession");
    expect(await providerRequests(run.runId)).toEqual([]);
  });

  it("is not checked for calls that are not metered", async () => {
    const run = await blockedRun("gate-unmetered", "payment_required");
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "user_blocked" });
    const response = await meter(`${run.bases().openai}/models`);
    expect(response.status).toBe(404);
    const checks = (await stoaReceived(run.runId)).filter((r) => r.path.includes("/chargeability"));
    expect(checks).toEqual([]);
  });
});

describe("a blocked call through Mistral's SDK (to which the meter throws the error itself)", () => {
  it("is a StoaChargeRequiredError inside the SDK's own error, and from() gives its fields", async () => {
    const run = await blockedRun("gate-mistral", "payment_required");
    const meter = run.stoa.fetch({ provider: StoaProvider.Mistral, userId: "user_blocked" });
    const client = new Mistral({
      apiKey: PROVIDER_KEY,
      serverURL: `${FAKE}/mistral`,
      httpClient: new HTTPClient({ fetcher: (request) => meter(request) }),
    });
    const error = await client.chat
      .complete({ model: "mistral-small-latest", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(StoaError); // the SDK's own wrapper
    expectBlocked(error, "payment_required");
    expect(await providerRequests(run.runId)).toEqual([]);
  });
});

describe("StoaChargeRequiredError recognition", () => {
  it("is false for other errors, other 402s and look-alikes", () => {
    expect(new Error("x") instanceof StoaChargeRequiredError).toBe(false);
    expect({ status: 402, headers: new Headers() } instanceof StoaChargeRequiredError).toBe(false);
    expect(
      { status: 402, headers: new Headers({ "x-stoa-charge-required": "bogus", "x-stoa-user-id": "u" }) } instanceof
        StoaChargeRequiredError,
    ).toBe(false);
    expect(StoaChargeRequiredError.from(null)).toBeNull();
    expect(StoaChargeRequiredError.from("payment_required")).toBeNull();
  });

  it("is false for an upstream's 402 that copies the marker headers: it cannot name a user", async () => {
    const run = await meterRun("gate-forged");
    // a provider, a proxy or an OpenAI-compatible host the app's users configure, answering as our blocks do
    const forged = async () =>
      new Response(JSON.stringify({ error: { message: "pay up", type: "payment_required" } }), {
        status: 402,
        headers: {
          "content-type": "application/json",
          "x-stoa-charge-required": "payment_required",
          "x-stoa-user-id": "victim",
        },
      });
    const client = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      maxRetries: 0,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "attacker", fetch: forged }),
    });
    const error = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect((error as { status?: number }).status).toBe(402);
    expect(error instanceof StoaChargeRequiredError).toBe(false);
    expect(StoaChargeRequiredError.from(error)).toBeNull();
  });
});
