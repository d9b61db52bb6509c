/**
 * The Stoa chat example: a Hono app on Cloudflare Workers whose users sign in
 * with a name, chat with a model, and pay through Stoa when they cannot be
 * charged; the question they asked is answered right after checkout.
 *
 * GET  /             sign-in form, or the chat page (the conversation so far, the available balance) when signed in;
 *                    `?payment=cancelled|used|expired|paid` adds a note about a return from checkout
 * POST /login        form `name` → cookie `uid` (the name as a slug), member registered with Stoa, 303 to /
 * POST /logout       clears the cookie, 303 to /
 * POST /chat         JSON `{message}` (or form `message`) → the answer, streamed:
 *                    `text/plain` with a usage trailer, or a whole HTML page for `Accept: text/html`;
 *                    a user who cannot be charged gets 402 `{checkoutUrl}` (303 to checkout for a browser)
 * GET  /stoa/return  ← Stoa after checkout: checks the payment, answers the blocked question as an HTML page
 *                    with a confirmation of the payment; a cancelled, expired or used return goes back to /
 * GET  /balance      JSON `{availableUsd, balanceUsd, heldUsd}` of the signed-in user (the page refreshes its header)
 * GET  /usage        303 to this user's page on the Stoa dashboard
 *
 * Each user's conversation is kept server-side in KV (`conversation.ts`), so
 * it survives the trip to checkout and back.
 *
 * Answers come from OpenAI with OPENAI_API_KEY, else Anthropic with
 * ANTHROPIC_API_KEY, else Gemini, Azure, Bedrock, Groq, DeepSeek, xAI or
 * Mistral with their keys, else a built-in fake provider (`provider.ts`). Bindings:
 * `env.ts`; local values in `wrangler.toml`.
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { PaymentSession } from "../../src/api/payments.ts";
import {
  chargeRequired,
  defaultRenderOutcome,
  kvStore,
  meteredFetch,
  paymentReturn,
  stoa,
} from "../../src/hono/index.ts";
import { type QueueBatch, Stoa, StoaChargeRequiredError } from "../../src/index.ts";
import { type AnswerEnd, htmlAnswer, plainAnswer } from "./answer.ts";
import { addTurn, loadConversation, pendingTurn, type Turn } from "./conversation.ts";
import { DEFAULT_DASHBOARD_URL, type Env } from "./env.ts";
import { formatUsd } from "./html.ts";
import { type ChatPageOptions, chatPage, flashHtml, loginPage, messagePage } from "./page.ts";
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

/** Replayed requests of a completed payment, as `onResume` made them, with their session. */
const paidBy = new WeakMap<Request, PaymentSession>();

app.get("/", async (c) => {
  const userId = currentUser(c);
  if (userId === undefined) return c.html(loginPage());
  const [turns, balance] = await Promise.all([loadConversation(c.env.RESUME, userId), availableOf(c, userId)]);
  const options: ChatPageOptions = { userId, provider: describe(chatProvider(c.env)), availableUsd: balance, turns };
  const pending = pendingTurn(turns);
  switch (c.req.query("payment")) {
    case "cancelled":
      options.flash = {
        kind: "warn",
        text: "Payment not completed: nothing was charged. Your question is kept below; send it again when you are ready.",
      };
      break;
    case "expired":
      options.flash = {
        kind: "warn",
        text: "That payment link has expired: nothing was charged. Send your question again.",
      };
      break;
    case "paid":
      options.flash = {
        kind: "warn",
        text: "Your payment went through, but the link expired before you came back. Send your question again.",
      };
      break;
    case "used":
      options.flash = { kind: "ok", text: "That payment link was already used: the answer it brought is below." };
      break;
  }
  if (pending !== undefined && options.flash?.kind === "warn") options.draft = pending.question;
  return c.html(chatPage(options));
});

