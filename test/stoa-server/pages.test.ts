/**
 * The local Stoa server's HTML pages, rendered from fixed data: escaping,
 * link safety, the testids and their exact values, number formats, the
 * chart's geometry, and both checkout variants. Web APIs only (node and workers).
 */

import { describe, expect, it } from "vitest";
import { CHART_PLOT_HEIGHT, renderChart } from "../../examples/stoa-server/pages/chart.ts";
import { checkoutReturnHref, renderCheckout } from "../../examples/stoa-server/pages/checkout.ts";
import {
  escapeHtml,
  formatBucket,
  formatTime,
  formatTokens,
  formatUsd,
  pageHref,
  safeHttpUrl,
  safePath,
} from "../../examples/stoa-server/pages/format.ts";
import { renderMember } from "../../examples/stoa-server/pages/member.ts";
import { renderMessage } from "../../examples/stoa-server/pages/message.ts";
import { renderOverview } from "../../examples/stoa-server/pages/overview.ts";
import { renderPrices } from "../../examples/stoa-server/pages/prices.ts";
import type {
  CheckoutView,
  EventRow,
  MemberRow,
  MemberView,
  OverviewView,
  SeriesPoint,
  Usage,
} from "../../examples/stoa-server/pages/types.ts";
import { emptyUsage } from "../../src/usage.ts";

const HOSTILE = "<script>alert(1)</script>";
const HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;";

/** The element(s) with `data-testid="<id>"`: their opening tag's attributes and their text without tags. */
function byTestId(html: string, id: string): { attrs: string; text: string }[] {
  const pattern = new RegExp(`<(\\w+)((?:\\s[^>]*)?\\sdata-testid="${id}"[^>]*)>(?:([\\s\\S]*?)</\\1>)?`, "g");
  return [...html.matchAll(pattern)].map((m) => ({
    attrs: m[2] ?? "",
    text: (m[3] ?? "").replace(/<[^>]*>/g, "").trim(),
  }));
}

/** The one element with that testid. */
function one(html: string, id: string): { attrs: string; text: string } {
  const found = byTestId(html, id);
  expect(found, `exactly one data-testid="${id}"`).toHaveLength(1);
  return found[0] as { attrs: string; text: string };
}

/** An attribute's value in an opening tag's attribute text, or undefined. */
function attr(attrs: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(attrs)?.[1];
}

function usage(partial: Partial<Usage> = {}): Usage {
  return { ...emptyUsage(), ...partial };
}

const HOSTILE_MEMBER: MemberRow = {
  userId: 'u/1 "<x>"',
  membershipId: "mem_1",
  name: HOSTILE,
  email: "ada@example.com",
  balanceUsd: -0.000123,
  paid: false,
  suspended: false,
  chargeable: false,
  reason: "insufficient_balance",
  events: 1234,
  costUsd: 12.3456,
  lastEventAt: "2026-11-27T18:04:05Z",
};

const SERIES: SeriesPoint[] = [
  { at: "2026-11-25T00:00:00Z", events: 1, inputTokens: 100, outputTokens: 50, costUsd: 0.5 },
  { at: "2026-11-26T00:00:00Z", events: 4, inputTokens: 400, outputTokens: 200, costUsd: 2 },
  { at: "2026-11-27T00:00:00Z", events: 2, inputTokens: 200, outputTokens: 100, costUsd: 1 },
];

const TOTALS = {
  events: 1234567,
  usage: usage({
    inputTokens: 1234567,
    outputTokens: 89012,
    cacheReadTokens: 3456,
    cacheWriteTokens: 7,
    reasoningTokens: 42,
  }),
  costUsd: 0.000123,
};

function event(partial: Partial<EventRow>): EventRow {
  return {
    id: "evt_1",
    occurredAt: "2026-11-27T18:04:05Z",
    provider: "openai",
    endpoint: "chat.completions",
    model: "gpt-4o-mini",
    stream: false,
    status: "completed",
    estimated: false,
    usage: usage({ inputTokens: 1000, outputTokens: 20 }),
    costUsd: 0.000162,
    costSource: "price_table",
    ...partial,
  };
}

