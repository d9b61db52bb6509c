/**
 * An answer as a streamed Response, in one of two forms:
 *
 * - `text/plain` for the page's JS: the answer text as it arrives, then a
 *   trailer: {@link TRAILER_MARK} (U+001E, never sent inside the text) and
 *   one line of JSON, `{"usage":{"inputTokens":…,"outputTokens":…}}` or
 *   `{"error":"…"}`.
 * - `text/html` for a browser navigation (a form post, a resumed request): a
 *   whole page whose head and question go out first, then the answer,
 *   escaped, as it arrives, then the usage and a link back.
 *
 * Cancelling the body (the reader went away) stops the provider's stream.
 * `onEnd` runs once the answer is complete (or stopped), before the last
 * bytes go out: the app saves the turn there.
 */
import { appHeader, balanceScript, escapeHtml, pageEnd, pageStart } from "./html.ts";
import type { AnswerPart } from "./provider.ts";

/** Separates the answer text from its JSON trailer in a `text/plain` answer. */
export const TRAILER_MARK = "\u001e";

/** The trailer of an answer: its usage, or why it stopped. */
export interface AnswerEnd {
  usage?: { inputTokens: number; outputTokens: number };
  error?: string;
}

/** Called with the whole answer text and how it ended, before the end is sent. */
export type OnAnswerEnd = (text: string, end: AnswerEnd) => Promise<void>;

/** The answer as `text/plain` with the JSON trailer. */
export function plainAnswer(parts: AsyncGenerator<AnswerPart, void, undefined>, onEnd?: OnAnswerEnd): Response {
  return streamed(parts, "text/plain; charset=utf-8", onEnd, {
    text: (text) => text.replaceAll(TRAILER_MARK, ""),
    end: (end) => `${TRAILER_MARK}${JSON.stringify(end)}\n`,
  });
}

/** What the HTML answer page shows around the answer. */
export interface AnswerPage {
  userId: string;
  /** The available balance for the header, before the answer. */
  availableUsd: number | undefined;
  /** A line of HTML above the answer, e.g. the payment confirmation. */
  flash?: string;
  onEnd?: OnAnswerEnd;
}

/**
 * The answer as a whole HTML page, flushed in pieces: head, header and
 * question, answer text, usage, then a script that refreshes the header's
 * balance. The elements carry the same `data-testid`s as the chat page's:
 * `turn`, `question`, `answer`, `usage-input`, `usage-output`, `error`.
 */
export function htmlAnswer(
  question: string,
  parts: AsyncGenerator<AnswerPart, void, undefined>,
  page: AnswerPage,
): Response {
  return streamed(parts, "text/html; charset=utf-8", page.onEnd, {
    start: `${pageStart("Answer · Stoa chat")}${appHeader(page.userId, page.availableUsd)}<main>
${page.flash ?? ""}<article class="turn" data-testid="turn">
<p class="question" data-testid="question">${escapeHtml(question)}</p>
<div class="answer" data-testid="answer">`,
    text: escapeHtml,
    end: (end) =>
      `</div>
${end.usage === undefined ? "" : usageHtml(end.usage)}${end.error === undefined ? "" : `<p class="error" data-testid="error">${escapeHtml(end.error)}</p>`}
</article>
<p><a class="button" href="/" data-testid="back">Back to the chat</a></p>
</main>
<script>${balanceScript()}refreshBalance();</script>${pageEnd()}`,
  });
}

/** The usage line, with the numbers the provider reported. */
function usageHtml(usage: { inputTokens: number; outputTokens: number }): string {
  return `<p class="usage" data-testid="usage">Tokens: <span data-testid="usage-input">${usage.inputTokens}</span> in, <span data-testid="usage-output">${usage.outputTokens}</span> out</p>`;
}

interface Render {
  start?: string;
  text(text: string): string;
  end(end: AnswerEnd): string;
}

function streamed(
  parts: AsyncGenerator<AnswerPart, void, undefined>,
  type: string,
  onEnd: OnAnswerEnd | undefined,
  render: Render,
): Response {
  const encoder = new TextEncoder();
  const end: AnswerEnd = {};
  let whole = "";
  let finished = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (render.start !== undefined) controller.enqueue(encoder.encode(render.start));
    },
    async pull(controller) {
      if (finished) return;
      try {
        // read until there is something to send, so every pull enqueues or closes
        for (;;) {
          const next = await parts.next();
          if (finished) return; // cancelled meanwhile
          if (next.done) break;
          if (next.value.type === "usage") {
            end.usage = { inputTokens: next.value.inputTokens, outputTokens: next.value.outputTokens };
            continue;
          }
          if (whole.length < 100_000) whole += next.value.text;
          const text = render.text(next.value.text);
          if (text !== "") {
            controller.enqueue(encoder.encode(text));
            return;
          }
        }
      } catch (error) {
        if (finished) return;
        end.error = error instanceof Error ? error.message : String(error);
      }
      finished = true;
      if (end.usage === undefined && end.error === undefined) end.error = "The provider sent no usage.";
      try {
        await onEnd?.(whole, end);
      } catch (error) {
        console.error(`[chat] the turn was not saved: ${error instanceof Error ? error.message : String(error)}`);
      }
      controller.enqueue(encoder.encode(render.end(end)));
      controller.close();
    },
    async cancel() {
      finished = true;
      await parts.return();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": type,
      // Cloudflare (and wrangler dev, which copies it) gzips text for clients that accept it,
      // holding the stream back until it ends; an explicit identity encoding opts out
      "content-encoding": "identity",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
