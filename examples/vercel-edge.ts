/**
 * A Vercel Edge Function that meters each user's OpenAI calls with Stoa.
 *
 * POST {"message": "…"}  with header `x-user-id`  → the streamed answer as text;
 * a user who cannot be charged gets 402 JSON with a checkout URL.
 *
 * Env: STOA_API_KEY, STOA_BASE_URL (optional), OPENAI_API_KEY, OPENAI_BASE_URL (optional).
 * Delivery runs in the request's `context.waitUntil`, after the response is sent.
 */
import OpenAI from "openai";
import { Stoa, StoaChargeRequiredError, StoaProvider } from "../src/index.ts";

export const config = { runtime: "edge" };

/** An environment variable from `process.env` (Vercel Edge has one); undefined where there is no `process`. */
const env = (name: string): string | undefined =>
  typeof process === "undefined" ? undefined : process.env[name] || undefined;

let stoa: Stoa | undefined;

export default async function handler(
  request: Request,
  context: { waitUntil(promise: Promise<unknown>): void },
): Promise<Response> {
  if (request.method !== "POST") return new Response("Method not allowed", { status: 405 });
  const userId = request.headers.get("x-user-id");
  if (!userId) return new Response("x-user-id header required", { status: 400 });
  const { message } = (await request.json()) as { message?: string };

  // one Stoa per isolate; one metering fetch per request, with that request's waitUntil
  stoa ??= new Stoa({ apiKey: env("STOA_API_KEY"), baseUrl: env("STOA_BASE_URL") });
  const openai = new OpenAI({
    apiKey: env("OPENAI_API_KEY"),
    baseURL: env("OPENAI_BASE_URL"),
    fetch: stoa.fetch({
      provider: StoaProvider.OpenAI,
      userId,
      waitUntil: context.waitUntil.bind(context),
      metadata: { feature: "chat" },
    }),
  });

  let stream: Awaited<ReturnType<typeof streamChat>>;
  try {
    stream = await streamChat(openai, message ?? "Hello");
  } catch (error) {
    // the user cannot be charged (no provider call was made): send them to pay
    const blocked = StoaChargeRequiredError.from(error);
    if (blocked === null) throw error;
    // a payment cannot lift a suspension
    if (blocked.reason === "member_suspended")
      return Response.json({ error: { code: "member_suspended" } }, { status: 403 });
    const payment = await stoa.createPaymentSession({ userId, returnUrl: new URL("/", request.url).href });
    // no checkout: a balance above 0 that cannot cover this call (a retry is blocked the same way: 402),
    // or a payment that landed meanwhile (409: try again)
    const { reason, requiredUsd, availableUsd } = blocked;
    const status = payment.checkoutUrl !== null || reason === "insufficient_balance" ? 402 : 409;
    return Response.json(
      { error: { code: blocked.code, reason }, checkoutUrl: payment.checkoutUrl, requiredUsd, availableUsd },
      { status },
    );
  }
  const chunks = stream[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    // one chunk per read, so a slow client slows the provider down
    async pull(controller) {
      for (;;) {
        const { done, value } = await chunks.next();
        if (done) return controller.close();
        const text = value.choices[0]?.delta.content;
        if (text) return controller.enqueue(encoder.encode(text));
      }
    },
    // the client went away: stop the provider's stream; Stoa bills what it sent (`aborted`)
    async cancel() {
      await chunks.return?.();
    },
  });
  return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** The streamed chat completion for one message. */
function streamChat(openai: OpenAI, message: string) {
  return openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: message }],
    stream: true,
  });
}
