/**
 * The Stoa API client: the one file that knows the wire contract of
 * `stoa-api.md` (headers, idempotency, the error envelope, what to retry).
 */
import { StoaAPIError, StoaConnectionError } from "../errors.ts";
import { detectRuntime, type FetchLike, globalFetch } from "../runtime.ts";
import { VERSION } from "../version.ts";
import { createRedactor, type Redactor } from "./redact.ts";
import {
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  parseRetryAfter,
  type RetryClock,
  type RetryPolicy,
  SYSTEM_CLOCK,
  withRetries,
} from "./retry.ts";
import type { ApiClient, ApiRequestOptions } from "./types.ts";

/** The contract version this client speaks, sent as `stoa-version`. */
export const STOA_API_VERSION = "2026-12-01";

/** Default cap of one attempt. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Options of {@link createApiClient}. */
export interface ApiClientOptions {
  /** The API key as `resolveConfig` resolved and checked it. Never appears in an error or a log. */
  apiKey: string;
  /** The base URL as `resolveConfig` resolved it: absolute, without trailing slashes. */
  baseUrl: string;
  /** The `fetch` to call Stoa with, called without a `this`. Default: {@link globalFetch}. */
  fetch?: FetchLike | undefined;
  /** Default cap of one attempt, in ms (10 000). */
  timeoutMs?: number | undefined;
  /** Overrides of the retry policy and clock (tests). */
  retry?: Partial<RetryPolicy & RetryClock> | undefined;
}

/**
 * Creates the Stoa API client over settings `resolveConfig` has checked
 * (it checks nothing again). A `POST` without `idempotencyKey` gets a
 * random one, generated once per call and reused on each of its retries.
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const { apiKey, baseUrl: base } = options;
  const fetchFn = options.fetch ?? globalFetch;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const loop = { ...DEFAULT_RETRY_POLICY, ...SYSTEM_CLOCK, ...options.retry };
  const sdk = `stoa-ts/${VERSION} (${detectRuntime()})`;
  const redact = createRedactor([apiKey]);
  const retryAfters = new WeakMap<StoaAPIError, number>();

  async function attempt(url: string, init: RequestInit, timeoutMs: number, signal: AbortSignal | undefined) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });

    const unreachable = (cause: unknown) => {
      if (signal?.aborted) return signal.reason;
      const why = timedOut ? `did not answer within ${timeoutMs} ms` : "could not be reached";
      return new StoaConnectionError(redact(`Stoa API ${why} (${init.method} ${url}).`), {
        cause: redact.cause(cause),
      });
    };
    try {
      let response: Response;
      let text: string;
      try {
        response = await fetchFn(url, { ...init, signal: controller.signal });
      } catch (cause) {
        throw unreachable(cause);
      }
      try {
        text = await response.text();
      } catch (cause) {
        throw unreachable(cause);
      }
      if (!response.ok) {
        const error = apiError(response, text, redact);
        const retryAfter = parseRetryAfter(response.headers.get("retry-after"), loop.now());
        if (retryAfter !== undefined) retryAfters.set(error, retryAfter);
        throw error;
      }
      // A 2xx means the call succeeded (for usage events: stored), whatever its
      // body says; a body that is empty or not JSON reads as `undefined`, and
      // the resource that asked decides whether it needed one.
      try {
        // every string of the answer, so that an echoed key cannot travel on (in a `rejected` entry, say)
        return text === ""
          ? undefined
          : JSON.parse(text, (_key, value: unknown) => (typeof value === "string" ? redact(value) : value));
      } catch {
        return undefined;
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  return {
    async request(method: "GET" | "POST", path: string, request: ApiRequestOptions = {}): Promise<unknown> {
      const url = `${base}/${path.replace(/^\/+/, "")}`;
      const headers: Record<string, string> = {
        authorization: `Bearer ${apiKey}`,
        "stoa-version": STOA_API_VERSION,
        "x-stoa-sdk": sdk,
      };
      let body: string | undefined = request.json;
      if (body === undefined && request.body !== undefined) body = JSON.stringify(request.body);
      if (body !== undefined) headers["content-type"] = "application/json";
      if (method === "POST") headers["idempotency-key"] = request.idempotencyKey ?? crypto.randomUUID();
      const init: RequestInit = { method, headers, body };
      const { signal } = request;

      const classify = (error: unknown) => {
        if (request.retry === false || signal?.aborted) return { retryable: false };
        if (error instanceof StoaConnectionError) return { retryable: true };
        if (error instanceof StoaAPIError) {
          return { retryable: isRetryableStatus(error.status), retryAfterMs: retryAfters.get(error) };
        }
        return { retryable: false };
      };
      return withRetries((timeoutMs) => attempt(url, init, timeoutMs, signal), classify, {
        ...loop,
        attemptTimeoutMs: request.timeoutMs ?? defaultTimeoutMs,
        signal,
      });
    },
  };
}

/** The typed error of a non-2xx answer, read from the error envelope when there is one; every string redacted. */
function apiError(response: Response, text: string, redact: Redactor): StoaAPIError {
  let type: string | undefined;
  let code: string | undefined;
  let message: string | undefined;
  try {
    const error = (JSON.parse(text) as { error?: Record<string, unknown> } | null)?.error;
    if (typeof error?.type === "string") type = error.type;
    if (typeof error?.code === "string" && error.code !== "") code = error.code;
    if (typeof error?.message === "string") message = error.message;
  } catch {
    // not JSON: an HTML error page from a proxy, say; the status is all we have
  }
  const what = code === undefined ? "" : ` ${code}`;
  const why = message === undefined ? "" : `: ${message}`;
  return new StoaAPIError(redact(`Stoa API answered ${response.status}${what}${why}`), {
    status: response.status,
    type: redactOptional(type, redact),
    apiCode: redactOptional(code, redact),
    requestId: redactOptional(response.headers.get("x-request-id"), redact),
  });
}

function redactOptional(text: string | null | undefined, redact: Redactor): string | undefined {
  return text == null ? undefined : redact(text);
}
