/**
 * A member's usage summary (`stoa-api.md`, "Usage summary"):
 * `GET /v1/members/{userId}/usage?from=…&to=…`, read into exact numbers,
 * a missing usage field as 0 and a missing cost as `null`.
 */
import { StoaConfigError } from "../errors.ts";
import { emptyUsage, type Usage } from "../usage.ts";
import { count as countOf } from "../util/json.ts";
import { invalidResponse, record } from "./read.ts";
import type { ApiClient } from "./types.ts";
import { checkUserId } from "./user-id.ts";

/** The window of a usage summary. Both default to Stoa's: the last 30 days. */
export interface UsageSummaryOptions {
  /** Start of the window (inclusive): a `Date` or an RFC 3339 string. */
  from?: Date | string | undefined;
  /** End of the window: a `Date` or an RFC 3339 string. */
  to?: Date | string | undefined;
}

/** One provider and model of a usage summary. */
export interface ModelUsage {
  provider: string;
  model: string;
  /** Usage events counted. */
  events: number;
  usage: Usage;
  /** What Stoa billed for them, in USD; `null` when it has no cost for them. */
  costUsd: number | null;
}

/** What a member used over a window, as `GET /v1/members/{userId}/usage` answers. */
export interface UsageSummary {
  userId: string;
  /** RFC 3339, UTC. */
  from: string;
  /** RFC 3339, UTC. */
  to: string;
  /** Usage events counted. */
  events: number;
  usage: Usage;
  /** What Stoa billed, in USD; `null` when it has no cost. */
  costUsd: number | null;
  /** The same, by provider and model. */
  byModel: ModelUsage[];
}

const USAGE_FIELDS = Object.keys(emptyUsage()) as (keyof Usage)[];

/**
 * Reads a member's usage over a window (default: the last 30 days).
 *
 * @throws {StoaConfigError} for a `userId` not of the valid form (`isValidUserId`) or a `from`/`to` that is not a valid date, before anything is sent.
 * @throws {StoaAPIError} when Stoa refuses or answers with something that is not a usage summary.
 * @throws {StoaConnectionError} when Stoa cannot be reached within the retry budget.
 */
export async function getUsageSummary(
  api: ApiClient,
  userId: string,
  options: UsageSummaryOptions = {},
): Promise<UsageSummary> {
  checkUserId(userId, "getUsage()");
  const query = new URLSearchParams();
  for (const name of ["from", "to"] as const) {
    const value = options[name];
    if (value != null) query.set(name, rfc3339(name, value));
  }
  const search = query.toString() === "" ? "" : `?${query}`;
  const answer = await api.request("GET", `/v1/members/${encodeURIComponent(userId)}/usage${search}`);
  return readSummary(answer);
}

/** `value` as RFC 3339 in UTC. */
function rfc3339(name: string, value: Date | string): string {
  const ms = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new StoaConfigError(`getUsage(): ${name} must be a Date or an RFC 3339 time.`);
  return new Date(ms).toISOString();
}

function readSummary(value: unknown): UsageSummary {
  const v = record(value);
  const { userId, from, to } = v;
  if (typeof userId !== "string" || typeof from !== "string" || typeof to !== "string" || !Array.isArray(v.byModel)) {
    throw notSummary();
  }
  return {
    userId,
    from,
    to,
    events: count(v.events),
    usage: readUsage(v.usage),
    costUsd: cost(v.costUsd),
    byModel: v.byModel.map((entry) => {
      const m = record(entry);
      if (typeof m.provider !== "string" || typeof m.model !== "string") throw notSummary();
      return {
        provider: m.provider,
        model: m.model,
        events: count(m.events),
        usage: readUsage(m.usage),
        costUsd: cost(m.costUsd),
      };
    }),
  };
}

function readUsage(value: unknown): Usage {
  const v = record(value);
  const usage = emptyUsage();
  for (const field of USAGE_FIELDS) usage[field] = count(v[field]);
  return usage;
}

/** A count, read as every count is (`util/json.ts`: absent or `null` is 0); a malformed one makes the answer no summary. */
function count(value: unknown): number {
  const read = countOf(value);
  if (Number.isNaN(read)) throw notSummary();
  return read;
}

function cost(value: unknown): number | null {
  if (value == null) return null;
  if (typeof value !== "number" || !Number.isFinite(value)) throw notSummary();
  return value;
}

function notSummary() {
  return invalidResponse("a usage summary");
}
