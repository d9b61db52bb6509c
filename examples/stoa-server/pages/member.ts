/**
 * One member's page at `${base}/users/<userId>`: balance and chargeability,
 * totals, usage over time, usage by model, and the most recent events.
 */
import { renderChart } from "./chart.ts";
import { escapeHtml, formatCostSource, formatReason, formatUsd, pageHref } from "./format.ts";
import {
  describeOtherUsage,
  renderBadge,
  renderBalance,
  renderCountCell,
  renderLayout,
  renderLink,
  renderTime,
  renderTotals,
  renderUsd,
} from "./layout.ts";
import type { EventRow, HoldRow, MemberView, ModelRow } from "./types.ts";

/** One row of the live holds table (`data-testid="hold-row"`, `data-hold-id`). */
function holdRow(hold: HoldRow): string {
  return `<tr data-testid="hold-row" data-hold-id="${escapeHtml(hold.id)}">
<td><code>${escapeHtml(hold.id)}</code></td>
<td class="num">${renderUsd(hold.amountUsd, { "data-testid": "hold-amount", "data-value": String(hold.amountUsd) })}</td>
<td class="num">${renderUsd(hold.spentUsd, { "data-testid": "hold-spent", "data-value": String(hold.spentUsd) })}</td>
<td class="num">${renderUsd(hold.unspentUsd, { "data-testid": "hold-unspent", "data-value": String(hold.unspentUsd) })}</td>
<td class="nowrap">${renderTime(hold.createdAt, "second")}</td>
<td class="nowrap">${renderTime(hold.expiresAt, "second")}</td>
</tr>`;
}

/** One row of the by-model table (`data-testid="model-row"`, `data-provider`, `data-model`). */
function modelRow(row: ModelRow): string {
  const cost =
    row.costUsd === null
      ? renderBadge("unpriced", "warn")
      : `<span data-value="${escapeHtml(row.costUsd)}">${escapeHtml(formatUsd(row.costUsd))}</span>`;
  return `<tr data-testid="model-row" data-provider="${escapeHtml(row.provider)}" data-model="${escapeHtml(row.model)}">
<td>${escapeHtml(row.provider)}</td>
<td class="nowrap"><code>${escapeHtml(row.model)}</code></td>
${renderCountCell(row.events)}
${renderCountCell(row.usage.inputTokens)}
${renderCountCell(row.usage.outputTokens)}
${renderCountCell(row.usage.cacheReadTokens)}
${renderCountCell(row.usage.cacheWriteTokens)}
<td class="small muted">${escapeHtml(describeOtherUsage(row.usage))}</td>
<td class="num">${cost}</td>
</tr>`;
}

/**
 * One row of the recent events table (`data-testid="event-row"`,
 * `data-event-id`, `data-status`, `data-estimated`, `data-cost-source`).
 * Aborted and estimated events are tinted and carry a badge.
 */
function eventRow(event: EventRow): string {
  const flagged = event.status === "aborted" || event.estimated;
  const badges = [
    event.status === "aborted" ? renderBadge("aborted", "warn") : renderBadge("completed", "plain"),
    event.estimated ? renderBadge("estimated", "warn") : "",
    event.stream ? renderBadge("stream", "plain") : "",
  ]
    .filter((b) => b !== "")
    .join(" ");
  const cost = event.costSource === "unpriced" ? `<span class="muted">—</span>` : renderUsd(event.costUsd);
  const source = renderBadge(formatCostSource(event.costSource), event.costSource === "unpriced" ? "warn" : "plain");
  const other = describeOtherUsage(event.usage);
  return `<tr data-testid="event-row" data-event-id="${escapeHtml(event.id)}" data-status="${escapeHtml(event.status)}" data-estimated="${event.estimated}" data-cost-source="${escapeHtml(event.costSource)}"${flagged ? ` class="flagged"` : ""}>
<td class="nowrap">${renderTime(event.occurredAt, "second")}</td>
<td>${escapeHtml(event.provider)} <span class="small muted">${escapeHtml(event.endpoint)}</span></td>
<td class="nowrap"><code>${escapeHtml(event.model)}</code></td>
${renderCountCell(event.usage.inputTokens)}
${renderCountCell(event.usage.outputTokens)}
${renderCountCell(event.usage.cacheReadTokens)}
${renderCountCell(event.usage.cacheWriteTokens)}
<td class="small muted">${escapeHtml(other)}</td>
<td>${badges}</td>
<td class="num" data-value="${escapeHtml(event.costUsd)}">${cost}</td>
<td>${source}</td>
</tr>`;
}

