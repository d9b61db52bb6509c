/**
 * The error classes of `@onstoa/sdk`. Every error is a `StoaError` with a
 * stable string `code`; `switch (error.code)` narrows to the subclass.
 */
import type { UsageEvent } from "./usage.ts";

/** Stable codes of every error this package raises. */
export type StoaErrorCode =
  | "config_error"
  | "api_error"
  | "connection_error"
  | "delivery_error"
  | "stream_error"
  | "charge_required";

/** Base class of every error raised by `@onstoa/sdk`. */
export class StoaError extends Error {
  /** A stable machine-readable code. */
  readonly code: StoaErrorCode | (string & {});

  constructor(message: string, code: StoaErrorCode | (string & {}), options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoaError";
    this.code = code;
  }
}

/** Bad configuration: thrown early, with a hint that says how to fix it. */
export class StoaConfigError extends StoaError {
  override readonly code = "config_error" as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "config_error", options);
    this.name = "StoaConfigError";
  }
}

/** The Stoa API answered with an error (`{"error":{"type","code","message"}}`). */
export class StoaAPIError extends StoaError {
  /** HTTP status. */
  readonly status: number;
  /** The contract's error type: `invalid_request`, `authentication`, `not_found`, `rate_limited`, `server_error`. */
  readonly type: string | undefined;
  /** The contract's error code, e.g. `invalid_api_key`. */
  readonly apiCode: string | undefined;
  /** The `x-request-id` of the Stoa response, when present. */
  readonly requestId: string | undefined;

  constructor(
    message: string,
    init: { status: number; type?: string | undefined; apiCode?: string | undefined; requestId?: string | undefined },
  ) {
    super(message, "api_error");
    this.name = "StoaAPIError";
    this.status = init.status;
    this.type = init.type;
    this.apiCode = init.apiCode;
    this.requestId = init.requestId;
  }
}

/** The Stoa API could not be reached, or did not answer in time. */
export class StoaConnectionError extends StoaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "connection_error", options);
    this.name = "StoaConnectionError";
  }
}

/**
 * Usage events that could not be delivered: rejected by the API, or still
 * failing when the retry budget ran out. They are attached, so nothing is
 * silently lost; hand them to your own store or re-send them later.
 */
export class StoaDeliveryError extends StoaError {
  /** The events that were not stored. */
  readonly events: UsageEvent[];
  /** Per-event rejection reasons, when the API rejected them. */
  readonly rejected: { id: string; code: string; message: string }[];

  constructor(
    message: string,
    events: UsageEvent[],
    options?: { cause?: unknown; rejected?: { id: string; code: string; message: string }[] },
  ) {
    super(message, "delivery_error", options);
    this.name = "StoaDeliveryError";
    this.events = events;
    this.rejected = options?.rejected ?? [];
  }
}

/**
 * A provider response could not be metered exactly (malformed stream, usage
 * missing). The app's call is unaffected; an estimated event is still sent.
 */
export class StoaStreamError extends StoaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "stream_error", options);
    this.name = "StoaStreamError";
  }
}
