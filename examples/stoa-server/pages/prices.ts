/**
 * The price table page at `${base}/prices`: what the local server debits per
 * model, and where that table lives.
 */
import { escapeHtml, formatUsd } from "./format.ts";
import { renderLayout } from "./layout.ts";
import type { PriceRow, PricesView } from "./types.ts";

/** A price cell with the raw number in `data-value`. */
function priceCell(value: number): string {
  return `<td class="num" data-value="${escapeHtml(value)}">${escapeHtml(formatUsd(value))}</td>`;
}

/** One row of the table (`data-testid="price-row"`, `data-provider`, `data-model`). */
function priceRow(row: PriceRow): string {
  return `<tr data-testid="price-row" data-provider="${escapeHtml(row.provider)}" data-model="${escapeHtml(row.model)}">
<td>${escapeHtml(row.provider)}</td>
<td><code>${escapeHtml(row.model)}</code></td>
${priceCell(row.inputPerMTok)}
${priceCell(row.outputPerMTok)}
${priceCell(row.cacheReadPerMTok)}
${priceCell(row.cacheWritePerMTok)}
${priceCell(row.webSearchPerCall)}
</tr>`;
}

/**
 * The local server's price table, one `data-testid="price-row"` per entry,
 * with a note that it is editable in `examples/stoa-server/prices.ts` and
 * that a provider-reported cost (OpenRouter's `usage.cost`) wins over it.
 */
export function renderPrices(view: PricesView): string {
  const rows =
    view.prices.length === 0
      ? `<tr><td class="empty" colspan="7">No prices: every event without a provider-reported cost is unpriced.</td></tr>`
      : view.prices.map(priceRow).join("\n");
  const body = `<h1>Prices</h1>
<p>This is the local Stoa server's own price table, not Stoa's. Edit it in <code>examples/stoa-server/prices.ts</code>; it only decides what this server debits.</p>
<p class="muted">When an event carries a cost reported by the provider itself (OpenRouter's <code>usage.cost</code>), that cost is used instead. A model matches its entry exactly or as a dated variant (<code>gpt-4o-mini</code> prices <code>gpt-4o-mini-2024-07-18</code>); a model with no entry is unpriced.</p>
<div class="table-wrap"><table data-testid="prices">
<thead><tr><th>Provider</th><th>Model</th><th class="num">Input / MTok</th><th class="num">Output / MTok</th><th class="num">Cache read / MTok</th><th class="num">Cache write / MTok</th><th class="num">Web search / call</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>`;
  return renderLayout({ title: "Prices", bodyHtml: body, context: view, current: "prices" });
}
