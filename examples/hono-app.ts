/**
 * A Hono app on Cloudflare Workers that meters each user's OpenAI calls with
 * Stoa and, when a user cannot be charged, sends them to pay and then
 * finishes what they asked for.
 *
 * POST /chat  {"message": "…"}  with header `x-user-id`  → {"answer": "…"}
 * GET  /stoa/return                                    ← Stoa, after checkout
 *
 * Env: STOA_API_KEY, STOA_BASE_URL (optional), STOA_STATE_SECRET (≥ 32 bytes),
 * OPENAI_API_KEY, OPENAI_BASE_URL (optional), RESUME (a KV namespace).
 * Run: `npx wrangler dev examples/hono-app.ts` with those bindings.
 */
import { Hono } from "hono";
import OpenAI from "openai";
import { chargeRequired, kvStore, meteredFetch, paymentReturn, stoa } from "../src/hono/index.ts";
import { StoaProvider } from "../src/index.ts";

/** The bindings this worker reads. */
export interface Env {
  STOA_API_KEY: string;
  STOA_BASE_URL?: string;
  STOA_STATE_SECRET: string;
  OPENAI_API_KEY: string;
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
  const openai = new OpenAI({
    apiKey: c.env.OPENAI_API_KEY,
    ...(c.env.OPENAI_BASE_URL ? { baseURL: c.env.OPENAI_BASE_URL } : {}),
    fetch: meteredFetch(c, { provider: StoaProvider.OpenAI, userId, metadata: { feature: "chat" } }),
  });
  const completion = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: message ?? "Hello" }],
  });
  return c.json({ answer: completion.choices[0]?.message.content ?? "" });
});

export default app;
