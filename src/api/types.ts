/**
 * The shape of the Stoa API client that the rest of the SDK talks through.
 * One implementation (`client.ts`) knows the wire contract; each resource
 * file (`payments.ts`, `members.ts`, …) reads its own answer.
 */

/** Options of one Stoa API call. */
export interface ApiRequestOptions {
  /** JSON body (POST). */
  body?: unknown;
  /** The body already serialised as JSON (POST), sent as it is; takes the place of `body`. */
  json?: string;
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
   * Calls `method path` and returns the parsed JSON of a 2xx answer, not yet
   * checked: the resource that asked reads it. A 2xx whose body is empty or
   * not JSON is `undefined`, not an error: the call succeeded (a usage batch
   * was stored); a resource that needs an answer refuses `undefined` itself.
   * Throws `StoaAPIError` for a non-2xx answer (after retries, when
   * retryable) and `StoaConnectionError` when the service cannot be reached
   * in the budget.
   */
  request(method: "GET" | "POST", path: string, options?: ApiRequestOptions): Promise<unknown>;
}
