/**
 * The project dashboard at `${base}/`: totals, usage over time, and every
 * member with their balance, chargeability and activity.
 */
import { renderChart } from "./chart.ts";
import { escapeHtml, formatReason, pageHref } from "./format.ts";
import {
  renderBadge,
  renderBalance,
  renderCountCell,
  renderLayout,
  renderLink,
  renderTime,
  renderTotals,
  renderUsd,
} from "./layout.ts";
import type { MemberRow, OverviewView } from "./types.ts";

/** The chargeability of `member` as a badge and, when not chargeable, the reason in words. */
export function renderChargeable(member: MemberRow): string {
  if (member.chargeable) return renderBadge("chargeable", "ok");
  const reason =
    member.reason === null ? "" : ` <span class="small muted">${escapeHtml(formatReason(member.reason))}</span>`;
  return `${renderBadge("not chargeable", "bad")}${reason}`;
}

/** One row of the members table (`data-testid="member-row"`, `data-user-id`). */
function memberRow(member: MemberRow, base: string): string {
  const href = pageHref(base, `/users/${encodeURIComponent(member.userId)}`);
  const who = renderLink(href, member.name ?? member.userId);
  const details = [
    member.email === null ? "" : escapeHtml(member.email),
    member.name === null ? "" : `<code>${escapeHtml(member.userId)}</code>`,
  ].filter((d) => d !== "");
  const sub = details.length === 0 ? "" : `<div class="small muted">${details.join(" · ")}</div>`;
  const flags = member.suspended
    ? ` ${renderBadge("suspended", "bad")}`
    : member.paid
      ? ""
      : ` ${renderBadge("never paid", "plain")}`;
  return `<tr data-testid="member-row" data-user-id="${escapeHtml(member.userId)}">
<td>${who}${sub}</td>
<td class="num">${renderBalance(member.balanceUsd, { "data-value": String(member.balanceUsd) })}</td>
<td>${renderChargeable(member)}${flags}</td>
${renderCountCell(member.events)}
<td class="num">${renderUsd(member.costUsd)}</td>
<td class="nowrap">${renderTime(member.lastEventAt)}</td>
</tr>`;
}

/**
 * The dashboard of a project: totals (`data-testid="total-…"`, see
 * `renderTotals`), a chart of `series`, a members table (one
 * `data-testid="member-row"` per member, linked to
 * `${base}/users/${encodeURIComponent(userId)}`), and a link to `${base}/prices`.
 */
export function renderOverview(view: OverviewView): string {
  const rows =
    view.members.length === 0
      ? `<tr><td class="empty" colspan="6">No members yet. Register one with <code>POST /v1/members</code> or open a payment session.</td></tr>`
      : view.members.map((m) => memberRow(m, view.base)).join("\n");
  const memberCount = `${view.members.length} ${view.members.length === 1 ? "member" : "members"}`;
  const body = `<h1>${escapeHtml(view.project)}</h1>
<p class="muted">Usage metered by this local Stoa server, ${escapeHtml(memberCount)}. Costs come from ${renderLink(pageHref(view.base, "/prices"), "the local price table")} unless the provider reported one.</p>
${renderTotals(view.totals)}
<h2>Cost per ${view.bucket}</h2>
${renderChart(view.series, view.bucket)}
<h2>Members</h2>
<div class="table-wrap"><table data-testid="members">
<thead><tr><th>Member</th><th class="num">Balance</th><th>Chargeable</th><th class="num">Events</th><th class="num">Cost</th><th>Last activity</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>`;
  return renderLayout({ title: "Overview", bodyHtml: body, context: view, current: "overview" });
}
