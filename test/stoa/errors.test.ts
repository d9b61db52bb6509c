/**
 * The error classes: one literal `code` per class (so a `switch` over
 * `error.code` is exhaustive, checked by the type checker), the API's own
 * code apart as `apiCode`, and an `onError` hook that may be async.
 */
import { describe, expect, it, vi } from "vitest";
import { StoaStoreError, StoaStoreFullError } from "../../src/hono/store.ts";
import {
  Stoa,
  StoaAPIError,
  StoaChargeRequiredError,
  StoaConfigError,
  StoaConnectionError,
  StoaDeliveryError,
  type StoaError,
  StoaProvider,
  StoaStreamError,
} from "../../src/index.ts";
import type { FetchLike } from "../../src/runtime.ts";

/** Compiles only while `code` is a closed union: the `never` below would not type-check otherwise. */
function handled(error: StoaError): string {
  switch (error.code) {
    case "config_error":
    case "api_error":
    case "connection_error":
    case "delivery_error":
    case "stream_error":
    case "charge_required":
    case "store_full":
    case "store_error":
      return error.code;
    default: {
      const unreachable: never = error.code;
      return unreachable;
    }
  }
}

describe("error codes", () => {
  it("has one literal code per class; the API's code is apiCode", () => {
    const errors: StoaError[] = [
      new StoaConfigError("c"),
      new StoaAPIError("a", { status: 401, type: "authentication", apiCode: "invalid_api_key" }),
      new StoaConnectionError("n"),
      new StoaDeliveryError("d", []),
      new StoaStreamError("s"),
      new StoaChargeRequiredError("u", "payment_required"),
      new StoaStoreFullError("records", 1),
      new StoaStoreError(new Error("down")),
    ];
    expect(errors.map(handled)).toEqual([
      "config_error",
      "api_error",
      "connection_error",
      "delivery_error",
      "stream_error",
      "charge_required",
      "store_full",
      "store_error",
    ]);
    expect((errors[1] as StoaAPIError).apiCode).toBe("invalid_api_key");
    expect(new StoaAPIError("a", { status: 502 }).apiCode).toBeUndefined();
    expect(new StoaAPIError("a", { status: 400, apiCode: "" }).apiCode).toBeUndefined();
  });
});

describe("onError", () => {
  it("catches the rejection of an async hook, wherever the error comes from", async () => {
    const returned: { promise: Promise<void>; then: ReturnType<typeof vi.fn> }[] = [];
    const seen: string[] = [];
    const stoaDown: FetchLike = async () => {
      throw new TypeError("connection refused");
    };
    const stoa = new Stoa({
      apiKey: "sk_test",
      baseUrl: "https://stoa.test/api",
      fetch: stoaDown,
      retryBudgetMs: 1,
      onError(error) {
        seen.push(error.name);
        const promise = Promise.reject(new Error("the hook's own failure"));
        const then = vi.fn(promise.then.bind(promise));
        // biome-ignore lint/suspicious/noThenProperty: a spy on the real promise's own then
        promise.then = then as typeof promise.then;
        returned.push({ promise, then });
        return promise;
      },
    });
    const provider: FetchLike = async () =>
      Response.json({
        id: "chatcmpl-1",
        model: "gpt-4o-mini",
        choices: [],
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
      });
    const metered = stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u1", fetch: provider });
    const response = await metered("https://api.openai.com/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(await response.json()).toMatchObject({ usage: { total_tokens: 7 } });
    await stoa.flush();
    // the failed chargeability check, then the undelivered event
    expect(seen).toEqual(["StoaConnectionError", "StoaDeliveryError"]);
    expect(returned).toHaveLength(2);
    for (const { then } of returned) {
      expect(then).toHaveBeenCalled();
      expect(typeof then.mock.calls[0]?.[1]).toBe("function");
    }
  });
});
