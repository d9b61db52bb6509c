/**
 * How a payment return that resumes nothing ended (`PaymentOutcome`), and
 * its default answer: a small styled HTML page with a link back to the app
 * for browsers, the JSON error API clients read for everything else.
 */
import type { Context } from "hono";
import type { PaymentSession } from "../api/payments.ts";
import { wantsHtml } from "./payment-flow.ts";

/**
 * A return that resumes nothing, as `paymentReturn` hands it to
 * `renderOutcome`.
 *
 * - `cancelled`: checkout ended without a payment; the session is still
 *   `open` (`payment_incomplete`). The pending action is kept: the same link
 *   resumes it once the session is paid.
 * - `expired`: the link's `state` expired (`expired_state`; when the state
 *   is genuine, its session was read and is not paid), or the session
 *   expired (`payment_incomplete`, `session.status` `expired`).
 * - `paid`: the link's `state` expired, but its session is `complete`
 *   (`paid_not_resumed`): the payment went through, the blocked action was
 *   not resumed (a state is never used past its lifetime), and the user's
 *   cached chargeability was dropped, so doing it again goes through.
 * - `used`: the link already resumed its action (`state_used`): a reload, a
 *   second tab.
 * - `failed`: the link or session did not pass a check (`invalid_return`,
 *   `invalid_state`, `invalid_session`, `session_mismatch`, `user_mismatch`,
 *   `invalid_target`, or `payment_incomplete` for a `not_required` session).
 */
export interface PaymentOutcome {
  /** What happened, for the page a person sees. */
  kind: "cancelled" | "expired" | "paid" | "used" | "failed";
  /** The HTTP status the default answer uses. */
  status: 400 | 403 | 409;
  /** The stable code of the JSON answer. */
  code:
    | "invalid_return"
    | "invalid_session"
    | "expired_state"
    | "paid_not_resumed"
    | "invalid_state"
    | "session_mismatch"
    | "user_mismatch"
    | "payment_incomplete"
    | "state_used"
    | "invalid_target";
  /** One sentence for the person: no secrets, no ids. */
  message: string;
  /** The user of the verified `state` (an expired one included); absent when the state did not verify. */
  userId?: string;
  /** The `stoa_session_id` of the return, when it was well-formed. */
  sessionId?: string;
  /** The payment session as Stoa reported it, when it was read and belongs to `userId`. */
  session?: PaymentSession;
}

const TITLES: Record<PaymentOutcome["kind"], string> = {
  cancelled: "Payment not completed",
  expired: "This payment link has expired",
  paid: "Payment received",
  used: "Already done",
  failed: "This payment link did not work",
};

const HINTS: Record<PaymentOutcome["kind"], string> = {
  cancelled: "Nothing was charged. You can go back and try again when you are ready.",
  expired: "Nothing was charged on this link. Go back and try again to get a new one.",
  paid: "The payment is on your account. Go back to the app and do it again.",
  used: "This link has already taken you back once; what you asked for was answered then.",
  failed: "Nothing was resumed.",
};

const CSS = `:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.5}
body{margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1d2330}
main{max-width:28rem;margin:1rem;padding:1.5rem 1.75rem;background:#fff;border:1px solid #dde1e8;border-radius:12px}
h1{font-size:1.25rem;margin:0 0 .5rem}p{margin:.5rem 0}.hint{color:#5b6475}
a.button{display:inline-block;margin-top:.75rem;padding:.5rem 1rem;border-radius:8px;background:#3461d1;color:#fff;text-decoration:none}
@media (prefers-color-scheme:dark){body{background:#14171d;color:#e6e9ef}main{background:#1d2129;border-color:#2e3440}.hint{color:#a3abba}}`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The default answer of a return that resumes nothing, with
 * `outcome.status`: for a browser (`Accept: text/html`) a small styled page
 * (`<title>` and heading by kind, the message, a hint, a link back to `/`;
 * `data-testid` `outcome` with `data-kind` and `data-code`); for anyone else
 * `{"error":{"code","message"}}`.
 *
 * @example
 * ```ts
 * paymentReturn({
 *   renderOutcome: (c, outcome) =>
 *     outcome.kind === "used" ? c.redirect("/", 303) : defaultRenderOutcome(c, outcome),
 * });
 * ```
 */
export function defaultRenderOutcome(c: Context, outcome: PaymentOutcome): Response {
  if (!wantsHtml(c)) return c.json({ error: { code: outcome.code, message: outcome.message } }, outcome.status);
  const title = TITLES[outcome.kind];
  return c.html(
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main data-testid="outcome" data-kind="${outcome.kind}" data-code="${outcome.code}">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(outcome.message)}</p>
<p class="hint">${escapeHtml(HINTS[outcome.kind])}</p>
<a class="button" href="/" data-testid="outcome-back">Back to the app</a>
</main>
</body>
</html>
`,
    outcome.status,
  );
}
