/**
 * The shape of the Stoa API client that the rest of the SDK talks through.
 * One implementation (`client.ts`) knows the wire contract.
 */

/** A `waitUntil` as Workers, Vercel and Deno Deploy hand it out. */
export type WaitUntil = (promise: Promise<unknown>) => void;

/** The `fetch` signature this package accepts and hands out. */
export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/** Options of one Stoa API call. */
export interface ApiRequestOptions {
  /** JSON body (POST). */
  body?: unknown;
  /** Reused on every retry of the same operation. Required for POST. */
  idempotencyKey?: string;
  /** Retry what the contract calls retryable (default true). */
  retry?: boolean;
  /** Abort the whole operation. */
  signal?: AbortSignal;
  /** Per-attempt timeout in ms (default 10 000). */
  timeoutMs?: number;
}

/** The Stoa API client. */
export interface ApiClient {
  /**
   * Calls `method path` and returns the parsed JSON of a 2xx answer. Throws
   * `StoaAPIError` for a non-2xx answer (after retries, when retryable) and
   * `StoaConnectionError` when the service cannot be reached in the budget.
   */
  request<T>(method: "GET" | "POST", path: string, options?: ApiRequestOptions): Promise<T>;
}
