/**
 * The Stoa chat example: a Hono app on Cloudflare Workers whose users sign in
 * with a name, chat with a model, and pay through Stoa when they cannot be
 * charged; the question they asked is answered right after checkout.
 *
 * GET  /             sign-in form, or the chat page when signed in
 * POST /login        form `name` → cookie `uid` (the name as a slug), member registered with Stoa, 303 to /
 * POST /logout       clears the cookie, 303 to /
 * POST /chat         JSON `{message}` (or form `message`) → the answer, streamed:
 *                    `text/plain` with a usage trailer, or a whole HTML page for `Accept: text/html`;
 *                    a user who cannot be charged gets 402 `{checkoutUrl}` (303 to checkout for a browser)
 * GET  /stoa/return  ← Stoa after checkout: checks the payment, answers the blocked question as an HTML page
 * GET  /usage        303 to this user's page on the Stoa dashboard
 *
 * Answers come from OpenAI with OPENAI_API_KEY, else Anthropic with
 * ANTHROPIC_API_KEY, else a built-in fake provider (`provider.ts`). Bindings:
 * `env.ts`; local values in `wrangler.toml`.
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { chargeRequired, kvStore, meteredFetch, paymentReturn, stoa } from "../../src/hono/index.ts";
import { type QueueBatch, Stoa } from "../../src/index.ts";
import { htmlAnswer, plainAnswer } from "./answer.ts";
import { DEFAULT_DASHBOARD_URL, type Env } from "./env.ts";
import { chatPage, loginPage, messagePage } from "./page.ts";
import { type ChatProvider, chatProvider } from "./provider.ts";
import { currentUser, signIn, signOut, userIdFromName } from "./user.ts";

// The main module exports only the Worker: workerd takes every named export for an entrypoint.

/** The longest question the app takes, in characters. */
const MAX_MESSAGE_LENGTH = 4000;

/** The chat app: `fetch` of the default export, `app.fetch(request, env, ctx)` for tests. */
const app = new Hono<{ Bindings: Env }>();

// one Stoa for the app, from c.env (STOA_API_KEY, STOA_BASE_URL, STOA_REGISTRATION_SECRET);
// with STOA_EVENTS bound, a chat's usage event goes to that queue and queue() below delivers it
app.use(stoa());

// blocked questions wait in KV while the user pays: the return may land on another isolate
const store = (c: Context) => kvStore((c.env as Env).RESUME);

// a blocked chat: 402 {checkoutUrl} for the page's fetch, 303 to checkout for a browser form post
app.onError(chargeRequired({ store, email: (_c, userId) => emailOf(userId), fallback: failure }));

app.get("/", (c) => {
  const userId = currentUser(c);
  if (userId === undefined) return c.html(loginPage());
  return c.html(chatPage({ userId, provider: describe(chatProvider(c.env)) }));
});

app.post("/login", async (c) => {
  const form = await c.req.parseBody();
  const name = typeof form.name === "string" ? form.name.trim() : "";
  const userId = name.length <= 80 ? userIdFromName(name) : undefined;
  if (userId === undefined) {
    return c.html(loginPage("Pick a name with letters or digits (a–z, 0–9), at most 80 characters."), 400);
  }
  try {
    await c.var.stoa.registerMember({ userId, email: emailOf(userId), name });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return c.html(loginPage(`Stoa did not register you (${why}). Is the Stoa server running?`), 502);
  }
  signIn(c, userId);
  return c.redirect("/", 303);
});

app.post("/logout", (c) => {
  signOut(c);
  return c.redirect("/", 303);
});

app.get("/usage", (c) => {
  const userId = currentUser(c);
  if (userId === undefined) return c.redirect("/", 303);
  const dashboard = (c.env.STOA_DASHBOARD_URL || DEFAULT_DASHBOARD_URL).replace(/\/+$/, "");
  return c.redirect(`${dashboard}/users/${encodeURIComponent(userId)}`, 303);
});