const MEMBER_VIEW: MemberView = {
  project: "demo",
  base: "/t/demo",
  member: HOSTILE_MEMBER,
  spend: { balanceUsd: -0.000123, heldUsd: 0.25, availableUsd: -0.250123 },
  holds: [
    {
      id: "hold_a",
      amountUsd: 0.25,
      spentUsd: 0.031,
      unspentUsd: 0.219,
      createdAt: "2026-11-27T18:04:05.000Z",
      expiresAt: "2026-11-27T18:06:05Z",
    },
    {
      id: "hold_b",
      amountUsd: 0.031,
      spentUsd: 0,
      unspentUsd: 0.031,
      createdAt: "2026-11-27T18:04:06.000Z",
      expiresAt: "2026-11-27T18:06:06Z",
    },
  ],
  totals: TOTALS,
  byModel: [
    {
      provider: "openai",
      model: "gpt-4o-mini",
      events: 3,
      usage: usage({ inputTokens: 3000, outputTokens: 60 }),
      costUsd: 0.000486,
    },
    { provider: "openrouter", model: `x/${HOSTILE}`, events: 1, usage: usage({ inputTokens: 5 }), costUsd: null },
  ],
  series: SERIES,
  bucket: "day",
  recent: [
    event({ id: "evt_ok" }),
    event({ id: "evt_cut", status: "aborted", estimated: true, stream: true, costSource: "provider", costUsd: 1.5 }),
    event({ id: "evt_free", model: "mystery", costSource: "unpriced", costUsd: 0 }),
  ],
};

describe("format", () => {
  it("formats USD in cents, or up to 6 decimals when there is more", () => {
    expect(formatUsd(0.000123)).toBe("$0.000123");
    expect(formatUsd(0.5)).toBe("$0.50");
    expect(formatUsd(0.1 + 0.2)).toBe("$0.30");
    expect(formatUsd(0.0123456)).toBe("$0.012346");
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(1)).toBe("$1.00");
    expect(formatUsd(12.3456)).toBe("$12.3456");
    expect(formatUsd(4.999879)).toBe("$4.999879");
    expect(formatUsd(12.5)).toBe("$12.50");
    expect(formatUsd(1234567.891)).toBe("$1,234,567.891");
    expect(formatUsd(1234567.89)).toBe("$1,234,567.89");
    expect(formatUsd(0.9999999)).toBe("$1.00");
    expect(formatUsd(-2.5)).toBe("-$2.50");
    expect(formatUsd(-0.000123)).toBe("-$0.000123");
    expect(formatUsd(1e-9)).toBe("<$0.000001");
    expect(formatUsd(Number.NaN)).toBe("—");
  });

  it("formats token counts with thousands separators", () => {
    expect(formatTokens(0)).toBe("0");
    expect(formatTokens(999)).toBe("999");
    expect(formatTokens(1000)).toBe("1,000");
    expect(formatTokens(1234567)).toBe("1,234,567");
    expect(formatTokens(-1234)).toBe("-1,234");
  });

  it("formats times in UTC whatever the offset given", () => {
    expect(formatTime("2026-11-27T19:04:05+01:00")).toBe("2026-11-27 18:04 UTC");
    expect(formatTime("2026-11-27T18:04:05Z", "second")).toBe("2026-11-27 18:04:05 UTC");
    expect(formatTime("not a time")).toBe("not a time");
    expect(formatBucket("2026-11-27T00:00:00Z", "day")).toBe("Nov 27");
    expect(formatBucket("2026-11-27T08:00:00Z", "hour")).toBe("Nov 27 08:00");
  });

  it("escapes the five HTML characters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
    );
    expect(escapeHtml(null)).toBe("");
  });

  it("lets only http(s) URLs and same-origin paths through", () => {
    expect(safeHttpUrl("https://app.example.com/back?x=1")).toBe("https://app.example.com/back?x=1");
    expect(safeHttpUrl("http://localhost:8787/r")).toBe("http://localhost:8787/r");
    for (const bad of [
      "javascript:alert(1)",
      " JavaScript:alert(1)",
      "data:text/html,x",
      "/relative",
      "ftp://x",
      "::",
    ]) {
      expect(safeHttpUrl(bad), bad).toBeNull();
    }
    expect(safePath("/t/demo/prices")).toBe("/t/demo/prices");
    for (const bad of ["//evil.example", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)", "prices"]) {
      expect(safePath(bad), bad).toBeNull();
    }
    expect(pageHref("", "/")).toBe("/");
    expect(pageHref("/t/x", "/")).toBe("/t/x/");
    expect(pageHref("javascript:alert(1)//", "/")).toBeNull();
  });
});

