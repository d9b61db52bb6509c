/**
 * Retries of Stoa API calls (`stoa-api.md`, "Common rules"): which failures
 * earn another attempt, how long to wait before it, and one loop that keeps
 * the whole operation, attempts and waits alike, inside a fixed budget.
 */

/** The numbers of the retry policy. */
export interface RetryPolicy {
  /** Attempt `n` (from 0) waits a uniform random time below `baseDelayMs * 2^n`. */
  baseDelayMs: number;
  /** Cap of one wait, `retry-after` included. */
  maxDelayMs: number;
  /** Cap of the whole operation: every attempt's time and every wait. */
  budgetMs: number;
}

/** Where the loop gets time and chance from; injectable for deterministic tests. */
export interface RetryClock {
  /** A number in [0, 1). */
  random(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Milliseconds since an arbitrary origin. */
  now(): number;
}

/**
 * 500 ms base (stripe-node's), 10 s cap of one wait and 25 s for everything,
 * so one delivery fits in the ~30 s a Workers `waitUntil` is kept alive.
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { baseDelayMs: 500, maxDelayMs: 10_000, budgetMs: 25_000 };

/** Resolves after `ms`, or rejects with `signal.reason` as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The clock of production code. */
export const SYSTEM_CLOCK: Readonly<RetryClock> = { random: Math.random, sleep, now: Date.now };

/** `408`, `429` and `5xx` are worth another attempt; other statuses are final. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * True for an error answer that another attempt would not change and that
 * is no outage: a `4xx` other than `408` and `429` (a bad key, a bad
 * request). Before a call it is the app's bug, not Stoa being unavailable.
 */
export function isRefusalStatus(status: number): boolean {
  return status >= 400 && status <= 499 && !isRetryableStatus(status);
}

/** Full jitter: uniform in [0, min(maxDelayMs, baseDelayMs · 2^attempt)), whole milliseconds. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Reads a `retry-after` header, delay-seconds or HTTP-date, as milliseconds
 * from `now`. A date in the past is 0; an absent or unreadable value is
 * `undefined`.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before attempt `attempt + 1`: the larger of the server's
 * `retry-after` and the backoff (as stripe-node does), capped at
 * `maxDelayMs`. A `retry-after: 0` (or any small value) never turns the
 * backoff off, so a server that says "now" cannot draw a retry storm.
 */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: RetryPolicy,
  random: () => number,
): number {
  return Math.min(Math.max(retryAfterMs ?? 0, backoffDelay(attempt, policy, random)), policy.maxDelayMs);
}

/** What the loop should do with a failed attempt. */
export interface RetryVerdict {
  retryable: boolean;
  /** The server's `retry-after`, in ms, when it sent one. */
  retryAfterMs?: number | undefined;
}

/** Options of {@link withRetries}. */
export interface RetryLoopOptions extends RetryPolicy, RetryClock {
  /** Cap of one attempt; the loop lowers it to what is left of the budget. */
  attemptTimeoutMs: number;
  /** Aborts a wait (the attempt watches it itself). */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the budget is spent.
 * Each attempt is given its timeout: the smaller of `attemptTimeoutMs` and
 * what is left of the budget. A wait that would end past the budget is not
 * started; the last error is thrown instead.
 */
export async function withRetries<T>(
  attempt: (timeoutMs: number) => Promise<T>,
  classify: (error: unknown) => RetryVerdict,
  options: RetryLoopOptions,
): Promise<T> {
  const deadline = options.now() + options.budgetMs;
  for (let n = 0; ; n++) {
    try {
      return await attempt(Math.max(0, Math.min(options.attemptTimeoutMs, deadline - options.now())));
    } catch (error) {
      const verdict = classify(error);
      if (!verdict.retryable) throw error;
      const wait = retryDelay(n, verdict.retryAfterMs, options, options.random);
      if (options.now() + wait >= deadline) throw error;
      await options.sleep(wait, options.signal);
      if (options.now() >= deadline) throw error;
    }
  }
}
