/**
 * The `Stoa` object's payment and member methods against the fake Stoa: the
 * whole unblock flow, and the registration secret's defaults and errors.
 */
import OpenAI from "openai";
import { describe, expect, inject, it } from "vitest";
import { Stoa, StoaChargeRequiredError, StoaConfigError, StoaProvider } from "../../src/index.ts";
import { meterRun, OPENAI_CHAT_USAGE, PROVIDER_KEY, STOA_KEY } from "../support/meter.ts";
import { newRunId } from "../support/provider.ts";
import {
  chargeabilityChecks,
  completePaymentSession,
  FAKE_REGISTRATION_SECRET,
  stoaBase,
  stoaMembers,
  stoaReceived,
} from "../support/stoa.ts";

const MESSAGES = [{ role: "user" as const, content: "hi" }];

describe("the unblock flow", () => {
  it("blocked → payment session → complete → the same client succeeds, metered once", async () => {
    const run = await meterRun("flow", { registrationSecret: FAKE_REGISTRATION_SECRET }, true);
    const member = await run.stoa.registerMember({ userId: "ada", email: "ada@example.com", name: "Ada" });
    expect(member).toMatchObject({ userId: "ada", created: true });
    expect((await run.stoa.registerMember({ userId: "ada", email: "ada@example.com" })).created).toBe(false);

    const openai = new OpenAI({
      apiKey: PROVIDER_KEY,
      baseURL: run.bases().openai,
      fetch: run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "ada" }),
    });
    const blocked = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES }).catch((e) => e);
    expect(blocked instanceof StoaChargeRequiredError).toBe(true);
    // the spend hold for the call's worst case was refused: nothing paid yet
    expect(StoaChargeRequiredError.from(blocked)).toMatchObject({
      userId: "ada",
      reason: "payment_required",
      availableUsd: 0,
    });
    expect(StoaChargeRequiredError.from(blocked)?.requiredUsd).toBeGreaterThan(0);

    const returnUrl = "http://localhost:8787/billing/return?next=%2Fchat";
    const session = await run.stoa.createPaymentSession({ userId: "ada", email: "ada@example.com", returnUrl });
    expect(session).toMatchObject({ userId: "ada", status: "open", returnUrl, membershipId: member.membershipId });
    expect(session.checkoutUrl).toBe(`${inject("stoaServer")}/checkout/${session.id}`);
    expect(await run.stoa.createPaymentSession({ userId: "ada", email: "ada@example.com", returnUrl })).toEqual(
      session,
    );

    await completePaymentSession(run.runId, session.id, 10);
    expect((await run.stoa.getPaymentSession(session.id)).status).toBe("complete");
    const done = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    expect(done.choices[0]?.message.content).toBe("Hello!");
    // two hold requests (refused, then granted), no chargeability check
    const holds = (await stoaReceived(run.runId)).filter((r) => r.path === "/v1/members/ada/holds");
    expect(holds).toHaveLength(2);
    expect(await chargeabilityChecks(run.runId, "ada")).toBe(0);
    const events = await run.events();
    expect(events.map((e) => e.usage)).toEqual([OPENAI_CHAT_USAGE]);
    expect(events[0]?.holdId).toMatch(/^hold_/);
    // flushed: the hold is released, nothing stays held
    expect(await run.stoa.getBalance("ada")).toMatchObject({
      balanceUsd: 9.9997168,
      heldUsd: 0,
      availableUsd: 9.9997168,
      chargeable: true,
    });
    // the local server debits its price table: gpt-4o-mini, 176 input at $0.15, 1024 cached at
    // $0.075 and 300 output at $0.60 per million tokens = $0.0002832
    expect((await stoaMembers(run.runId)).ada).toMatchObject({ paid: true, balanceUsd: 9.9997168 });
  });

  it("refuses a bad returnUrl before sending anything", async () => {
    const run = await meterRun("bad-return", {}, true);
    const before = (await stoaReceived(run.runId)).length;
    for (const returnUrl of ["http://example.com/return", "/billing/return", "ftp://localhost/x"]) {
      await expect(run.stoa.createPaymentSession({ userId: "ada", returnUrl })).rejects.toBeInstanceOf(StoaConfigError);
    }
    expect((await stoaReceived(run.runId)).length).toBe(before);
  });
});

describe("registerMember's secret", () => {
  it("comes from the call, then the Stoa option, then STOA_REGISTRATION_SECRET", async () => {
    const runId = newRunId("secret");
    const stoa = new Stoa({ apiKey: STOA_KEY, baseUrl: stoaBase(runId) });
    const fromCall = await stoa.registerMember({
      userId: "u1",
      email: "u1@example.com",
      registrationSecret: FAKE_REGISTRATION_SECRET,
    });
    expect(fromCall.created).toBe(true);
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    if (env !== undefined) {
      env.STOA_REGISTRATION_SECRET = FAKE_REGISTRATION_SECRET;
      try {
        expect((await stoa.registerMember({ userId: "u2", email: "u2@example.com" })).created).toBe(true);
      } finally {
        delete env.STOA_REGISTRATION_SECRET;
      }
    }
  });

  it("is a StoaConfigError that says how to pass one when missing, and never leaks when wrong", async () => {
    const runId = newRunId("nosecret");
    const stoa = new Stoa({ apiKey: STOA_KEY, baseUrl: stoaBase(runId) });
    await expect(stoa.registerMember({ userId: "u", email: "u@example.com" })).rejects.toThrow(StoaConfigError);
    await expect(stoa.registerMember({ userId: "u", email: "u@example.com" })).rejects.toThrow(
      /STOA_REGISTRATION_SECRET/,
    );
    const wrong = "wrong-secret-that-must-not-leak-0123456789";
    const error = (await stoa
      .registerMember({ userId: "u", email: "u@example.com", registrationSecret: wrong })
      .catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ status: 401, code: "api_error", apiCode: "invalid_registration_token" });
    expect(`${error.message} ${error.stack} ${String(error.cause)}`).not.toContain(wrong);
  });
});