describe("renderChart", () => {
  const heights = (svg: string) =>
    [...svg.matchAll(/<rect class="bar"[^>]*\sheight="([\d.]+)"/g)].map((m) => Number(m[1]));

  it("draws one bar per point, the most expensive one full height, the others in proportion", () => {
    const svg = renderChart(SERIES, "day");
    expect(heights(svg)).toEqual([CHART_PLOT_HEIGHT / 4, CHART_PLOT_HEIGHT, CHART_PLOT_HEIGHT / 2]);
    expect(svg.match(/<circle class="dot"/g)).toHaveLength(3);
    // tokens: a level mark per bucket, as wide as its bar, never a line from one bucket to the next
    const marks = [...svg.matchAll(/<line class="tokens" x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)" y2="([\d.]+)"/g)];
    expect(marks).toHaveLength(3);
    for (const m of marks) expect(m[3]).toBe(m[4]);
    const bars = [...svg.matchAll(/<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)];
    expect(marks.map((m) => [Number(m[1]), Number(m[2])])).toEqual(
      bars.map((b) => [Number(b[1]), Math.round((Number(b[1]) + Number(b[2])) * 100) / 100]),
    );
    expect(svg).not.toContain("<polyline");
    expect(svg).toMatch(
      /<svg role="img" aria-label="Cost per day \(UTC\), 3 days, Nov 25 to Nov 27: total \$3\.50, highest \$2\.00;/,
    );
    expect(svg).toContain("<title>Nov 26: $2.00, 400 input + 200 output tokens, 4 events</title>");
    for (const label of [
      ">Nov 25<",
      ">Nov 26<",
      ">Nov 27<",
      ">$2.00<",
      ">$1.00<",
      ">$0.00<",
      ">USD<",
      ">tokens<",
      ">600<",
    ]) {
      expect(svg).toContain(label);
    }
  });

  it("is deterministic", () => {
    expect(renderChart(SERIES, "hour")).toBe(renderChart(structuredClone(SERIES), "hour"));
  });

  it("draws a single point as one full-height bar", () => {
    const svg = renderChart(
      [{ at: "2026-11-27T08:00:00Z", events: 1, inputTokens: 5, outputTokens: 5, costUsd: 0.000123 }],
      "hour",
    );
    expect(heights(svg)).toEqual([CHART_PLOT_HEIGHT]);
    expect(svg).not.toContain("<polyline");
    expect(svg).toContain(">Nov 27 08:00<");
    expect(svg).toContain('aria-label="Cost per hour (UTC), 1 hour, Nov 27 08:00: total $0.000123');
  });

  it("draws zero-height bars when nothing cost anything", () => {
    const svg = renderChart(
      [{ ...SERIES[0], costUsd: 0 } as SeriesPoint, { ...SERIES[1], costUsd: 0 } as SeriesPoint],
      "day",
    );
    expect(heights(svg)).toEqual([0, 0]);
  });

  it("says so when there is no usage", () => {
    const html = renderChart([], "day");
    expect(one(html, "chart-empty").text).toBe("No usage yet.");
    expect(html).not.toContain("<svg");
  });

  it("escapes what it is given", () => {
    const svg = renderChart([{ ...(SERIES[0] as SeriesPoint), at: HOSTILE }], "day");
    expect(svg).not.toContain("<script");
    expect(svg).toContain(`data-at="${HOSTILE_ESCAPED}"`);
  });
});

describe("renderOverview", () => {
  const view: OverviewView = {
    project: "demo <b>",
    base: "/t/demo",
    members: [
      HOSTILE_MEMBER,
      {
        ...HOSTILE_MEMBER,
        userId: "bob",
        name: null,
        email: null,
        chargeable: true,
        reason: null,
        paid: true,
        balanceUsd: 5,
      },
    ],
    totals: TOTALS,
    series: SERIES,
    bucket: "day",
  };
  const html = renderOverview(view);

  it("is a whole offline page: no scripts, no external assets", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("prefers-color-scheme:dark");
    expect(html).not.toMatch(/<script|\ssrc=|rel="stylesheet"|@import|url\(/);
    expect(html).toContain("<title>Overview · demo &lt;b&gt; · Stoa (local)</title>");
  });

  it("escapes the names it shows", () => {
    expect(html).not.toContain("<script>");
    expect(html).toContain(HOSTILE_ESCAPED);
    expect(html).toContain("<code>demo &lt;b&gt;</code>");
  });

  it("lists each member with a link to their page", () => {
    const rows = byTestId(html, "member-row");
    expect(rows.map((r) => attr(r.attrs, "data-user-id"))).toEqual(["u/1 &quot;&lt;x&gt;&quot;", "bob"]);
    expect(html).toContain(`<a href="/t/demo/users/u%2F1%20%22%3Cx%3E%22">${HOSTILE_ESCAPED}</a>`);
    expect(html).toContain(`<a href="/t/demo/users/bob">bob</a>`);
    // balances in cents, the exact amount on hover
    expect(rows[0]?.text).toContain("-$0.00");
    expect(html).toContain('<span class="neg" title="-$0.000123" data-value="-0.000123">-$0.00</span>');
    expect(rows[0]?.text).toContain("not chargeable insufficient balance");
    expect(rows[0]?.text).toContain("1,234");
    expect(rows[0]?.text).toContain("$12.3456");
    expect(rows[0]?.text).toContain("2026-11-27 18:04 UTC");
    expect(rows[1]?.text).toContain("chargeable");
    expect(rows[1]?.text).toContain("$5.00");
  });

  it("links to the prices page and shows the totals", () => {
    expect(html).toContain(`<a href="/t/demo/prices">the local price table</a>`);
    expect(html).toContain(`<a href="/t/demo/prices">Prices</a>`);
    expect(html).toContain(`<a href="/t/demo/" aria-current="page">Overview</a>`);
    expect(one(html, "total-events").text).toBe("1,234,567");
    expect(one(html, "total-cost").text).toBe("$0.000123");
    expect(html.match(/<rect class="bar"/g)).toHaveLength(3);
  });

  it("links from the root for the default project and says when there are no members", () => {
    const empty = renderOverview({ ...view, base: "", members: [], series: [] });
    expect(empty).toContain(`<a href="/prices">Prices</a>`);
    expect(empty).toContain("No members yet.");
    expect(one(empty, "chart-empty").text).toBe("No usage yet.");
  });
});

describe("renderMember", () => {
  const html = renderMember(MEMBER_VIEW);

  it("escapes the member's name, ids and model names", () => {
    expect(html).not.toContain("<script>");
    expect(html).toContain(`<h1>${HOSTILE_ESCAPED}</h1>`);
    expect(html).toContain("<code>u/1 &quot;&lt;x&gt;&quot;</code>");
    expect(html).toContain(`data-model="x/${HOSTILE_ESCAPED}"`);
  });

  it("shows balance and chargeability with their raw values", () => {
    const balance = one(html, "balance");
    expect(balance.text).toBe("-$0.00");
    expect(attr(balance.attrs, "title")).toBe("-$0.000123");
    expect(attr(balance.attrs, "data-value")).toBe("-0.000123");
    const available = one(html, "available");
    expect([available.text, attr(available.attrs, "title")]).toEqual(["-$0.25", "-$0.250123"]);
    // a balance already in cents has no tooltip
    expect(attr(one(html, "held").attrs, "title")).toBeUndefined();
    expect(attr(one(html, "chargeable").attrs, "data-value")).toBe("false");
    const reason = one(html, "reason");
    expect(attr(reason.attrs, "data-value")).toBe("insufficient_balance");
    expect(reason.text).toBe("insufficient balance");
    expect(html).toContain(`<a href="/t/demo/">← All members</a>`);
  });

  it("shows held and available money and each live hold", () => {
    expect([attr(one(html, "held").attrs, "data-value"), one(html, "held").text]).toEqual(["0.25", "$0.25"]);
    expect(attr(one(html, "available").attrs, "data-value")).toBe("-0.250123");
    expect([...html.matchAll(/data-testid="hold-row" data-hold-id="([^"]+)"/g)].map((m) => m[1])).toEqual([
      "hold_a",
      "hold_b",
    ]);
    expect(html).toContain('data-testid="hold-unspent" data-value="0.219"');
    expect(renderMember({ ...MEMBER_VIEW, holds: [] })).toContain("No live holds.");
  });

  it("shows totals as exact integers with separators and data-value", () => {
    const expected: [string, string, string][] = [
      ["total-events", "1,234,567", "1234567"],
      ["total-input", "1,234,567", "1234567"],
      ["total-output", "89,012", "89012"],
      ["total-cache-read", "3,456", "3456"],
      ["total-cache-write", "7", "7"],
      ["total-cost", "$0.000123", "0.000123"],
      ["total-reasoning", "42", "42"],
      ["total-web-searches", "0", "0"],
    ];
    for (const [id, text, value] of expected) {
      const cell = one(html, id);
      expect([id, cell.text, attr(cell.attrs, "data-value")]).toEqual([id, text, value]);
    }
  });

  it("has a row per model", () => {
    const rows = byTestId(html, "model-row");
    expect(rows.map((r) => [attr(r.attrs, "data-provider"), attr(r.attrs, "data-model")])).toEqual([
      ["openai", "gpt-4o-mini"],
      ["openrouter", `x/${HOSTILE_ESCAPED}`],
    ]);
    expect(rows[0]?.attrs).not.toContain("class=");
    expect(html).toContain(`<td class="num" data-value="3000">3,000</td>`);
    expect(rows[0]?.text).toContain("$0.000486");
    expect(rows[1]?.text).toContain("unpriced");
  });

  it("explains aborted and estimated only when such events are listed; keeps time and model on one line", () => {
    expect(one(html, "flag-legend").text).toContain("Aborted: the response ended");
    const calm = renderMember({
      ...MEMBER_VIEW,
      recent: MEMBER_VIEW.recent.filter((e) => e.status !== "aborted" && !e.estimated),
    });
    expect(calm).not.toContain('data-testid="flag-legend"');
    expect(calm).not.toContain("Aborted:");
    expect(calm).toMatch(/<td class="nowrap"><time[^>]*>2026-/);
    expect(calm).toContain('<td class="nowrap"><code>gpt-4o-mini</code></td>');
  });

  it("lists recent events, marking aborted and estimated ones and the cost source", () => {
    const rows = byTestId(html, "event-row");
    expect(
      rows.map((r) => [
        attr(r.attrs, "data-event-id"),
        attr(r.attrs, "data-status"),
        attr(r.attrs, "data-estimated"),
        attr(r.attrs, "data-cost-source"),
        attr(r.attrs, "class"),
      ]),
    ).toEqual([
      ["evt_ok", "completed", "false", "price_table", undefined],
      ["evt_cut", "aborted", "true", "provider", "flagged"],
      ["evt_free", "completed", "false", "unpriced", undefined],
    ]);
    const [ok, cut, free] = rows.map((r) => r.text.replace(/\s+/g, " "));
    expect(ok).toContain("2026-11-27 18:04:05 UTC");
    expect(ok).toContain("1,000");
    expect(ok).toContain("$0.000162 price table");
    expect(cut).toContain("aborted estimated stream");
    expect(cut).toContain("$1.50 provider");
    expect(free).toContain("— unpriced");
  });

  it("has the chart, and says when there is nothing yet", () => {
    expect(html.match(/<rect class="bar"/g)).toHaveLength(SERIES.length);
    const empty = renderMember({ ...MEMBER_VIEW, series: [], byModel: [], recent: [] });
    expect(one(empty, "chart-empty").text).toBe("No usage yet.");
    expect(empty).toContain("No events yet.");
    expect(byTestId(empty, "event-row")).toHaveLength(0);
  });
});