/**
 * The page of one member: name, email and ids; balance, held and
 * available (`data-testid="balance"`, `"held"`, `"available"`, raw USD in
 * `data-value`); chargeability
 * (`data-testid="chargeable"` with `data-value` `true`/`false`, and
 * `data-testid="reason"` with the code in `data-value`); the totals
 * (`total-events`, `total-input`, `total-output`, `total-cache-read`,
 * `total-cache-write`, `total-cost`, …); a chart of `series`; a by-model
 * table (`data-testid="model-row"`); the live spend holds
 * (`data-testid="hold-row"`); the recent events (`data-testid="event-row"`).
 */
export function renderMember(view: MemberView): string {
  const { member } = view;
  const heading = member.name ?? member.userId;
  const ids = [
    member.email === null ? "" : escapeHtml(member.email),
    `user <code>${escapeHtml(member.userId)}</code>`,
    `membership <code>${escapeHtml(member.membershipId)}</code>`,
  ].filter((part) => part !== "");
  const chargeable = member.chargeable
    ? renderBadge("chargeable", "ok", { "data-testid": "chargeable", "data-value": "true" })
    : renderBadge("not chargeable", "bad", { "data-testid": "chargeable", "data-value": "false" });
  const reason =
    member.reason === null
      ? ""
      : `<div class="small muted" data-testid="reason" data-value="${escapeHtml(member.reason)}">${escapeHtml(formatReason(member.reason))}</div>`;
  const state = [
    member.paid ? renderBadge("paid", "plain") : renderBadge("never paid", "plain"),
    member.suspended ? renderBadge("suspended", "bad") : "",
  ]
    .filter((b) => b !== "")
    .join(" ");
  const models =
    view.byModel.length === 0
      ? `<tr><td class="empty" colspan="9">No usage yet.</td></tr>`
      : view.byModel.map(modelRow).join("\n");
  const holds =
    view.holds.length === 0
      ? `<tr><td class="empty" colspan="6">No live holds.</td></tr>`
      : view.holds.map(holdRow).join("\n");
  const { spend } = view;
  const events =
    view.recent.length === 0
      ? `<tr><td class="empty" colspan="11">No events yet.</td></tr>`
      : view.recent.map(eventRow).join("\n");
  const body = `<p class="small">${renderLink(pageHref(view.base, "/"), "← All members")}</p>
<h1>${escapeHtml(heading)}</h1>
<p class="muted small">${ids.join(" · ")}</p>
<div class="cards">
<div class="card"><div class="k">Balance</div><div class="v">${renderBalance(spend.balanceUsd, { "data-testid": "balance", "data-value": String(spend.balanceUsd) })}</div></div>
<div class="card"><div class="k">Held</div><div class="v">${renderBalance(spend.heldUsd, { "data-testid": "held", "data-value": String(spend.heldUsd) })}</div></div>
<div class="card"><div class="k">Available</div><div class="v">${renderBalance(spend.availableUsd, { "data-testid": "available", "data-value": String(spend.availableUsd) })}</div></div>
<div class="card"><div class="k">Chargeable</div><div class="v">${chargeable}</div>${reason}</div>
<div class="card"><div class="k">Payment</div><div class="v">${state}</div></div>
<div class="card"><div class="k">Last activity</div><div class="v small">${renderTime(member.lastEventAt)}</div></div>
</div>
<h2>Totals</h2>
${renderTotals(view.totals)}
<h2>Cost per ${view.bucket}</h2>
${renderChart(view.series, view.bucket)}
<h2>By model</h2>
<div class="table-wrap"><table data-testid="by-model">
<thead><tr><th>Provider</th><th>Model</th><th class="num">Events</th><th class="num">Input</th><th class="num">Output</th><th class="num">Cache read</th><th class="num">Cache write</th><th>Other</th><th class="num">Cost</th></tr></thead>
<tbody>
${models}
</tbody>
</table></div>
<h2>Live spend holds</h2>
<p class="small muted">Money reserved for calls in flight: available = balance − the unspent part of the live holds.</p>
<div class="table-wrap"><table data-testid="holds">
<thead><tr><th>Hold</th><th class="num">Amount</th><th class="num">Spent</th><th class="num">Unspent</th><th>Granted</th><th>Expires</th></tr></thead>
<tbody>
${holds}
</tbody>
</table></div>
<h2>Recent events</h2>
${view.recent.some((e) => e.status === "aborted" || e.estimated) ? `<p class="small muted" data-testid="flag-legend">Aborted: the response ended before the provider reported usage. Estimated: some counts were estimated from the bytes seen.</p>\n` : ""}<div class="table-wrap"><table data-testid="recent-events">
<thead><tr><th>Time</th><th>Provider</th><th>Model</th><th class="num">Input</th><th class="num">Output</th><th class="num">Cache read</th><th class="num">Cache write</th><th>Other</th><th>Status</th><th class="num">Cost</th><th>Cost source</th></tr></thead>
<tbody>
${events}
</tbody>
</table></div>`;
  return renderLayout({ title: heading, bodyHtml: body, context: view });
}
