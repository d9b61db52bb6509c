/**
 * A Deno server (`deno run`, Deno Deploy) that meters each user's OpenAI calls with Stoa.
 *
 * POST /chat  {"message": "…"}  with header `x-user-id`  → the streamed answer as text, or,
 * for a user who cannot be charged yet, 402 `{"error": {"code": "charge_required", …}, "checkoutUrl": …}`
 * (a browser, `Accept: text/html`, is sent to checkout with a 303).
 *
 * Env: STOA_API_KEY, STOA_BASE_URL (optional), OPENAI_API_KEY, OPENAI_BASE_URL (optional),
 * HOST (default 127.0.0.1), PORT (default 0: a free port). Prints `Listening on http://<host>:<port>/`.
 *
 * Deno has no per-request waitUntil: events go out in the background as soon as they are
 * ready, and SIGINT (how Deno Deploy stops an instance, 5 s before SIGKILL) or SIGTERM
 * drains the server and flushes them before the process exits.
 *
 *   deno run --allow-net --allow-env examples/deno.ts
 */
import OpenAI from "openai";
import { Stoa, StoaChargeRequiredError, StoaProvider } from "../src/index.ts";

// Built into Deno; declared here only for the repo's own `tsc`.
declare const Deno: {
  env: { get(name: string): string | undefined };
  serve(
    options: { hostname: string; port: number; onListen(address: { hostname: string; port: number }): void },
    handler: (request: Request) => Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const stoa = new Stoa(); // STOA_API_KEY, STOA_BASE_URL from Deno.env

const server = Deno.serve(
  {
    hostname: Deno.env.get("HOST") ?? "127.0.0.1",
    port: Number(Deno.env.get("PORT") ?? 0),
    onListen: ({ hostname, port }) => console.log(`Listening on http://${hostname}:${port}/`),
  },
  async (request) => {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/chat") return new Response("Not found", { status: 404 });
    const userId = request.headers.get("x-user-id");
    if (!userId) return new Response("x-user-id header required", { status: 400 });
    const { message } = (await request.json()) as { message?: string };

    // OPENAI_API_KEY, OPENAI_BASE_URL from Deno.env; one metering fetch per request
    const openai = new OpenAI({
      fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId, metadata: { feature: "chat" } }),
    });
    let stream: Awaited<ReturnType<typeof streamChat>>;
    try {
      stream = await streamChat(openai, message ?? "Hello");
    } catch (error) {
      // spend holds are on by default: a user who cannot cover the call is blocked before it is sent
      // (the error is the OpenAI SDK's own 402; `from` gives Stoa's typed error for it)
      const blocked = StoaChargeRequiredError.from(error);
      if (blocked === null) throw error;
      return payFirst(blocked, request);
    }
    const chunks = stream[Symbol.asyncIterator]();
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          const { done, value } = await chunks.next();
          if (done) return controller.close();
          const text = value.choices[0]?.delta.content;
          if (text) return controller.enqueue(encoder.encode(text));
        }
      },
      async cancel() {
        await chunks.return?.();
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
);

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
 * returns to this server's `/` with `stoa_session_id` added.
 */
async function payFirst(error: StoaChargeRequiredError, request: Request): Promise<Response> {
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

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return; // a second signal while draining
  stopping = true;
  await server.shutdown(); // no new requests; open ones finish and queue their events
  await stoa.flush(); // every event stored, or handed to onError
  Deno.exit(0);
}
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