describe("renderPrices", () => {
  const html = renderPrices({
    project: "demo",
    base: "",
    prices: [
      {
        provider: "openai",
        model: "gpt-4o-mini",
        inputPerMTok: 0.15,
        outputPerMTok: 0.6,
        cacheReadPerMTok: 0.075,
        cacheWritePerMTok: 0.15,
        webSearchPerCall: 0.01,
        audioInputPerMTok: 0,
        audioOutputPerMTok: 0,
        maxOutputTokens: 16384,
        requestOverheadTokens: 0,
      },
      {
        provider: "anthropic",
        model: HOSTILE,
        inputPerMTok: 15,
        outputPerMTok: 75,
        cacheReadPerMTok: 1.5,
        cacheWritePerMTok: 18.75,
        webSearchPerCall: 0.01,
        audioInputPerMTok: 0,
        audioOutputPerMTok: 0,
        maxOutputTokens: 16384,
        requestOverheadTokens: 0,
      },
    ],
  });

  it("says whose table it is, where to edit it and that a provider cost wins", () => {
    expect(html).toContain("local Stoa server's own price table");
    expect(html).toContain("<code>examples/stoa-server/prices.ts</code>");
    expect(html).toContain("<code>usage.cost</code>");
    expect(html).toContain(`<a href="/prices" aria-current="page">Prices</a>`);
  });

  it("lists each price, formatted and escaped", () => {
    const rows = byTestId(html, "price-row");
    expect(rows).toHaveLength(2);
    expect(rows[0]?.text.replace(/\s+/g, " ")).toBe("openai gpt-4o-mini $0.15 $0.60 $0.075 $0.15 $0.01");
    expect(rows[1]?.text.replace(/\s+/g, " ")).toBe(`anthropic ${HOSTILE_ESCAPED} $15.00 $75.00 $1.50 $18.75 $0.01`);
    expect(html).not.toContain("<script>");
  });
});

