/**
 * Tiny readers for untrusted JSON (provider bodies): a missing value (absent
 * or `null`) is told apart from a malformed one, which reads as `NaN` so the
 * fault travels through arithmetic to where it is reported (`buildEvent`).
 */

/** A plain object view of `value`, or an empty one. */
export function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** True when `value` is a plain object. */
export function isObj(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A count: a non-negative safe integer as it is; missing (`undefined` or
 * `null`) is 0; anything else (`"100"`, `-5`, `true`, `1.5`, `1e300`) is
 * malformed and reads as `NaN`.
 */
export function count(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : Number.NaN;
}

/** A non-empty string, else undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * An amount of money: a finite non-negative number as it is; missing
 * (`undefined` or `null`) is undefined; anything else is malformed and reads as `NaN`.
 */
export function money(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : Number.NaN;
}