app.get("/balance", async (c) => {
  const userId = currentUser(c);
  if (userId === undefined) return c.json({ error: { code: "signed_out", message: "Sign in first." } }, 401);
  const { availableUsd, balanceUsd, heldUsd } = await c.var.stoa.getBalance(userId);
  return c.json({ availableUsd, balanceUsd, heldUsd }, 200, { "cache-control": "no-store" });
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
  let parts: Awaited<ReturnType<ChatProvider["answer"]>>;
  try {
    parts = await provider.answer(message, fetch);
  } catch (error) {
    if (error instanceof StoaChargeRequiredError) {
      // kept for after checkout, with the balance of now to say what the payment added
      const balanceUsd = await c.var.stoa.getBalance(userId).then(
        (b) => b.balanceUsd,
        () => undefined,
      );
      await addTurn(c.env.RESUME, userId, {
        state: "blocked",
        question: message,
        ...(balanceUsd === undefined ? {} : { balanceUsd }),
      });
    }
    throw error;
  }
  const save = (text: string, end: AnswerEnd) => addTurn(c.env.RESUME, userId, turnOf(message, text, end));
  if (!html) return plainAnswer(parts, save);
  const paid = paidBy.get(c.req.raw);
  const [before, availableUsd] = await Promise.all([
    paid === undefined ? undefined : loadConversation(c.env.RESUME, userId).then(pendingTurn),
    availableOf(c, userId),
  ]);
  const flash = paid === undefined ? undefined : await paymentNote(c, userId, before);
  return htmlAnswer(message, parts, {
    userId,
    availableUsd,
    ...(flash === undefined ? {} : { flash }),
    onEnd: save,
  });
});

// back from checkout: only the user who was blocked resumes; the answer comes as a page
app.get(
  "/stoa/return",
  paymentReturn({
    store,
    currentUser,
    onResume(c, { request, session }) {
      const headers = new Headers(request.headers);
      headers.set("accept", "text/html");
      const cookie = c.req.header("cookie");
      if (cookie !== undefined) headers.set("cookie", cookie);
      const replay = new Request(request, { headers });
      paidBy.set(replay, session); // the answer page confirms the payment
      return app.fetch(replay, c.env, executionCtxOf(c));
    },
    // a person back from checkout without a resume goes back to the chat, with a note and the question kept
    renderOutcome(c, outcome) {
      const back = outcome.kind === "failed" ? undefined : outcome.kind;
      return back !== undefined && wantsHtml(c)
        ? c.redirect(`/?payment=${back}`, 303)
        : defaultRenderOutcome(c, outcome);
    },
  }),
);

/** The user's available balance, or undefined when Stoa does not answer (the page shows "—"). */
async function availableOf(c: Context, userId: string): Promise<number | undefined> {
  try {
    return (await c.var.stoa.getBalance(userId)).availableUsd;
  } catch (error) {
    console.error(`[chat] no balance: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/**
 * The confirmation above a resumed answer. The contract's payment session
 * has no amount, so what the payment added is the balance now less the
 * balance when the question was blocked, to the cent.
 */
async function paymentNote(c: Context, userId: string, blocked: Turn | undefined): Promise<string> {
  const before = blocked?.balanceUsd;
  const now = await c.var.stoa.getBalance(userId).then(
    (b) => b.balanceUsd,
    () => undefined,
  );
  const added = before === undefined || now === undefined ? undefined : now - before;
  const text =
    added !== undefined && added >= 0.005
      ? `Payment received: you paid ${formatUsd(added)}. Thank you! Here is your answer.`
      : "Payment received. Thank you! Here is your answer.";
  return flashHtml("ok", text);
}

/** The turn an answer leaves in the conversation. */
function turnOf(question: string, answer: string, end: AnswerEnd): Turn {
  return {
    state: end.error === undefined ? "done" : "error",
    question,
    answer,
    ...(end.usage === undefined ? {} : { usage: end.usage }),
    ...(end.error === undefined ? {} : { error: end.error }),
  };
}

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

/** Display names of the other providers. */
const NAMES: Record<Exclude<ChatProvider["name"], "fake" | "openai" | "anthropic">, string> = {
  google: "Gemini",
  azure: "Azure OpenAI",
  bedrock: "Amazon Bedrock",
  groq: "Groq",
  deepseek: "DeepSeek",
  xai: "xAI",
  mistral: "Mistral",
};

function describe(provider: ChatProvider): string {
  if (provider.name === "openai") return `OpenAI (${provider.model})`;
  if (provider.name === "anthropic") return `Anthropic (${provider.model})`;
  if (provider.name !== "fake") return `${NAMES[provider.name]} (${provider.model})`;
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
