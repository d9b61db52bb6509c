/**
 * A Cloudflare Worker that meters each user's OpenAI calls with Stoa.
 *
 * POST /chat  {"message": "…"}  with header `x-user-id`  → the streamed answer as text, or,
 * for a user who cannot be charged yet, 402 `{"error": {"code": "charge_required", …}, "checkoutUrl": …}`
 * (a browser, `Accept: text/html`, is sent to checkout with a 303).
 *
 * Env: STOA_API_KEY, STOA_BASE_URL (optional), OPENAI_API_KEY, OPENAI_BASE_URL (optional).
 */
import OpenAI from "openai";
import { Stoa, StoaChargeRequiredError, StoaProvider } from "../src/index.ts";

/** The bindings this worker reads. */
export interface Env {
  STOA_API_KEY: string;
  STOA_BASE_URL?: string;
  OPENAI_API_KEY: string;
  OPENAI_BASE_URL?: string;
}

let stoa: Stoa | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/chat") return new Response("Not found", { status: 404 });
    const userId = request.headers.get("x-user-id");
    if (!userId) return new Response("x-user-id header required", { status: 400 });
    const { message } = (await request.json()) as { message?: string };

    // one Stoa per isolate; one metering fetch per request, with that request's waitUntil
    stoa ??= new Stoa({ apiKey: env.STOA_API_KEY, ...(env.STOA_BASE_URL ? { baseUrl: env.STOA_BASE_URL } : {}) });
    const openai = new OpenAI({
      apiKey: env.OPENAI_API_KEY,
      ...(env.OPENAI_BASE_URL ? { baseURL: env.OPENAI_BASE_URL } : {}),
      fetch: stoa.fetch({
        provider: StoaProvider.OpenAI,
        userId,
        waitUntil: ctx.waitUntil.bind(ctx),
        metadata: { feature: "chat" },
      }),
    });

    let stream: Awaited<ReturnType<typeof streamChat>>;
    try {
      stream = await streamChat(openai, message ?? "Hello");
    } catch (error) {
      // spend holds are on by default: a user who cannot cover the call is blocked before it is sent
      // (the error is the OpenAI SDK's own 402; `from` gives Stoa's typed error for it)
      const blocked = StoaChargeRequiredError.from(error);
      if (blocked === null) throw error;
      return payFirst(stoa, blocked, request);
    }
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for await (const chunk of stream) controller.enqueue(encoder.encode(chunk.choices[0]?.delta.content ?? ""));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
} satisfies ExportedHandler<Env>;

/** The streamed chat completion for one message. */
function streamChat(openai: OpenAI, message: string) {
  return openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: message }],
    stream: true,
  });
}

/**
 * The answer to a blocked user: a payment session, then a 303 to checkout for
 * a browser, or 402 JSON with the checkout URL for an API client. Checkout
 * returns to this app's `/` with `stoa_session_id` added.
 */
async function payFirst(stoa: Stoa, error: StoaChargeRequiredError, request: Request): Promise<Response> {
  if (error.reason === "member_suspended") {
    // a payment cannot lift a suspension
    return Response.json(
      { error: { code: "member_suspended", message: "This account is suspended." } },
      { status: 403 },
    );
  }
  const payment = await stoa.createPaymentSession({ userId: error.userId, returnUrl: new URL("/", request.url).href });
  if (payment.checkoutUrl === null) {
    // no checkout: a balance above 0 that cannot cover this call (Stoa counts it as chargeable, so a
    // retry is blocked the same way), or a payment that landed meanwhile (the client may try again)
    if (error.reason === "insufficient_balance") {
      const { requiredUsd, availableUsd } = error;
      const message = "The balance cannot cover this call.";
      return Response.json({ error: { code: "balance_too_low", message }, requiredUsd, availableUsd }, { status: 402 });
    }
    return Response.json(
      { error: { code: "retry", message: "Nothing is owed any more: try again." } },
      { status: 409 },
    );
  }
  if (request.headers.get("accept")?.includes("text/html")) return Response.redirect(payment.checkoutUrl, 303);
  return Response.json(
    {
      error: { code: error.code, reason: error.reason, message: "Payment is required to continue." },
      checkoutUrl: payment.checkoutUrl,
    },
    { status: 402 },
  );
}
