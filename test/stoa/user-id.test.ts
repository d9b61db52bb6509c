/**
 * The valid form of a userId (1 to 256 UTF-16 code units, well-formed, not
 * "." or ".."), refused up front with a StoaConfigError by every call that
 * takes one, before anything reaches the gate or the Stoa API.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { isValidUserId, MAX_USER_ID_LENGTH } from "../../src/api/user-id.ts";
import { Stoa, StoaConfigError, StoaProvider } from "../../src/index.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { caught } from "../support/api.ts";

const BAD = ["x".repeat(40_000), "u\uD800", "\uDC00u", "a\uDBFF\uDBFFb", "", ".", "..", "x".repeat(257)];
const GOOD = ["u", "user_123", "x".repeat(256), "😀".repeat(128), "a/b?c#d", "%2e%2e", "...", "Ádá 李"];

function counted() {
  const calls: string[] = [];
  const stoaApi: FetchLike = async (input) => {
    calls.push(String(input));
    return Response.json({ chargeable: true, reason: null, ttlSeconds: 60 });
  };
  const stoa = new Stoa({
    spend: false,
    apiKey: "sk_test",
    baseUrl: "https://stoa.test/api",
    fetch: stoaApi,
    registrationSecret: "whsec_test",
    onError: () => {},
  });
  return { stoa, calls };
}

describe("the userId form", () => {
  it("is 1 to 256 UTF-16 code units of well-formed text, not '.' or '..'", () => {
    expect(MAX_USER_ID_LENGTH).toBe(256);
    expect(BAD.map(isValidUserId)).toEqual(BAD.map(() => false));
    expect(GOOD.map(isValidUserId)).toEqual(GOOD.map(() => true));
    expect(isValidUserId(42)).toBe(false);
  });

  it("is refused by stoa.fetch() and stoa.wrap() with a StoaConfigError that does not echo it; nothing reaches the gate", async () => {
    const { stoa, calls } = counted();
    for (const userId of BAD) {
      expect(() => stoa.fetch({ provider: StoaProvider.OpenAI, userId })).toThrow(StoaConfigError);
      expect(() => stoa.wrap(new OpenAI({ apiKey: "sk" }), { provider: StoaProvider.OpenAI, userId })).toThrow(
        StoaConfigError,
      );
    }
    let message = "";
    try {
      stoa.fetch({ provider: StoaProvider.OpenAI, userId: "x".repeat(40_000) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      "stoa.fetch() needs a userId: the app's own id of the user, 1 to 256 UTF-16 code units of well-formed text (no lone surrogate), not '.' or '..'.",
    );
    expect(calls).toEqual([]);
  });

  it("is refused by the payment, usage and member calls before anything is sent", async () => {
    const { stoa, calls } = counted();
    for (const userId of BAD) {
      const errors = [
        await caught(stoa.createPaymentSession({ userId, returnUrl: "https://app.example/r" })),
        await caught(stoa.getUsage(userId)),
        await caught(stoa.registerMember({ userId, email: "a@example.com" })),
      ];
      for (const error of errors) expect(error).toBeInstanceOf(StoaConfigError);
    }
    expect(calls).toEqual([]);
  });

  it("takes every valid id to the gate, path-encoded", async () => {
    const { stoa, calls } = counted();
    const upstream: FetchLike = async () =>
      Response.json({ id: "c", model: "m", choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } });
    for (const userId of GOOD) {
      const metered = stoa.fetch({ provider: StoaProvider.OpenAI, userId, fetch: upstream });
      await (
        await metered("https://api.openai.com/v1/chat/completions", { method: "POST", body: '{"model":"m"}' })
      ).text();
    }
    const checks = calls.filter((url) => url.endsWith("/chargeability"));
    expect(checks).toEqual(
      GOOD.map((userId) => `https://stoa.test/api/v1/members/${encodeURIComponent(userId)}/chargeability`),
    );
  });
});
