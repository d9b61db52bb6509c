/**
 * The example chat app (examples/chat/app.ts) inside workerd, against the
 * fake Stoa API, with its built-in fake provider: sign-in registers the
 * member; a paying member's answer streams with the exact usage and makes one
 * event; a member who cannot be charged gets 402 and a checkout URL, and
 * after paying the return URL answers the question as a streamed HTML page,
 * once, and only for that member.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { TRAILER_MARK } from "../../examples/chat/answer.ts";
import app from "../../examples/chat/app.ts";
import type { Env } from "../../examples/chat/env.ts";
import { fakeAnswer, fakeUsage } from "../../examples/chat/fake-provider.ts";
import { escapeHtml } from "../../examples/chat/html.ts";
import type { KVNamespaceLike } from "../../src/hono/index.ts";
import { newRunId } from "../support/provider.ts";
import {
  completePaymentSession,
  configureStoa,
  FAKE_STOA_API_KEY,
  stoaBase,
  stoaEvents,
  stoaMembers,
  stoaReceived,
} from "../support/stoa.ts";

/** The app's origin: http on loopback is a valid Stoa return URL. */
const ORIGIN = "http://localhost:8787";
const REGISTRATION_SECRET = "chat-test-registration-secret-0123456789abcdef";
const STATE_SECRET = "chat-test-state-secret-0123456789abcdef-0123";
const runId = newRunId("chat-app");
/** A chat streams ~70 words at 20 ms each: give the tests that chat room to breathe. */
const CHATTY = 20_000;

/** A KV namespace in memory: what `kvStore` uses of Workers KV. */
function memoryKv(): KVNamespaceLike & { size(): number } {
  const values = new Map<string, string>();
  return {
    async get(key) {
      return values.get(key) ?? null;
    },
    async put(key, value) {
      values.set(key, value);
    },
    async delete(key) {
      values.delete(key);
    },
    size: () => values.size,
  };
}

const kv = memoryKv();
let env: Env;

beforeAll(async () => {
  // one run for the file: the app makes its one Stoa from the first request's env
  await configureStoa(runId, { registrationSecret: REGISTRATION_SECRET });
  env = {
    STOA_API_KEY: FAKE_STOA_API_KEY,
    STOA_BASE_URL: stoaBase(runId),
    STOA_STATE_SECRET: STATE_SECRET,
    STOA_REGISTRATION_SECRET: REGISTRATION_SECRET,
    RESUME: kv,
  };
});

/** One request through the app with its own execution context; `settled()` waits for its background work. */
async function send(path: string, init: RequestInit = {}, extraEnv: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  const response = await app.fetch(new Request(new URL(path, ORIGIN), init), { ...env, ...extraEnv }, ctx);
  return { response, settled: () => waitOnExecutionContext(ctx) };
}

/** Signs `name` in; returns the `cookie` header of the session. */
async function login(name: string): Promise<string> {
  const { response } = await send("/login", { method: "POST", body: new URLSearchParams({ name }) });
  expect(response.status).toBe(303);
  const cookie = response.headers.get("set-cookie") ?? "";
  return cookie.split(";")[0] ?? "";
}

function ask(message: string, cookie: string, accept = "text/plain") {
  return send("/chat", {
    method: "POST",
    headers: { "content-type": "application/json", accept, cookie },
    body: JSON.stringify({ message }),
  });
}

