/**
 * The local Stoa server's HTML pages in one import: pure render functions
 * (view model in, HTML string out) and their view-model types.
 */
export { CHART_PLOT_HEIGHT, renderChart } from "./chart.ts";
export { checkoutReturnHref, renderCheckout } from "./checkout.ts";
export {
  escapeHtml,
  formatBucket,
  formatTime,
  formatTokens,
  formatUsd,
  pageHref,
  safeHttpUrl,
  safePath,
} from "./format.ts";
export { renderLayout } from "./layout.ts";
export { renderMember } from "./member.ts";
export { renderMessage } from "./message.ts";
export { renderOverview } from "./overview.ts";
export { renderPrices } from "./prices.ts";
export type * from "./types.ts";