app.post("/chat", async (c) => {
  const html = wantsHtml(c);
  const userId = currentUser(c);
  if (userId === undefined) {
    return html ? c.redirect("/", 303) : c.json({ error: { code: "signed_out", message: "Sign in first." } }, 401);
  }
  const message = await readMessage(c);
  if (message === undefined) {
    const text = `Send a message of 1 to ${MAX_MESSAGE_LENGTH} characters.`;
    return html
      ? c.html(messagePage("No question", text), 400)
      : c.json({ error: { code: "invalid_message", message: text } }, 400);
  }
  const provider = chatProvider(c.env);
  const fetch = meteredFetch(c, {
    provider: provider.meter,
    userId,
    metadata: { feature: "chat", answeredBy: provider.name },
    ...(provider.upstream === undefined ? {} : { fetch: provider.upstream }),
  });
  // throws before anything is sent when the user cannot be charged: chargeRequired answers
  const parts = await provider.answer(message, fetch);
  return html ? htmlAnswer(message, parts) : plainAnswer(parts);
});

// back from checkout: only the user who was blocked resumes; the answer comes as a page
app.get(
  "/stoa/return",
  paymentReturn({
    store,
    currentUser,
    onResume(c, { request }) {
      const headers = new Headers(request.headers);
      headers.set("accept", "text/html");
      const cookie = c.req.header("cookie");
      if (cookie !== undefined) headers.set("cookie", cookie);
      return app.fetch(new Request(request, { headers }), c.env, executionCtxOf(c));
    },
  }),
);

/** The email the demo gives a user: `<userId>@example.com`. */
function emailOf(userId: string): string {
  return `${userId}@example.com`;
}

function wantsHtml(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

/** The question of a JSON `{message}` or form `message` body, trimmed; undefined when missing or too long. */
async function readMessage(c: Context): Promise<string | undefined> {
  // through Hono's body cache: chargeRequired keeps the same bytes to replay after payment
  let message: unknown;
  if ((c.req.header("content-type") ?? "").includes("application/json")) {
    try {
      message = ((await c.req.json()) as { message?: unknown } | null)?.message;
    } catch {
      return undefined;
    }
  } else {
    message = (await c.req.parseBody()).message;
  }
  if (typeof message !== "string") return undefined;
  const trimmed = message.trim();
  return trimmed.length === 0 || trimmed.length > MAX_MESSAGE_LENGTH ? undefined : trimmed;
}

function describe(provider: ChatProvider): string {
  if (provider.name === "openai") return `OpenAI (${provider.model})`;
  if (provider.name === "anthropic") return `Anthropic (${provider.model})`;
  return `the built-in fake provider, answering as ${provider.model} (set OPENAI_API_KEY or ANTHROPIC_API_KEY for a real model)`;
}

function executionCtxOf(c: Context): Context["executionCtx"] | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined; // not on Workers
  }
}

/** Every error but a blocked chat: a short page or JSON, the details in the log. */
function failure(error: Error, c: Context): Response {
  if (error instanceof HTTPException) return error.getResponse();
  console.error(`[chat] ${error.name}: ${error.message}`);
  const text = `${error.name}: ${error.message}`;
  return wantsHtml(c)
    ? c.html(messagePage("Something went wrong", text), 500)
    : c.json({ error: { code: "internal", message: text } }, 500);
}

/** The consumer's `max_retries` in wrangler.toml: after it, a message goes to the dead-letter queue. */
const QUEUE_MAX_RETRIES = 10;
let consumer: Stoa | undefined;

/**
 * The Worker: the app, and the consumer of the STOA_EVENTS queue, which
 * delivers the usage events the app handed to it (`stoa.handleQueue`).
 */
export default {
  fetch: app.fetch,
  async queue(batch: QueueBatch, env: Env): Promise<void> {
    consumer ??= new Stoa({ apiKey: env.STOA_API_KEY, baseUrl: env.STOA_BASE_URL });
    await consumer.handleQueue(batch, { maxRetries: QUEUE_MAX_RETRIES });
  },
};