/** The body, decoded, chunk by chunk as the app flushed it. */
async function chunks(response: Response): Promise<string[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  const out: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

async function eventsOf(userId: string): Promise<Record<string, unknown>[]> {
  return (await stoaEvents(runId)).filter((e) => e.userId === userId);
}

/** The normalised usage of a fake answer: only input and output tokens are non-zero. */
function normalised(message: string) {
  const { inputTokens, outputTokens } = fakeUsage([{ role: "user", content: message }]);
  return {
    inputTokens,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    audioInputTokens: 0,
    outputTokens,
    audioOutputTokens: 0,
    reasoningTokens: 0,
    webSearchRequests: 0,
  };
}

/**
 * What Stoa does when checkout ends: pays the session the 402 pointed at and
 * sends the browser to the `returnUrl` the app gave, plus `stoa_session_id`.
 */
async function payAndReturn(userId: string, checkoutUrl: string): Promise<string> {
  // the session id ends the checkout URL (the contract's `…/c/ps_…`, the fake's `…/checkout/ps_…`)
  const sessionId = decodeURIComponent(new URL(checkoutUrl).pathname.split("/").at(-1) ?? "");
  // the return URL the app asked for, with its signed state: the payment-session request it sent
  const created = (await stoaReceived(runId)).filter(
    (r) =>
      r.method === "POST" && r.path === "/v1/payment-sessions" && (r.body as { userId?: string }).userId === userId,
  );
  expect(created.length).toBeGreaterThan(0);
  const body = created.at(-1)?.body as { returnUrl: string; email?: string };
  expect(body.email).toBe(`${userId}@example.com`);
  const back = new URL(body.returnUrl);
  expect(back.origin + back.pathname).toBe(`${ORIGIN}/stoa/return`);
  expect(back.searchParams.get("state")?.split(".")).toHaveLength(3);
  await completePaymentSession(runId, sessionId);
  back.searchParams.set("stoa_session_id", sessionId);
  return back.pathname + back.search;
}

describe("sign-in", () => {
  it("shows the sign-in form, then sets the uid cookie and registers the member", async () => {
    const first = await send("/");
    expect(first.response.status).toBe(200);
    const form = await first.response.text();
    expect(form).toContain('data-testid="login-form"');
    expect(form).toContain('data-testid="login-name"');

    const { response } = await send("/login", {
      method: "POST",
      body: new URLSearchParams({ name: "  Ada Lovelace " }),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/");
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^uid=ada-lovelace; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Lax$/);

    const members = await stoaMembers(runId);
    expect(members["ada-lovelace"]).toMatchObject({
      userId: "ada-lovelace",
      email: "ada-lovelace@example.com",
      name: "Ada Lovelace",
    });
    const registrations = (await stoaReceived(runId)).filter((r) => r.method === "POST" && r.path === "/v1/members");
    expect(registrations).toHaveLength(1);

    const page = await (await send("/", { headers: { cookie: "uid=ada-lovelace" } })).response.text();
    expect(page).toContain('<b data-testid="user">ada-lovelace</b>');
    // a new member has nothing: the header says $0.00, and the page asks for no favicon
    expect(page).toContain(
      '<span class="balance" data-testid="balance" data-value="0" title="Available: $0 (balance less what running calls hold)">$0.00</span>',
    );
    expect(page).toContain('<link rel="icon" href="data:,">');
    expect(page).toContain('<p class="empty" data-testid="empty">Ask anything to start.</p>');
    expect(page).toContain('data-testid="chat-form"');
    expect(page).toContain("built-in fake provider, answering as gpt-4o-mini");

    const usage = await send("/usage", { headers: { cookie: "uid=ada-lovelace" } });
    expect(usage.response.status).toBe(303);
    expect(usage.response.headers.get("location")).toBe("http://127.0.0.1:8788/users/ada-lovelace");
  });

  it("refuses a name with no letters or digits, registering nobody", async () => {
    const before = Object.keys(await stoaMembers(runId)).length;
    const { response } = await send("/login", { method: "POST", body: new URLSearchParams({ name: "!!!" }) });
    expect(response.status).toBe(400);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain('data-testid="login-error"');
    expect(Object.keys(await stoaMembers(runId))).toHaveLength(before);
  });

  it("answers a signed-out chat 401, and signs out", async () => {
    const { response } = await ask("hello", "");
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { code: "signed_out", message: "Sign in first." } });
    const out = await send("/logout", { method: "POST", headers: { cookie: "uid=ada-lovelace" } });
    expect(out.response.status).toBe(303);
    expect(out.response.headers.get("set-cookie")).toMatch(/^uid=; Max-Age=0; Path=\//);
  });
});

describe("a member who can be charged", () => {
  it(
    "gets the answer streamed as text, the exact usage in the trailer, and one exact event",
    async () => {
      const cookie = await login("Paid Pat");
      expect(cookie).toBe("uid=paid-pat");
      await configureStoa(runId, { members: { "paid-pat": { paid: true, balanceUsd: 10 } } });
      const message = "How are tokens counted when an answer streams?";
      const messages = [{ role: "user", content: message }];

      const before = await (await send("/balance", { headers: { cookie } })).response.json();
      expect(before).toEqual({ availableUsd: 10, balanceUsd: 10, heldUsd: 0 });

      const { response, settled } = await ask(message, cookie);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      // no compression that would hold the stream back (wrangler dev and Cloudflare gzip text otherwise)
      expect(response.headers.get("content-encoding")).toBe("identity");
      const parts = await chunks(response);
      const usage = fakeUsage(messages);
      expect(parts.join("")).toBe(`${fakeAnswer(messages)}${TRAILER_MARK}${JSON.stringify({ usage })}\n`);
      // streamed: word by word, not one piece
      expect(fakeAnswer(messages).startsWith(parts[0] ?? "-")).toBe(true);
      expect(parts.length).toBeGreaterThan(10);
      await settled();

      const events = await eventsOf("paid-pat");
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        userId: "paid-pat",
        provider: "openai",
        model: "gpt-4o-mini",
        requestedModel: "gpt-4o-mini",
        stream: true,
        status: "completed",
        estimated: false,
        usage: normalised(message),
        metadata: { feature: "chat", answeredBy: "fake" },
        providerRequestId: expect.stringMatching(/^req_[0-9a-f]{32}$/),
      });
      // what the page's header shows after the answer: the balance less the cost, less what the hold keeps
      const after = (await (await send("/balance", { headers: { cookie } })).response.json()) as {
        availableUsd: number;
        balanceUsd: number;
        heldUsd: number;
      };
      // priced by the Stoa server's table: gpt-4o-mini at $0.15 in, $0.60 out per million tokens
      const cost = (usage.inputTokens * 0.15 + usage.outputTokens * 0.6) / 1e6;
      expect(after.balanceUsd).toBeCloseTo(10 - cost, 12);
      expect(after.availableUsd).toBeCloseTo(after.balanceUsd - after.heldUsd, 12);
      // and the conversation is kept for the next visit
      const chat = await (await send("/", { headers: { cookie } })).response.text();
      expect(chat).toContain(`<div class="answer" data-testid="answer">${escapeHtml(fakeAnswer(messages))}</div>`);
    },
    CHATTY,
  );

  it(
    "with FAKE_PROVIDER=anthropic, gets the answer through @anthropic-ai/sdk, metered as Anthropic",
    async () => {
      const cookie = await login("Claude Cleo");
      await configureStoa(runId, { members: { "claude-cleo": { paid: true, balanceUsd: 10 } } });
      const message = "Which wire format is this?";
      const messages = [{ role: "user", content: message }];
      const { response, settled } = await send(
        "/chat",
        {
          method: "POST",
          headers: { "content-type": "application/json", accept: "text/plain", cookie },
          body: JSON.stringify({ message }),
        },
        { FAKE_PROVIDER: "anthropic" },
      );
      expect(response.status).toBe(200);
      const usage = fakeUsage(messages);
      expect((await chunks(response)).join("")).toBe(
        `${fakeAnswer(messages)}${TRAILER_MARK}${JSON.stringify({ usage })}\n`,
      );
      await settled();
      const events = await eventsOf("claude-cleo");
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        provider: "anthropic",
        endpoint: "messages",
        model: "claude-sonnet-5",
        stream: true,
        status: "completed",
        estimated: false,
        usage: normalised(message),
        metadata: { feature: "chat", answeredBy: "fake" },
      });
    },
    CHATTY,
  );

  it(
    "without JS (a form post), gets the answer as a streamed HTML page",
    async () => {
      const cookie = await login("Form Fay");
      await configureStoa(runId, { members: { "form-fay": { paid: true, balanceUsd: 10 } } });
      const message = "Is <b>this</b> & that escaped?";
      const { response, settled } = await send("/chat", {
        method: "POST",
        headers: { accept: "text/html", cookie },
        body: new URLSearchParams({ message }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const page = (await chunks(response)).join("");
      const { inputTokens, outputTokens } = fakeUsage([{ role: "user", content: message }]);
      expect(page).toContain(`<p class="question" data-testid="question">${escapeHtml(message)}</p>`);
      expect(page).toContain(escapeHtml(fakeAnswer([{ role: "user", content: message }])));
      expect(page).not.toContain("<b>this</b>");
      expect(page).toContain(`<span data-testid="usage-input">${inputTokens}</span>`);
      expect(page).toContain(`<span data-testid="usage-output">${outputTokens}</span>`);
      await settled();
      expect(await eventsOf("form-fay")).toHaveLength(1);
    },
    CHATTY,
  );
});

describe("a member who cannot be charged", () => {
  it(
    "gets 402 with a checkout URL and no event; after paying, the return answers as a streamed page, once",
    async () => {
      const cookie = await login("Una Paid");
      const message = "Why was I <asked> to pay & what for?";
      const messages = [{ role: "user", content: message }];

      const blocked = await ask(message, cookie);
      expect(blocked.response.status).toBe(402);
      const body = (await blocked.response.json()) as {
        error: { code: string; reason: string };
        checkoutUrl: string;
      };
      expect(body.error).toMatchObject({ code: "charge_required", reason: "payment_required" });
      expect(new URL(body.checkoutUrl).protocol).toBe("http:");
      await blocked.settled();
      expect(await eventsOf("una-paid")).toEqual([]);
      expect(kv.size()).toBeGreaterThan(0);

      const back = await payAndReturn("una-paid", body.checkoutUrl);
      const { response, settled } = await send(back, { headers: { accept: "text/html", cookie } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(response.headers.get("content-encoding")).toBe("identity");
      const parts = await chunks(response);
      // the head and the question first, before any of the answer
      expect(parts[0]).toMatch(/^<!doctype html>/);
      expect(parts[0]).toContain(`<p class="question" data-testid="question">${escapeHtml(message)}</p>`);
      expect(parts[0]).toMatch(/<div class="answer" data-testid="answer">$/);
      expect(escapeHtml(fakeAnswer(messages)).startsWith(parts[1] ?? "-")).toBe(true);
      expect(parts.length).toBeGreaterThan(10);
      const page = parts.join("");
      const usage = fakeUsage(messages);
      expect(page).toContain(`data-testid="answer">${escapeHtml(fakeAnswer(messages))}</div>`);
      expect(page).toContain(
        `Tokens: <span data-testid="usage-input">${usage.inputTokens}</span> in, <span data-testid="usage-output">${usage.outputTokens}</span> out`,
      );
      expect(page).toContain('<a class="button" href="/" data-testid="back">');
      // the header stays, and the payment is confirmed: $10 paid on a balance of $0
      expect(parts[0]).toContain('<b data-testid="user">una-paid</b>');
      expect(parts[0]).toContain(
        '<p class="flash ok" role="status" data-testid="flash" data-kind="ok">Payment received: you paid $10.00. Thank you! Here is your answer.</p>',
      );
      expect(page).toMatch(/<\/html>\n$/);
      await settled();

      const events = await eventsOf("una-paid");
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ status: "completed", usage: normalised(message) });

      // the same return again (a reload): nothing replays; back to the chat, which shows the answer given
      const again = await send(back, { headers: { accept: "text/html", cookie } });
      expect(again.response.status).toBe(303);
      expect(again.response.headers.get("location")).toBe("/?payment=used");
      await again.settled();
      expect(await eventsOf("una-paid")).toHaveLength(1);
      const chat = await (await send("/?payment=used", { headers: { cookie } })).response.text();
      expect(chat).toContain(
        '<p class="flash ok" role="status" data-testid="flash" data-kind="ok">That payment link was already used: the answer it brought is below.</p>',
      );
      expect(chat).toContain(`<article class="turn" data-testid="turn" data-state="done">
<p class="question" data-testid="question">${escapeHtml(message)}</p>
<div class="answer" data-testid="answer">${escapeHtml(fakeAnswer(messages))}</div>
<p class="usage" data-testid="usage">Tokens: <span data-testid="usage-input">${usage.inputTokens}</span> in, <span data-testid="usage-output">${usage.outputTokens}</span> out</p>
</article>`);
      expect(chat.match(/data-testid="turn"/g)).toHaveLength(1);
      // an API client still gets the JSON answer
      const json = await send(back, { headers: { cookie } });
      expect(json.response.status).toBe(409);
      expect(await json.response.json()).toEqual({
        error: { code: "state_used", message: "This payment link was already used." },
      });

      // and the member now chats without being stopped
      const next = await ask("And now?", cookie);
      expect(next.response.status).toBe(200);
      await chunks(next.response);
      await next.settled();
      expect(await eventsOf("una-paid")).toHaveLength(2);
    },
    CHATTY,
  );

  it(
    "cancels checkout: back to the chat with a note and the question kept, nothing charged; paying later still answers",
    async () => {
      const cookie = await login("Cancel Cam");
      const message = "Will I <lose> this question?";
      const blocked = await ask(message, cookie);
      expect(blocked.response.status).toBe(402);
      const { checkoutUrl } = (await blocked.response.json()) as { checkoutUrl: string };
      await blocked.settled();
      // checkout's "Cancel and return to the app": the return URL with the session still open
      const sessionId = decodeURIComponent(new URL(checkoutUrl).pathname.split("/").at(-1) ?? "");
      const created = (await stoaReceived(runId)).filter(
        (r) => r.path === "/v1/payment-sessions" && (r.body as { userId?: string }).userId === "cancel-cam",
      );
      const back = new URL((created.at(-1)?.body as { returnUrl?: string } | undefined)?.returnUrl ?? "");
      back.searchParams.set("stoa_session_id", sessionId);
      const cancelled = await send(back.pathname + back.search, { headers: { accept: "text/html", cookie } });
      expect(cancelled.response.status).toBe(303);
      expect(cancelled.response.headers.get("location")).toBe("/?payment=cancelled");

      const chat = await (await send("/?payment=cancelled", { headers: { cookie } })).response.text();
      expect(chat).toContain(
        '<p class="flash warn" role="status" data-testid="flash" data-kind="warn">Payment not completed: nothing was charged. Your question is kept below; send it again when you are ready.</p>',
      );
      expect(chat).toContain(`<article class="turn" data-testid="turn" data-state="blocked">
<p class="question" data-testid="question">${escapeHtml(message)}</p>`);
      expect(chat).toContain(`placeholder="Ask something" autofocus>${escapeHtml(message)}</textarea>`);
      expect(await eventsOf("cancel-cam")).toEqual([]);
      // a plain visit shows the waiting question but leaves the message box empty
      const plain = await (await send("/", { headers: { cookie } })).response.text();
      expect(plain).not.toContain('data-testid="flash"');
      expect(plain).toContain('placeholder="Ask something" autofocus></textarea>');

      // paid later, the same link still answers, once
      await completePaymentSession(runId, sessionId);
      const paid = await send(back.pathname + back.search, { headers: { accept: "text/html", cookie } });
      expect(paid.response.status).toBe(200);
      expect((await chunks(paid.response)).join("")).toContain(
        escapeHtml(fakeAnswer([{ role: "user", content: message }])),
      );
      await paid.settled();
      expect(await eventsOf("cancel-cam")).toHaveLength(1);
      const after = await (await send("/", { headers: { cookie } })).response.text();
      expect(after.match(/data-testid="turn"/g)).toHaveLength(1);
      expect(after).toContain('data-testid="turn" data-state="done"');
    },
    CHATTY,
  );

  it(
    "does not replay the question for another signed-in user, or for nobody",
    async () => {
      const bea = await login("Blocked Bea");
      const otto = await login("Other Otto");
      const blocked = await ask("Bea's private question", bea);
      expect(blocked.response.status).toBe(402);
      const { checkoutUrl } = (await blocked.response.json()) as { checkoutUrl: string };
      const back = await payAndReturn("blocked-bea", checkoutUrl);

      const stranger = await send(back, { headers: { accept: "text/html", cookie: otto } });
      expect(stranger.response.status).toBe(403);
      expect(await stranger.response.text()).toContain("Sign in as the user who paid");
      const nobody = await send(back, { headers: { accept: "text/html" } });
      expect(nobody.response.status).toBe(403);
      await nobody.settled();
      expect(await eventsOf("blocked-bea")).toEqual([]);
      expect(await eventsOf("other-otto")).toEqual([]);

      // the refusals did not use the state up: Bea herself still gets her answer
      const own = await send(back, { headers: { accept: "text/html", cookie: bea } });
      expect(own.response.status).toBe(200);
      expect((await chunks(own.response)).join("")).toContain(
        escapeHtml(fakeAnswer([{ role: "user", content: "Bea's private question" }])),
      );
      await own.settled();
      expect(await eventsOf("blocked-bea")).toHaveLength(1);
    },
    CHATTY,
  );
});
