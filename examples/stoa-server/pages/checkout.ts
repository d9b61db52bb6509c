/**
 * The local stand-in of Stoa's hosted checkout: who is paying, their balance,
 * and a form to add test credit. No real money moves.
 */
import { escapeHtml, formatUsd, safeHttpUrl, safePath } from "./format.ts";
import { renderBadge, renderBalance, renderLayout, renderTime } from "./layout.ts";
import type { CheckoutView } from "./types.ts";

/**
 * `returnUrl` with `stoa_session_id=<sessionId>` set in its query (the
 * contract's way back to the app; other parameters kept), or null when it is
 * not an `http(s)` URL.
 */
export function checkoutReturnHref(returnUrl: string, sessionId: string): string | null {
  const safe = safeHttpUrl(returnUrl);
  if (safe === null) return null;
  const url = new URL(safe);
  url.searchParams.set("stoa_session_id", sessionId);
  return url.href;
}

const STATUS_TEXT: Record<Exclude<CheckoutView["status"], "open">, { badge: string; text: string }> = {
  complete: { badge: "paid", text: "This checkout is complete: the credit was added to the balance." },
  expired: { badge: "expired", text: "This checkout session has expired. Start a new one from the app." },
  not_required: { badge: "not required", text: "Nothing to pay: this member can already be charged." },
};

/**
 * The checkout page of a payment session. While `status` is `open`: a form
 * `method="post"` to `action` (`data-testid="checkout-form"`) with one radio
 * `name="amountUsd"` per amount (`data-testid="amount-<n>"`, the first
 * checked), a hidden `sessionId`, and a Pay button (`data-testid="pay"`).
 * Otherwise the status (`data-testid="status"`, `data-value`) and a link back
 * (`data-testid="return"`). Links back go to `returnUrl` with
 * `stoa_session_id` set, and only when it is `http(s)`; `action` must be a
 * same-origin path or an `http(s)` URL, else no form is shown.
 */
export function renderCheckout(view: CheckoutView): string {
  const back = checkoutReturnHref(view.returnUrl, view.sessionId);
  const who = [
    view.name === null ? "" : `<strong>${escapeHtml(view.name)}</strong>`,
    view.email === null ? "" : escapeHtml(view.email),
    `<code>${escapeHtml(view.userId)}</code>`,
  ]
    .filter((part) => part !== "")
    .join(" · ");
  const facts = `<dl class="facts">
<dt>Paying for</dt><dd data-testid="payer">${who}</dd>
<dt>Current balance</dt><dd>${renderBalance(view.balanceUsd, { "data-testid": "balance", "data-value": String(view.balanceUsd) })}</dd>
<dt>Session</dt><dd><code>${escapeHtml(view.sessionId)}</code> <span class="muted small">expires ${renderTime(view.expiresAt)}</span></dd>
</dl>`;
  const notice = `<div class="notice" role="note" data-testid="test-mode"><strong>Local test checkout: no real money moves.</strong> This page stands in for Stoa's hosted checkout. Paying here only adds test credit to this member's balance on the local Stoa server.</div>`;

  let main: string;
  const action = safePath(view.action) ?? safeHttpUrl(view.action);
  if (view.status === "open" && action !== null) {
    const amounts = view.amounts.filter((a) => Number.isFinite(a) && a > 0);
    const choices =
      amounts.length === 0
        ? `<label class="amount">Amount (USD) <input type="number" name="amountUsd" min="0.01" step="0.01" required data-testid="amount-custom"></label>`
        : amounts
            .map(
              (amount, i) =>
                `<label class="amount"><input type="radio" name="amountUsd" value="${escapeHtml(amount)}" data-testid="amount-${escapeHtml(amount)}"${i === 0 ? " checked" : ""}> ${escapeHtml(formatUsd(amount))}</label>`,
            )
            .join("\n");
    const cancel =
      back === null ? "" : `<a href="${escapeHtml(back)}" data-testid="cancel">Cancel and return to the app</a>`;
    main = `<form method="post" action="${escapeHtml(action)}" data-testid="checkout-form">
<fieldset><legend>Add credit</legend>
${choices}
</fieldset>
<input type="hidden" name="sessionId" value="${escapeHtml(view.sessionId)}">
<div class="actions"><button type="submit" data-testid="pay">Pay</button>${cancel}</div>
</form>`;
  } else {
    const status =
      view.status === "open"
        ? { badge: "open", text: "This checkout cannot take a payment here: its form target is not a valid address." }
        : STATUS_TEXT[view.status];
    const tone = view.status === "complete" || view.status === "not_required" ? "ok" : "warn";
    const link =
      back === null
        ? `<p class="muted" data-testid="return-missing">The app gave no valid address to return to.</p>`
        : `<p><a href="${escapeHtml(back)}" data-testid="return">Return to the app</a></p>`;
    main = `<p>${renderBadge(status.badge, tone, { "data-testid": "status", "data-value": view.status })}</p>
<p>${escapeHtml(status.text)}</p>
${link}`;
  }
  const body = `${notice}
<h1>Checkout</h1>
${facts}
${main}`;
  return renderLayout({ title: "Checkout", bodyHtml: body });
}
