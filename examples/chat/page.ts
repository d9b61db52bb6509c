/**
 * The chat app's pages: sign-in, the chat itself (the conversation so far,
 * rendered on the server, and a little inline JS that streams each new
 * answer into the page, refreshes the balance and sends a blocked user to
 * checkout), and a short message page. No external assets.
 *
 * `data-testid`s of the chat page: `user`, `balance`, `provider`,
 * `usage-link`, `logout`, `flash` (with `data-kind`), `chat-form`,
 * `message`, `send`, and per exchange a `turn` (`data-state`: `streaming`,
 * `done`, `blocked` or `error`) holding `question`, `answer`, then `usage`
 * with `usage-input` and `usage-output`, or `blocked` with `checkout-link`,
 * or `error`.
 */
import { TRAILER_MARK } from "./answer.ts";
import type { Turn } from "./conversation.ts";
import { appHeader, balanceScript, escapeHtml, pageEnd, pageStart } from "./html.ts";

/** How long the page shows the "payment needed" message before it opens checkout, in ms. */
export const CHECKOUT_DELAY_MS = 1500;

/** The sign-in page: pick a name. */
export function loginPage(error?: string): string {
  return `${pageStart("Sign in · Stoa chat")}<main class="login card">
<h1>Stoa chat</h1>
<p>Pick a name to sign in. This demo has no passwords: the name is the account, and your user id is the name in lowercase (<code>Ada Lovelace</code> is <code>ada-lovelace</code>).</p>
${error === undefined ? "" : `<p class="error" data-testid="login-error">${escapeHtml(error)}</p>\n`}<form method="post" action="/login" data-testid="login-form">
<label>Name <input name="name" data-testid="login-name" required maxlength="80" autocomplete="nickname" autofocus></label>
<button type="submit" data-testid="login-submit">Sign in</button>
</form>
</main>${pageEnd()}`;
}

/** Options of {@link chatPage}. */
export interface ChatPageOptions {
  /** The signed-in user's id. */
  userId: string;
  /** Where answers come from, in words, e.g. "the built-in fake provider (as gpt-4o-mini)". */
  provider: string;
  /** The user's available balance; undefined when Stoa did not say. */
  availableUsd: number | undefined;
  /** The conversation so far, oldest first. */
  turns: readonly Turn[];
  /** A note above the conversation: `ok` or `warn`, and its text. */
  flash?: { kind: "ok" | "warn"; text: string };
  /** Text to put in the message box, e.g. a question whose payment was cancelled. */
  draft?: string;
}

/**
 * The chat: the conversation so far, and a form whose JS posts `{message}`
 * to `/chat` with `accept: text/plain` and streams the answer in, then shows
 * the usage from the trailer and refreshes the balance. On a 402 it shows
 * why and opens the `checkoutUrl`. Without JS the form still works: the
 * browser gets `/chat` as a streamed HTML page.
 */
export function chatPage({ userId, provider, availableUsd, turns, flash, draft }: ChatPageOptions): string {
  const log = turns.map(turnHtml).join("\n");
  return `${pageStart("Stoa chat")}${appHeader(userId, availableUsd)}<main>
${flash === undefined ? "" : flashHtml(flash.kind, flash.text)}<section id="log" data-testid="log">${log === "" ? `<p class="empty" data-testid="empty">Ask anything to start.</p>` : `\n${log}\n`}</section>
<form class="ask" method="post" action="/chat" data-testid="chat-form">
<textarea name="message" data-testid="message" rows="2" required maxlength="4000" placeholder="Ask something" autofocus>${escapeHtml(draft ?? "")}</textarea>
<button type="submit" data-testid="send">Send</button>
</form>
<p class="note" data-testid="provider">Answers come from ${escapeHtml(provider)}. Every answer is metered; when you cannot be charged, you are sent to pay first.</p>
</main>
<script>${balanceScript()}${script()}</script>${pageEnd()}`;
}

/** A note in a coloured box (`data-testid="flash"`, `data-kind`). */
export function flashHtml(kind: "ok" | "warn", text: string): string {
  return `<p class="flash ${kind}" role="status" data-testid="flash" data-kind="${kind}">${escapeHtml(text)}</p>\n`;
}

