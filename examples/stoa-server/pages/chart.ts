/**
 * The usage chart: an inline SVG with cost per bucket as bars (left axis) and
 * input + output tokens as a level mark across each bucket (right axis; no
 * line between buckets, which would draw a ramp that is not there), each bucket's numbers in a
 * `<title>` tooltip. Pure and deterministic: the same series gives the same
 * bytes; coordinates are rounded to hundredths.
 */
import { escapeHtml, formatBucket, formatCompact, formatTokens, formatUsd } from "./format.ts";
import type { Bucket, SeriesPoint } from "./types.ts";

const WIDTH = 720;
const HEIGHT = 240;
const LEFT = 64;
const RIGHT = 52;
const TOP = 22;
const BOTTOM = 30;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;

/** Height in SVG units of the plot area, and so of the tallest bar. */
export const CHART_PLOT_HEIGHT = HEIGHT - TOP - BOTTOM;

/** Widest a bar gets, so that one or two buckets do not fill the chart. */
const MAX_BAR_WIDTH = 48;

/** A coordinate rounded to hundredths, as text. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** A count that is at least 0 and finite. */
function clean(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * The chart of `series` (oldest first, one point per `bucket`): a `<figure>`
 * with an SVG (`role="img"`, an `aria-label` summing it up), one
 * `<rect class="bar">` per point with its height proportional to the cost
 * (the most expensive bucket's bar is {@link CHART_PLOT_HEIGHT} tall), and a
 * legend. An empty series gives a "No usage yet" message
 * (`data-testid="chart-empty"`) instead.
 */
export function renderChart(series: readonly SeriesPoint[], bucket: Bucket): string {
  if (series.length === 0) {
    return `<figure class="chart chart-empty" data-testid="chart-empty"><p>No usage yet.</p></figure>`;
  }
  const costs = series.map((p) => clean(p.costUsd));
  const tokens = series.map((p) => clean(p.inputTokens) + clean(p.outputTokens));
  const maxCost = Math.max(...costs);
  const maxTokens = Math.max(...tokens);
  const baseline = TOP + CHART_PLOT_HEIGHT;
  const slot = PLOT_WIDTH / series.length;
  const barWidth = Math.max(1, Math.min(MAX_BAR_WIDTH, slot * 0.7));
  const center = (i: number) => LEFT + slot * i + slot / 2;
  const yOf = (value: number, max: number) => baseline - (max > 0 ? (value / max) * CHART_PLOT_HEIGHT : 0);

  const parts: string[] = [];
  // Grid and tick labels at 0, half and the maximum of each scale.
  for (const fraction of [0, 0.5, 1]) {
    const y = n(baseline - fraction * CHART_PLOT_HEIGHT);
    parts.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${LEFT - 6}" y="${y}" dy="4" text-anchor="end" font-size="11" fill="#777">${escapeHtml(formatUsd(maxCost * fraction))}</text>`,
    );
    if (maxTokens > 0) {
      parts.push(
        `<text x="${WIDTH - RIGHT + 6}" y="${y}" dy="4" text-anchor="start" font-size="11" fill="#777">${escapeHtml(formatCompact(maxTokens * fraction))}</text>`,
      );
    }
  }
  parts.push(
    `<text x="${LEFT - 6}" y="${TOP - 10}" text-anchor="end" font-size="11" fill="#777">USD</text>`,
    maxTokens > 0
      ? `<text x="${WIDTH - RIGHT + 6}" y="${TOP - 10}" text-anchor="start" font-size="11" fill="#777">tokens</text>`
      : "",
  );

  // One group per bucket: a full-height hover target, the bar, and a tooltip.
  series.forEach((point, i) => {
    const height = maxCost > 0 ? ((costs[i] ?? 0) / maxCost) * CHART_PLOT_HEIGHT : 0;
    const label = formatBucket(point.at, bucket);
    const tip = `${label}${bucket === "day" ? "" : " UTC"}: ${formatUsd(costs[i] ?? 0)}, ${formatTokens(point.inputTokens)} input + ${formatTokens(point.outputTokens)} output tokens, ${formatTokens(point.events)} ${point.events === 1 ? "event" : "events"}`;
    parts.push(
      `<g class="bucket"><title>${escapeHtml(tip)}</title>` +
        `<rect class="hit" x="${n(LEFT + slot * i)}" y="${TOP}" width="${n(slot)}" height="${CHART_PLOT_HEIGHT}" fill="transparent"/>` +
        `<rect class="bar" x="${n(center(i) - barWidth / 2)}" y="${n(baseline - height)}" width="${n(barWidth)}" height="${n(height)}" fill="#3461d1" data-at="${escapeHtml(point.at)}" data-value="${escapeHtml(costs[i] ?? 0)}"/></g>`,
    );
  });

  // Tokens: per bucket with any, a level mark as wide as the bar and a dot, on their own scale.
  if (maxTokens > 0) {
    for (const [i, t] of tokens.entries()) {
      if (t === 0) continue; // an empty bucket has no mark
      const y = n(yOf(t, maxTokens));
      parts.push(
        `<line class="tokens" x1="${n(center(i) - barWidth / 2)}" x2="${n(center(i) + barWidth / 2)}" y1="${y}" y2="${y}" stroke="#c76a12" stroke-width="2" pointer-events="none"/>`,
        `<circle class="dot" cx="${n(center(i))}" cy="${y}" r="3" fill="#c76a12" pointer-events="none"/>`,
      );
    }
  }

  // X axis and at most a handful of bucket labels, evenly spaced, always the first.
  parts.push(`<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${baseline}" y2="${baseline}" stroke="#777"/>`);
  const labelWidth = bucket === "day" ? 56 : bucket === "hour" ? 96 : 40;
  const step = Math.max(1, Math.ceil(series.length / Math.max(1, Math.floor(PLOT_WIDTH / labelWidth))));
  for (let i = 0; i < series.length; i += step) {
    const at = series[i]?.at ?? "";
    parts.push(
      `<text x="${n(center(i))}" y="${baseline + 18}" text-anchor="middle" font-size="11" fill="#777">${escapeHtml(formatBucket(at, bucket))}</text>`,
    );
  }

  const first = formatBucket(series[0]?.at ?? "", bucket);
  const last = formatBucket(series[series.length - 1]?.at ?? "", bucket);
  const total = costs.reduce((sum, c) => sum + c, 0);
  const unit = series.length === 1 ? bucket : `${bucket}s`;
  const span = series.length === 1 ? first : `${first} to ${last}`;
  const aria = `Cost per ${bucket} (UTC), ${series.length} ${unit}, ${span}: total ${formatUsd(total)}, highest ${formatUsd(maxCost)}; tokens up to ${formatTokens(maxTokens)} per ${bucket}`;
  return `<figure class="chart">
<svg role="img" aria-label="${escapeHtml(aria)}" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">
${parts.filter((p) => p !== "").join("\n")}
</svg>
<figcaption><span><span class="key cost"></span>Cost (USD, left axis)</span><span><span class="key tokens"></span>Input + output tokens (right axis)</span><span>One bar per ${bucket}, UTC</span></figcaption>
</figure>`;
}
