/**
 * Options of `new Stoa()` and `stoa.fetch()`, resolved and checked early:
 * bad configuration throws a `StoaConfigError` that says how to fix it.
 */
import { checkUserId } from "./api/user-id.ts";
import type { QueueProducer } from "./delivery/queue-producer.ts";
import { StoaConfigError } from "./errors.ts";
import { isStoaProvider, StoaProvider } from "./providers/index.ts";
import { type FetchLike, globalFetch, readEnv, type WaitUntil } from "./runtime.ts";

/** The Stoa API's base URL when neither the option nor `STOA_BASE_URL` sets one. */
export const DEFAULT_BASE_URL = "https://www.onstoa.com/api";

/** Options of `new Stoa()`. Every one is optional. */
export interface StoaOptions {
  /** Stoa API key. Default: `STOA_API_KEY` from the environment (`process.env`, `Deno.env`). */
  apiKey?: string;
  /** Stoa API base URL. Default: `STOA_BASE_URL`, then `https://www.onstoa.com/api`. */
  baseUrl?: string;
  /** The fetch used to call the Stoa API. Default: the global `fetch`. */
  fetch?: FetchLike;
  /**
   * Hears of everything that went wrong in the background: events that could
   * not be delivered (attached to the error), responses that could not be
   * metered exactly. Default: a one-line `console.error`, with no secrets.
   * May be async: what it throws, or the promise it returns rejects with, is
   * swallowed.
   */
  onError?: (error: Error) => unknown;
  /**
   * The longest one Stoa API operation may take, retries, waits and timeouts
   * included. Default and maximum: 25 000 ms, so delivery fits in a Workers
   * `waitUntil`.
   */
  retryBudgetMs?: number;
  /**
   * When Stoa cannot answer before a call (a spend hold, the price table or
   * the chargeability check: Stoa down, slower than `chargeabilityTimeoutMs`):
   * `allow` (default) lets the call go ahead, metered, and tells `onError`;
   * `block` refuses it with reason `unavailable`.
   */
  whenUnavailable?: "allow" | "block";
  /** Longest wait for Stoa before a call: a spend hold, the price table, the chargeability check (default 2 000 ms). */
  chargeabilityTimeoutMs?: number;
  /**
   * Spend holds (default on): each call reserves its worst case from its
   * user's hold before it is sent, so no user spends more than they have,
   * however many calls run at once. `false` keeps the chargeability check alone.
   */
  spend?: SpendOptions | false;
  /** Signs member registrations. Default: `STOA_REGISTRATION_SECRET` from the environment. */
  registrationSecret?: string;
  /**
   * A durable queue for usage events: a Cloudflare Queues producer binding
   * (`env.STOA_EVENTS`) or `denoKvOutbox(kv)`. Each request then only hands
   * its events to the queue (one `sendBatch`, kept alive by its `waitUntil`),
   * and a consumer delivers them (`stoa.handleQueue`, `stoa.handleDenoQueue`),
   * through Stoa outages and the end of the isolate. If the queue refuses,
   * the events are delivered directly and `onError` is told. Default: none
   * (delivery from memory).
   */
  outbox?: QueueProducer;
}

/** Options of spend holds (`new Stoa({ spend })`). */
export interface SpendOptions {
  /**
   * The hold asked for, in USD (default 0.5): a request asks for
   * `max(holdUsd, 4 × the call's worst case)`, and Stoa grants as much of it
   * as the user has available. Larger holds mean fewer round trips; smaller
   * ones leave more of a user's balance to their other instances.
   */
  holdUsd?: number;
  /** Lifetime asked for each hold, 10 to 900 seconds (default 120). */
  holdTtlSeconds?: number;
}

/** Spend-hold settings, resolved. */
export interface ResolvedSpend {
  holdUsd: number;
  holdTtlSeconds: number;
}

/** Default hold size, in USD. */
export const DEFAULT_HOLD_USD = 0.5;

/** Default hold lifetime, in seconds. */
export const DEFAULT_HOLD_TTL_SECONDS = 120;

/** Resolves `spend` (undefined: on, with defaults). @throws {StoaConfigError} for a bad value. */
export function resolveSpend(spend: StoaOptions["spend"]): ResolvedSpend | false {
  if (spend === false) return false;
  if (spend !== undefined && (typeof spend !== "object" || spend === null)) {
    throw new StoaConfigError("spend must be false or { holdUsd?, holdTtlSeconds? }.");
  }
  const holdUsd = spend?.holdUsd ?? DEFAULT_HOLD_USD;
  if (typeof holdUsd !== "number" || !(holdUsd > 0) || holdUsd > 10_000) {
    throw new StoaConfigError("spend.holdUsd must be a number of USD above 0 and at most 10 000 (default 0.5).");
  }
  const holdTtlSeconds = spend?.holdTtlSeconds ?? DEFAULT_HOLD_TTL_SECONDS;
  if (!Number.isInteger(holdTtlSeconds) || holdTtlSeconds < 10 || holdTtlSeconds > 900) {
    throw new StoaConfigError("spend.holdTtlSeconds must be a whole number of seconds from 10 to 900 (default 120).");
  }
  return { holdUsd: Math.round(holdUsd * 1e9) / 1e9, holdTtlSeconds };
}

/** Options of `stoa.registerMember()`. */
export interface RegisterMemberOptions {
  /** Default: the `Stoa` option, then `STOA_REGISTRATION_SECRET`. */
  registrationSecret?: string;
  /** The app's own id of the user. */
  userId: string;
  /** The user's email. */
  email: string;
  /** The user's display name. */
  name?: string;
  /** The user's avatar URL. */
  avatarUrl?: string;
}

