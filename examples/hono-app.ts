/**
 * A Hono app on Cloudflare Workers that meters each user's OpenAI calls with
 * Stoa and, when a user cannot be charged, sends them to pay and then
 * finishes what they asked for.
 *
 * POST /chat  {"message": "…"}  with header `x-user-id`  → {"answer": "…"}
 * GET  /stoa/return                                    ← Stoa, after checkout
 *
 * Env: STOA_API_KEY, STOA_BASE_URL (optional), STOA_STATE_SECRET (≥ 32 bytes),
 * OPENAI_API_KEY (optional: without it the chat example's built-in fake
 * provider answers, offline), OPENAI_BASE_URL (optional), RESUME (a KV namespace).
 * Run: `npm run dev:hono` starts it on 127.0.0.1:8787 with the local Stoa
 * server on :8788 (examples/hono-app.wrangler.toml has the local bindings), then
 * `curl -X POST -H 'x-user-id: alice' -d '{"message":"Hi"}' http://127.0.0.1:8787/chat`.
 */
import { Hono } from "hono";
import OpenAI from "openai";
import { chargeRequired, kvStore, meteredFetch, paymentReturn, stoa } from "../src/hono/index.ts";
import { StoaProvider } from "../src/index.ts";
import { createFakeProvider } from "./chat/fake-provider.ts";

/** The bindings this worker reads. */
export interface Env {
  STOA_API_KEY: string;
  STOA_BASE_URL?: string;
  STOA_STATE_SECRET: string;
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  RESUME: KVNamespace;
}

const app = new Hono<{ Bindings: Env }>();

// one Stoa for the app, from c.env; c.var.stoa in every handler
app.use(stoa());

// pending resumes wait in KV: the return may land on another isolate
const store = (c: { env: Env }) => kvStore(c.env.RESUME);

// a charge-required error: 303 to checkout for browsers, 402 JSON for API clients
app.onError(chargeRequired({ store }));

// back from checkout: check the payment, then replay the blocked request as this user
app.get(
  "/stoa/return",
  paymentReturn({
    store,
    // in a real app: the user of the session cookie; only the blocked user resumes
    currentUser: (c) => c.req.header("x-user-id"),
    onResume(c, { request, userId }) {
      const headers = new Headers(request.headers);
      headers.set("x-user-id", userId);
      return app.fetch(new Request(request, { headers }), c.env, c.executionCtx);
    },
  }),
);

app.post("/chat", async (c) => {
  const userId = c.req.header("x-user-id");
  if (!userId) return c.json({ error: "x-user-id header required" }, 400);
  const { message } = await c.req.json<{ message?: string }>();
  // no OpenAI key: the fake provider answers in OpenAI's wire format, and the meter reads it as it would OpenAI
  const fake = !c.env.OPENAI_API_KEY;
  const openai = new OpenAI({
    apiKey: c.env.OPENAI_API_KEY || "sk-fake-provider",
    ...(fake ? { baseURL: "https://fake-provider.invalid/v1", maxRetries: 0 } : {}),
    ...(!fake && c.env.OPENAI_BASE_URL ? { baseURL: c.env.OPENAI_BASE_URL } : {}),
    fetch: meteredFetch(c, {
      provider: StoaProvider.OpenAI,
      userId,
      metadata: { feature: "chat" },
      ...(fake ? { fetch: createFakeProvider({ delayMs: 0 }) } : {}),
    }),
  });
  const completion = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: message ?? "Hello" }],
  });
  return c.json({ answer: completion.choices[0]?.message.content ?? "" });
});

export default app;