/** One saved turn, as the page's JS draws a new one. */
function turnHtml(turn: Turn): string {
  const usage =
    turn.usage === undefined
      ? ""
      : `\n<p class="usage" data-testid="usage">Tokens: <span data-testid="usage-input">${turn.usage.inputTokens}</span> in, <span data-testid="usage-output">${turn.usage.outputTokens}</span> out</p>`;
  const after =
    turn.state === "blocked"
      ? `\n<p class="blocked" data-testid="blocked">Waiting for a payment: this question is answered once you have paid.</p>`
      : turn.error === undefined
        ? ""
        : `\n<p class="error" data-testid="error">${escapeHtml(turn.error)}</p>`;
  return `<article class="turn" data-testid="turn" data-state="${turn.state}">
<p class="question" data-testid="question">${escapeHtml(turn.question)}</p>
<div class="answer" data-testid="answer">${escapeHtml(turn.answer ?? "")}</div>${usage}${after}
</article>`;
}

/** A page with a title, a line of text and a link home. */
export function messagePage(title: string, text: string): string {
  return `${pageStart(`${title} · Stoa chat`)}<main class="login card">
<h1>${escapeHtml(title)}</h1>
<p data-testid="message-text">${escapeHtml(text)}</p>
<p><a class="button" href="/">Back to the chat</a></p>
</main>${pageEnd()}`;
}

/** The chat page's script. */
function script(): string {
  return `
const MARK = ${JSON.stringify(TRAILER_MARK)};
const form = document.querySelector("[data-testid=chat-form]");
const input = form.elements.message;
const send = form.querySelector("button");
const log = document.getElementById("log");

function el(tag, className, testid, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  if (text !== undefined) node.textContent = text;
  return node;
}

function usageLine(usage) {
  const line = el("p", "usage", "usage");
  line.append("Tokens: ", el("span", "", "usage-input", String(usage.inputTokens)), " in, ",
    el("span", "", "usage-output", String(usage.outputTokens)), " out");
  return line;
}

function end(turn, state, node) {
  turn.dataset.state = state;
  if (node) turn.append(node);
}

function blocked(turn, checkoutUrl) {
  const note = el("p", "blocked", "blocked",
    "Payment needed: you cannot be charged for this yet. Opening checkout; after paying you come back to this answer. ");
  let url = null;
  try { url = new URL(checkoutUrl); } catch {}
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
    note.append("(Stoa gave no checkout link.)");
    end(turn, "blocked", note);
    return;
  }
  const link = el("a", "", "checkout-link", "Go to checkout");
  link.href = url.href;
  note.append(link);
  end(turn, "blocked", note);
  setTimeout(() => { location.href = url.href; }, ${CHECKOUT_DELAY_MS});
}

async function problem(response) {
  const text = await response.text();
  try { return JSON.parse(text).error.message || text; } catch { return text || response.statusText; }
}

async function ask(message) {
  const turn = el("article", "turn", "turn");
  turn.dataset.state = "streaming";
  const answer = el("div", "answer", "answer");
  turn.append(el("p", "question", "question", message), answer);
  document.querySelector("[data-testid=empty]")?.remove();
  log.append(turn);
  turn.scrollIntoView({ block: "nearest" });
  const response = await fetch("/chat", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/plain" },
    body: JSON.stringify({ message }),
  });
  if (response.status === 402) {
    const body = await response.json();
    // no checkout: a positive balance too low for this question (balance_too_low)
    if (body.checkoutUrl === null && body.error?.message) return end(turn, "error", el("p", "error", "error", body.error.message));
    return blocked(turn, body.checkoutUrl);
  }
  if (response.status === 401) return location.reload();
  if (!response.ok || !response.body) return end(turn, "error", el("p", "error", "error", await problem(response)));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let trailer = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (trailer !== null) { trailer += value; continue; }
    const at = value.indexOf(MARK);
    if (at === -1) { answer.append(value); continue; }
    answer.append(value.slice(0, at));
    trailer = value.slice(at + MARK.length);
  }
  const result = trailer === null ? { error: "The answer was cut off." } : JSON.parse(trailer);
  if (result.usage) end(turn, result.error ? "error" : "done", usageLine(result.usage));
  if (result.error) end(turn, "error", el("p", "error", "error", result.error));
  await refreshBalance();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = input.value.trim();
  if (!message || send.disabled) return;
  input.value = "";
  send.disabled = true;
  try {
    await ask(message);
  } catch (error) {
    const turn = log.lastElementChild;
    if (turn) end(turn, "error", el("p", "error", "error", String(error)));
  } finally {
    send.disabled = false;
    input.focus();
  }
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});
`;
}
