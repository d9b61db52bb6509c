/**
 * Text for the pages: HTML escaping, safe link targets, and numbers, money
 * and times formatted the same way on every runtime (no locale, UTC only).
 * Everything here returns plain text; escape it before putting it in HTML.
 */
import type { Bucket } from "./types.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** `value` as text safe in HTML content and in quoted attributes. */
export function escapeHtml(value: string | number | boolean | null | undefined): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** An absolute `http:`/`https:` URL, normalised, or null for anything else (`javascript:`, `data:`, relative, unparsable). */
export function safeHttpUrl(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * A same-origin path (`/…`, not `//…`, no backslash or whitespace a browser
 * would turn into another origin), or null.
 */
export function safePath(path: string): string | null {
  return /^\/(?!\/)/.test(path) && !/[\\\s]/.test(path) ? path : null;
}

/** The path `${base}${path}` of a project page, or null when `base` is not a safe path prefix. */
export function pageHref(base: string, path: string): string | null {
  return base === "" ? safePath(path) : safePath(`${base}${path}`);
}

/** Digits of a non-negative integer string with a comma every three. */
function group(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** An integer count with thousands separators: `1234567` → `1,234,567`. Not finite → `—`. */
export function formatTokens(value: number): string {
  if (!Number.isFinite(value)) return "—";
  const rounded = Math.round(value);
  return `${rounded < 0 ? "-" : ""}${group(String(Math.abs(rounded)))}`;
}

/** A count in at most four characters for axis labels: `950`, `1.2k`, `34M`. */
export function formatCompact(value: number): string {
  if (!Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  const units: [number, string][] = [
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const scaled = value / size;
      const text = Math.abs(scaled) >= 10 ? String(Math.round(scaled)) : scaled.toFixed(1).replace(/\.0$/, "");
      return `${text}${unit}`;
    }
  }
  return formatTokens(value);
}

/**
 * USD for people: from $1 up, cents, or up to 6 decimals when there is more
 * (`$1,234.50`, `$4.999879`); below that up to 6 (`$0.000123`, `$0.50`), `<$0.000001` for a positive amount too small for
 * that. Negative amounts get a leading `-`. Not finite → `—`.
 */
export function formatUsd(value: number): string {
  if (!Number.isFinite(value)) return "—";
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  if (abs >= 1) {
    // cents, or up to 6 decimals when there is more (a balance after tiny debits: $4.999879)
    const [whole = "0", decimals = "00"] = abs
      .toFixed(6)
      .replace(/(\.\d\d\d*?)0+$/, "$1")
      .split(".");
    return `${sign}$${group(whole)}.${decimals}`;
  }
  const fixed = abs.toFixed(6);
  if (abs > 0 && fixed === "0.000000") return sign === "" ? "<$0.000001" : "$0.00";
  const trimmed = fixed.replace(/(\.\d\d\d*?)0+$/, "$1");
  return `${trimmed === "0.00" ? "" : sign}$${trimmed}`;
}

/**
 * A balance in dollars and cents, rounded to the nearest cent (`$4.999879` →
 * `$5.00`, `1234.5` → `$1,234.50`); a negative amount keeps its `-` even when
 * it rounds to zero (`-$0.00`). Not finite → `—`. The exact amount goes in a
 * tooltip ({@link formatUsd}).
 */
export function formatCents(value: number): string {
  if (!Number.isFinite(value)) return "—";
  const cents = Math.round(Math.abs(value) * 100);
  return `${value < 0 ? "-" : ""}$${group(String(Math.floor(cents / 100)))}.${String(cents % 100).padStart(2, "0")}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `2026-11-27 18:00 UTC` (or with seconds); an unparsable time is returned as given. */
export function formatTime(iso: string, precision: "minute" | "second" = "minute"): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const text = date.toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, precision === "second" ? 19 : 16)} UTC`;
}

/** The short label of a chart bucket (UTC): `Nov 27` for a day, `Nov 27 18:00` for an hour, `18:05` for a minute. */
export function formatBucket(iso: string, bucket: Bucket): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const day = `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}`;
  const hh = String(date.getUTCHours()).padStart(2, "0");
  if (bucket === "minute") return `${hh}:${String(date.getUTCMinutes()).padStart(2, "0")}`;
  return bucket === "day" ? day : `${day} ${hh}:00`;
}

const REASONS: Record<string, string> = {
  payment_required: "payment required",
  insufficient_balance: "insufficient balance",
  member_suspended: "member suspended",
};

/** A chargeability reason code in words; an unknown code is returned as given. */
export function formatReason(reason: string): string {
  return REASONS[reason] ?? reason;
}

const COST_SOURCES: Record<string, string> = {
  provider: "provider",
  price_table: "price table",
  unpriced: "unpriced",
};

/** Where an event's cost came from, in words. */
export function formatCostSource(source: string): string {
  return COST_SOURCES[source] ?? source;
}