/** Options of `stoa.fetch()` and `stoa.wrap()`. */
export interface StoaFetchOptions {
  /** Which provider the client talks to. */
  provider: StoaProvider | `${StoaProvider}`;
  /** The app's own id of the user to bill: 1 to 256 UTF-16 code units of well-formed text, not `.` or `..`. */
  userId: string;
  /** Keeps delivery alive after the response (Workers' `ctx.waitUntil`, Vercel's; Deno has none: call `stoa.flush()`). */
  waitUntil?: WaitUntil;
  /** Labels copied onto every event: at most 16 keys of ≤ 40 characters, values of ≤ 500 characters. */
  metadata?: Record<string, string>;
  /** The fetch that reaches the provider. Default: the global `fetch`. */
  fetch?: FetchLike;
  /**
   * Gate each metered call (default true): reserve its worst case from the
   * user's spend hold, or, with `spend: false`, ask whether the user can be
   * charged. `false` sends the call with no check (it is still metered).
   */
  checkChargeability?: boolean;
}

/**
 * Resolved client settings: the one place where the key, the base URL and
 * the default fetch are read and checked. The API client takes them as is.
 */
export interface ResolvedConfig {
  /** A non-empty key of printable ASCII. */
  apiKey: string;
  /** An absolute http(s) URL without trailing slashes. */
  baseUrl: string;
  /** The injected fetch, else {@link globalFetch}. */
  fetch: FetchLike;
  /** At most {@link MAX_RETRY_BUDGET_MS}. */
  retryBudgetMs: number;
}

/** The contract's cap on one operation's retries, waits and timeouts. */
export const MAX_RETRY_BUDGET_MS = 25_000;

/**
 * Resolves `new Stoa()` options against the environment.
 *
 * @throws {StoaConfigError} for a missing or malformed key (never echoed), a
 * base URL that is not absolute http(s), or a non-positive retry budget.
 */
export function resolveConfig(options: StoaOptions): ResolvedConfig {
  const apiKey: unknown = options.apiKey ?? readEnv("STOA_API_KEY");
  if (typeof apiKey !== "string" || apiKey === "") {
    throw new StoaConfigError(
      "No Stoa API key: pass `new Stoa({ apiKey })` (on Workers: `apiKey: env.STOA_API_KEY`) or set STOA_API_KEY in the environment.",
    );
  }
  if (!/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new StoaConfigError(
      "The Stoa API key has spaces or characters outside ASCII: check STOA_API_KEY for a stray newline or quote.",
    );
  }
  const baseUrl: unknown = options.baseUrl ?? readEnv("STOA_BASE_URL") ?? DEFAULT_BASE_URL;
  let url: URL | undefined;
  try {
    url = new URL(String(baseUrl));
  } catch {
    // reported below
  }
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:")) {
    // the URL itself is not echoed: it may carry credentials
    const got = url === undefined ? "a relative or malformed URL" : `an ${url.protocol} URL`;
    throw new StoaConfigError(`baseUrl must be an absolute http(s) URL such as ${DEFAULT_BASE_URL}; got ${got}.`);
  }
  const budget = options.retryBudgetMs ?? MAX_RETRY_BUDGET_MS;
  if (typeof budget !== "number" || !(budget > 0)) {
    throw new StoaConfigError("retryBudgetMs must be a positive number of milliseconds (at most 25 000).");
  }
  return {
    apiKey,
    baseUrl: String(baseUrl).replace(/\/+$/, ""),
    fetch: options.fetch ?? globalFetch,
    retryBudgetMs: Math.min(budget, MAX_RETRY_BUDGET_MS),
  };
}

/** Checks `stoa.fetch()` options and returns the provider id (its module loads on the first call). */
export function checkFetchOptions(options: StoaFetchOptions): StoaProvider {
  if (typeof options !== "object" || options === null) {
    throw new StoaConfigError("stoa.fetch() needs options: { provider, userId }.");
  }
  const provider = options.provider;
  if (!isStoaProvider(provider)) {
    throw new StoaConfigError(
      `Unknown provider ${JSON.stringify(options.provider)}: use one of ${Object.keys(StoaProvider)
        .map((name) => `StoaProvider.${name}`)
        .join(", ")}.`,
    );
  }
  checkUserId(options.userId, "stoa.fetch()");
  if (options.waitUntil !== undefined && typeof options.waitUntil !== "function") {
    throw new StoaConfigError("waitUntil must be a function, e.g. ctx.waitUntil.bind(ctx).");
  }
  checkMetadata(options.metadata);
  if (options.checkChargeability !== undefined && typeof options.checkChargeability !== "boolean") {
    throw new StoaConfigError("checkChargeability must be true or false.");
  }
  return provider;
}

function checkMetadata(metadata: Record<string, string> | undefined): void {
  if (metadata === undefined) return;
  const entries = Object.entries(metadata);
  if (entries.length > 16) throw new StoaConfigError("metadata takes at most 16 keys.");
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > 40) {
      throw new StoaConfigError(`metadata key ${JSON.stringify(key.slice(0, 40))} must be 1 to 40 characters.`);
    }
    if (typeof value !== "string" || value.length > 500) {
      throw new StoaConfigError(`metadata value of ${JSON.stringify(key)} must be a string of at most 500 characters.`);
    }
  }
}
