/**
 * Options of `new Stoa()` and `stoa.fetch()`, resolved and checked early:
 * bad configuration throws a `StoaConfigError` that says how to fix it.
 */
import { checkUserId } from "./api/user-id.ts";
import { StoaConfigError } from "./errors.ts";
import { providerFor, StoaProvider } from "./providers/index.ts";
import type { Provider } from "./providers/types.ts";
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
   * When the chargeability check cannot be made (Stoa down, slower than
   * `chargeabilityTimeoutMs`): `allow` (default) lets the call go ahead,
   * metered, and tells `onError`; `block` refuses it with reason `unavailable`.
   */
  whenUnavailable?: "allow" | "block";
  /** Longest wait for the chargeability check (default 2 000 ms). */
  chargeabilityTimeoutMs?: number;
  /** Signs member registrations. Default: `STOA_REGISTRATION_SECRET` from the environment. */
  registrationSecret?: string;
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
  /** Keeps delivery alive after the response (Workers' `ctx.waitUntil`, Vercel's, Deno Deploy's). */
  waitUntil?: WaitUntil;
  /** Labels copied onto every event: at most 16 keys of ≤ 40 characters, values of ≤ 500 characters. */
  metadata?: Record<string, string>;
  /** The fetch that reaches the provider. Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Ask Stoa whether the user can be charged before each metered call (default true). */
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

/** Checks `stoa.fetch()` options and returns the provider module. */
export function checkFetchOptions(options: StoaFetchOptions): Provider {
  if (typeof options !== "object" || options === null) {
    throw new StoaConfigError("stoa.fetch() needs options: { provider, userId }.");
  }
  const provider = providerFor(options.provider);
  if (provider === undefined) {
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
