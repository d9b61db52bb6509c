/**
 * The page shell every local Stoa page shares (head, inline CSS with light
 * and dark themes, the project's navigation) and the small HTML pieces the
 * pages have in common: links, badges, times, the totals cards.
 * Arguments named `…Html` are HTML already; every other string is escaped here.
 */
import { escapeHtml, formatCents, formatTime, formatTokens, formatUsd, pageHref } from "./format.ts";
import type { PageContext, Usage } from "./types.ts";

/** Inline CSS: system font, readable tables, light and dark via prefers-color-scheme. */
const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1c1f24;--muted:#5d6470;--line:#e2e5e9;--stripe:#f7f8fa;--card:#f9fafb;--accent:#3461d1;--on-accent:#fff;--accent2:#c76a12;--ok:#17693a;--ok-bg:#e3f3e8;--bad:#a8241b;--bad-bg:#fbe8e6;--warn:#7a5000;--warn-bg:#fff3d1}
@media (prefers-color-scheme:dark){:root{--bg:#131519;--fg:#e5e7ea;--muted:#9aa1ab;--line:#2c3038;--stripe:#191c21;--card:#1a1d22;--accent:#82a7ff;--on-accent:#0d1526;--accent2:#f2a65a;--ok:#7fd49b;--ok-bg:#13301f;--bad:#ff8f85;--bad-bg:#3b1613;--warn:#ffd27a;--warn-bg:#372b0d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--accent)}
header.top{border-bottom:1px solid var(--line)}
header.top div{max-width:1240px;margin:0 auto;padding:10px 16px;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header.top .brand{font-weight:600}
header.top nav{display:flex;gap:14px}
header.top nav a{text-decoration:none}
header.top nav a[aria-current=page]{color:var(--fg);font-weight:600}
main{max-width:1240px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 4px}
h2{font-size:1.1rem;margin:32px 0 10px}
p{margin:8px 0}
.muted{color:var(--muted)}
.small{font-size:.85rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;margin:16px 0 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.card .k{font-size:.78rem;color:var(--muted)}
.card .v{font-size:1.25rem;font-variant-numeric:tabular-nums;white-space:nowrap}
.card .v.small{font-size:.95rem;white-space:normal}
.extra{margin:8px 0 0;font-size:.85rem;color:var(--muted)}
.extra span{font-variant-numeric:tabular-nums;color:var(--fg)}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:.75rem;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
tbody tr:nth-child(even){background:var(--stripe)}
tbody tr.flagged{background:var(--warn-bg)}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nowrap{white-space:nowrap}
td.empty{color:var(--muted);text-align:center;padding:16px}
.badge{display:inline-block;padding:0 7px;border-radius:999px;font-size:.75rem;line-height:1.6;white-space:nowrap;border:1px solid transparent}
.ok{color:var(--ok);background:var(--ok-bg)}
.bad{color:var(--bad);background:var(--bad-bg)}
.warn{color:var(--warn);background:var(--warn-bg)}
.plain{color:var(--muted);border-color:var(--line)}
.neg{color:var(--bad)}
.notice{border:1px solid var(--warn);background:var(--warn-bg);color:var(--warn);padding:10px 14px;border-radius:8px;margin:0 0 20px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:16px 0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
fieldset{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:16px 0}
legend{color:var(--muted);padding:0 4px}
label.amount{display:inline-flex;gap:6px;align-items:center;margin:4px 18px 4px 0;font-variant-numeric:tabular-nums}
button{font:inherit;font-weight:600;padding:8px 22px;border-radius:6px;border:0;background:var(--accent);color:var(--on-accent);cursor:pointer}
.actions{display:flex;gap:18px;align-items:center}
.status-code{color:var(--muted);font-weight:400;margin-right:8px}
figure.chart{margin:0}
figure.chart svg{display:block;width:100%;height:auto;max-height:320px}
figure.chart figcaption{font-size:.8rem;color:var(--muted);display:flex;gap:16px;flex-wrap:wrap}
figure.chart .key{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
figure.chart .key.cost{background:var(--accent)}
figure.chart .key.tokens{background:var(--accent2);border-radius:50%}
figure.chart .bar{fill:var(--accent)}
figure.chart .hit{fill:transparent}
figure.chart g.bucket:hover .bar{opacity:.75}
figure.chart .grid{stroke:var(--line)}
figure.chart .axis{stroke:var(--muted)}
figure.chart text{fill:var(--muted)}
figure.chart .tokens{stroke:var(--accent2)}
figure.chart .dot{fill:var(--accent2)}
figure.chart-empty p{border:1px dashed var(--line);border-radius:8px;padding:28px;text-align:center;color:var(--muted);margin:0}
`;

/** No scripts, no fetches: styles inline, images only as data: URLs, nothing external. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'";

/** What a page puts in the shell. */
export interface LayoutOptions {
  /** The page's own title, shown in the tab before the project. */
  title: string;
  /** The page's content, HTML. */
  bodyHtml: string;
  /** The project, for the navigation; none on pages outside a project (checkout, messages). */
  context?: PageContext;
  /** The navigation entry to mark as the current page. */
  current?: "overview" | "prices";
}

/** A whole HTML document: head with inline CSS, the project's navigation when there is one, then `bodyHtml`. */
export function renderLayout(options: LayoutOptions): string {
  const { title, bodyHtml, context, current } = options;
  const fullTitle = context ? `${title} · ${context.project} · Stoa (local)` : `${title} · Stoa (local)`;
  let nav = "";
  if (context) {
    const item = (name: "overview" | "prices", path: string, text: string) =>
      renderLink(pageHref(context.base, path), text, current === name ? { "aria-current": "page" } : {});
    nav = `<nav aria-label="Project">${item("overview", "/", "Overview")}${item("prices", "/prices", "Prices")}</nav>`;
  }
  const project = context ? `<span class="muted">project <code>${escapeHtml(context.project)}</code></span>` : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,">
<title>${escapeHtml(fullTitle)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="top"><div><span class="brand">Stoa <span class="muted">(local)</span></span>${project}${nav}</div></header>
<main>
${bodyHtml}
</main>
</body>
</html>
`;
}

/** Attributes as HTML (` name="value"` each), values escaped. */
export function renderAttributes(attributes: Record<string, string | number | boolean>): string {
  return Object.entries(attributes)
    .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
    .join("");
}

/** A link to `href` with the text `text`, or just the text (in a span) when `href` is null. */
export function renderLink(href: string | null, text: string, attributes: Record<string, string> = {}): string {
  const attrs = renderAttributes(attributes);
  return href === null
    ? `<span${attrs}>${escapeHtml(text)}</span>`
    : `<a href="${escapeHtml(href)}"${attrs}>${escapeHtml(text)}</a>`;
}

/** A small pill: `tone` is `ok`, `bad`, `warn` or `plain`. */
export function renderBadge(
  text: string,
  tone: "ok" | "bad" | "warn" | "plain",
  attributes: Record<string, string> = {},
) {
  return `<span class="badge ${tone}"${renderAttributes(attributes)}>${escapeHtml(text)}</span>`;
}

/** A `<time>` with the machine-readable `iso` and a UTC text; `—` for null. */
export function renderTime(iso: string | null, precision: "minute" | "second" = "minute"): string {
  if (iso === null) return `<span class="muted">—</span>`;
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(formatTime(iso, precision))}</time>`;
}

/** A USD amount, in red when negative. */
export function renderUsd(value: number, attributes: Record<string, string> = {}): string {
  const cls = value < 0 ? ` class="neg"` : "";
  return `<span${cls}${renderAttributes(attributes)}>${escapeHtml(formatUsd(value))}</span>`;
}

/**
 * A balance in cents ({@link formatCents}); when that hides sub-cent detail,
 * the exact amount is the `title` (shown on hover).
 */
export function renderBalance(value: number, attributes: Record<string, string> = {}): string {
  const cls = value < 0 ? ` class="neg"` : "";
  const [cents, exact] = [formatCents(value), formatUsd(value)];
  const title = cents === exact ? "" : ` title="${escapeHtml(exact)}"`;
  return `<span${cls}${title}${renderAttributes(attributes)}>${escapeHtml(cents)}</span>`;
}

/** Totals of a page: events, cost and the token counts. */
export interface Totals {
  events: number;
  usage: Usage;
  costUsd: number;
}

/**
 * Cards with the totals, each value marked `data-testid="total-…"` with the
 * raw number in `data-value`: `total-events`, `total-cost`, `total-input`,
 * `total-output`, `total-cache-read`, `total-cache-write`; then a line with
 * `total-audio-input`, `total-audio-output`, `total-reasoning`, `total-web-searches`.
 */
export function renderTotals(totals: Totals): string {
  const { usage } = totals;
  const card = (label: string, testid: string, raw: number, text: string) =>
    `<div class="card"><div class="k">${escapeHtml(label)}</div><div class="v" data-testid="${testid}" data-value="${escapeHtml(raw)}">${escapeHtml(text)}</div></div>`;
  const count = (label: string, testid: string, raw: number) => card(label, testid, raw, formatTokens(raw));
  const extra = (label: string, testid: string, raw: number) =>
    `${escapeHtml(label)} <span data-testid="${testid}" data-value="${escapeHtml(raw)}">${escapeHtml(formatTokens(raw))}</span>`;
  return `<div class="cards">
${count("Events", "total-events", totals.events)}
${card("Cost", "total-cost", totals.costUsd, formatUsd(totals.costUsd))}
${count("Input tokens", "total-input", usage.inputTokens)}
${count("Output tokens", "total-output", usage.outputTokens)}
${count("Cache read", "total-cache-read", usage.cacheReadTokens)}
${count("Cache write", "total-cache-write", usage.cacheWriteTokens)}
</div>
<p class="extra">${[
    extra("Audio input", "total-audio-input", usage.audioInputTokens),
    extra("audio output", "total-audio-output", usage.audioOutputTokens),
    extra("reasoning (part of output)", "total-reasoning", usage.reasoningTokens),
    extra("web searches", "total-web-searches", usage.webSearchRequests),
  ].join(" · ")}</p>`;
}

/** The counts of `usage` that have no column of their own, in words (`reasoning 120 · web searches 2`), or "". */
export function describeOtherUsage(usage: Usage): string {
  const parts: string[] = [];
  if (usage.audioInputTokens > 0) parts.push(`audio in ${formatTokens(usage.audioInputTokens)}`);
  if (usage.audioOutputTokens > 0) parts.push(`audio out ${formatTokens(usage.audioOutputTokens)}`);
  if (usage.reasoningTokens > 0) parts.push(`reasoning ${formatTokens(usage.reasoningTokens)}`);
  if (usage.webSearchRequests > 0) parts.push(`web searches ${formatTokens(usage.webSearchRequests)}`);
  return parts.join(" · ");
}

/** A numeric table cell with the formatted count and the raw integer in `data-value`. */
export function renderCountCell(value: number): string {
  return `<td class="num" data-value="${escapeHtml(value)}">${escapeHtml(formatTokens(value))}</td>`;
}
