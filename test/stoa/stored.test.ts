/**
 * A 2xx from `POST /v1/usage/events` means stored, whatever its body: an
 * answer that is not JSON (or is empty) is not reported as a lost delivery.
 */
import { describe, expect, it } from "vitest";
import { Stoa, StoaProvider } from "../../src/index.ts";
import type { FetchLike } from "../../src/runtime.ts";

describe("a 2xx delivery answer that is not JSON", () => {
  it("is stored: nothing reaches onError, each batch is sent once", async () => {
    const bodies = ["OK", "", "<html>stored</html>"];
    let posts = 0;
    const stoaApi: FetchLike = async (input) => {
      if (String(input).endsWith("/chargeability"))
        return Response.json({ userId: "u", chargeable: true, reason: null, ttlSeconds: 60 });
      posts++;
      return new Response(bodies[posts - 1] ?? "", { status: 200, headers: { "content-type": "text/plain" } });
    };
    const errors: Error[] = [];
    const stoa = new Stoa({
      spend: false,
      apiKey: "sk_test",
      baseUrl: "https://stoa.test/api",
      fetch: stoaApi,
      onError: (error) => errors.push(error),
    });
    const upstream: FetchLike = async () =>
      Response.json({ id: "c1", model: "m", choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } });
    for (let i = 0; i < 3; i++) {
      const metered = stoa.fetch({ provider: StoaProvider.OpenAI, userId: `u${i}`, fetch: upstream });
      await (
        await metered("https://api.openai.com/v1/chat/completions", { method: "POST", body: '{"model":"m"}' })
      ).text();
      await stoa.flush();
    }
    expect(posts).toBe(3);
    expect(errors.map((e) => e.message)).toEqual([]);
  });
});