describe("renderCheckout", () => {
  const open: CheckoutView = {
    sessionId: "ps_1",
    userId: "u_1",
    name: HOSTILE,
    email: "ada@example.com",
    status: "open",
    balanceUsd: 0,
    amounts: [5, 20, 100],
    action: "/checkout/ps_1/pay",
    returnUrl: "https://app.example.com/billing/stoa-return?tab=2",
    expiresAt: "2026-11-27T18:00:00Z",
  };

  it("shows who pays, the balance, and says no real money moves", () => {
    const html = renderCheckout(open);
    expect(html).not.toContain("<script>");
    expect(one(html, "payer").text).toBe(`${HOSTILE_ESCAPED} · ada@example.com · u_1`);
    const balance = one(html, "balance");
    expect([balance.text, attr(balance.attrs, "data-value")]).toEqual(["$0.00", "0"]);
    expect(one(html, "test-mode").text).toContain("no real money moves");
  });

  it("posts the chosen amount to the action", () => {
    const html = renderCheckout(open);
    const form = one(html, "checkout-form");
    expect([attr(form.attrs, "method"), attr(form.attrs, "action")]).toEqual(["post", "/checkout/ps_1/pay"]);
    const radios = [5, 20, 100].map((n) => one(html, `amount-${n}`).attrs);
    expect(radios.map((a) => [attr(a, "type"), attr(a, "name"), attr(a, "value"), / checked/.test(a)])).toEqual([
      ["radio", "amountUsd", "5", true],
      ["radio", "amountUsd", "20", false],
      ["radio", "amountUsd", "100", false],
    ]);
    expect(html).toContain("> $100.00</label>");
    expect(html).toContain(`<input type="hidden" name="sessionId" value="ps_1">`);
    const pay = one(html, "pay");
    expect([attr(pay.attrs, "type"), pay.text]).toEqual(["submit", "Pay"]);
    expect(attr(one(html, "cancel").attrs, "href")).toBe(
      "https://app.example.com/billing/stoa-return?tab=2&amp;stoa_session_id=ps_1",
    );
    expect(byTestId(html, "status")).toHaveLength(0);
  });

  it("links back only to http(s) return URLs", () => {
    const html = renderCheckout({ ...open, returnUrl: "javascript:alert(document.cookie)" });
    expect(html).not.toMatch(/javascript:/i);
    expect(byTestId(html, "cancel")).toHaveLength(0);
    expect(checkoutReturnHref("javascript:alert(1)", "ps_1")).toBeNull();
    expect(checkoutReturnHref("http://localhost:8787/r?stoa_session_id=ps_1", "ps_1")).toBe(
      "http://localhost:8787/r?stoa_session_id=ps_1",
    );
  });

  it("shows no form for an unsafe action", () => {
    const html = renderCheckout({ ...open, action: "javascript:alert(1)" });
    expect(html).not.toMatch(/javascript:/i);
    expect(byTestId(html, "checkout-form")).toHaveLength(0);
    expect(attr(one(html, "status").attrs, "data-value")).toBe("open");
  });

  it("shows the status and a way back once the session is not open", () => {
    for (const status of ["complete", "expired", "not_required"] as const) {
      const html = renderCheckout({ ...open, status, balanceUsd: 20 });
      expect(byTestId(html, "checkout-form")).toHaveLength(0);
      expect(byTestId(html, "pay")).toHaveLength(0);
      expect(attr(one(html, "status").attrs, "data-value")).toBe(status);
      expect(attr(one(html, "return").attrs, "href")).toBe(
        "https://app.example.com/billing/stoa-return?tab=2&amp;stoa_session_id=ps_1",
      );
      expect(one(html, "balance").text).toBe("$20.00");
    }
    const html = renderCheckout({ ...open, status: "expired", returnUrl: "javascript:alert(1)" });
    expect(html).not.toMatch(/javascript:/i);
    expect(byTestId(html, "return")).toHaveLength(0);
    expect(one(html, "return-missing").text).toContain("no valid address");
  });
});

describe("renderMessage", () => {
  it("shows an escaped title and text with the status", () => {
    const html = renderMessage("Not found", `No member ${HOSTILE}.`, 404);
    expect(html).not.toContain("<script>");
    expect(one(html, "status-code").text).toBe("404");
    expect(one(html, "message").text).toBe(`No member ${HOSTILE_ESCAPED}.`);
    expect(html).toContain("<title>404 Not found · Stoa (local)</title>");
    expect(byTestId(renderMessage("Expired", "Gone."), "status-code")).toHaveLength(0);
  });
});
