/**
 * The error classes of `@onstoa/sdk`. Every error is a `StoaError` whose
 * `code` is one of the package's own codes, a literal per class, so a
 * `switch (error.code)` is exhaustive. The Stoa API's own error code travels
 * apart, as `StoaAPIError.apiCode`.
 */
import { type ChargeMarker, inErrorChain, markerOf } from "./charge-marker.ts";
import type { UsageEvent } from "./usage.ts";

/**
 * The `code` of a `StoaError`: the package's own codes, one per class. The
 * Stoa API's code (`invalid_api_key`, …) is `StoaAPIError.apiCode`.
 */
export type StoaErrorCode =
  | "config_error"
  | "api_error"
  | "connection_error"
  | "delivery_error"
  | "stream_error"
  | "charge_required"
  | "store_full"
  | "store_error";

/**
 * Base class of every error raised by `@onstoa/sdk`; each subclass declares
 * its own literal `code`.
 *
 * @example
 * ```ts
 * function describe(error: StoaError): string {
 *   switch (error.code) {
 *     case "config_error": return "fix the configuration";
 *     case "api_error": return `Stoa said ${(error as StoaAPIError).apiCode}`;
 *     case "connection_error": return "Stoa unreachable";
 *     case "delivery_error": return "events not stored";
 *     case "stream_error": return "metered by estimate";
 *     case "charge_required": return "send the user to pay";
 *     case "store_full": return "the resume store refused a record";
 *     case "store_error": return "the resume store failed";
 *   }
 * }
 * ```
 */
export class StoaError extends Error {
  /** A stable machine-readable code, one per class. */
  readonly code: StoaErrorCode;

  constructor(message: string, code: StoaErrorCode, options?: { cause?: unknown }) {
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

/**
 * The Stoa API answered with an error (`{"error":{"type","code","message"}}`),
 * or with a 2xx body that is not what the contract says. `code` is always
 * `api_error`; the API's own code is `apiCode`.
 */
export class StoaAPIError extends StoaError {
  override readonly code = "api_error" as const;
  /** HTTP status. */
  readonly status: number;
  /** The contract's error type: `invalid_request`, `authentication`, `not_found`, `rate_limited`, `server_error`. */
  readonly type: string | undefined;
  /**
   * The error envelope's code: `invalid_api_key`, `invalid_request`,
   * `invalid_return_url`, `invalid_registration_token`,
   * `idempotency_key_reused`, …; `invalid_response` (the SDK's, never sent by
   * the API) for a 2xx answer that is not what the contract says; `undefined`
   * when the answer carried none (a proxy's HTML page).
   */
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
    this.apiCode = init.apiCode === "" ? undefined : init.apiCode;
    this.requestId = init.requestId;
  }
}

/** The Stoa API could not be reached, or did not answer in time. */
export class StoaConnectionError extends StoaError {
  override readonly code = "connection_error" as const;

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
  override readonly code = "delivery_error" as const;
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
  override readonly code = "stream_error" as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "stream_error", options);
    this.name = "StoaStreamError";
  }
}

/**
 * The reasons a chargeability answer may give (`stoa-api.md`, "Chargeability"):
 * the one list, which the gate reads answers against.
 */
export const CHARGE_REASONS = ["payment_required", "insufficient_balance", "member_suspended"] as const;

/** Why a user cannot be charged: the contract's reasons, or `unavailable` when the check failed and the app chose to block. */
export type ChargeRequiredReason = (typeof CHARGE_REASONS)[number] | "unavailable";

const REASONS: readonly ChargeRequiredReason[] = [...CHARGE_REASONS, "unavailable"];

/**
 * The user cannot be charged, so the provider was not called. Start a
 * payment session (`stoa.createPaymentSession`) and retry after it completes.
 *
 * Provider SDKs wrap what a `fetch` returns in their own error classes, so
 * `error instanceof StoaChargeRequiredError` also recognises the SDK error
 * built from the meter's synthetic 402 (openai's `APIError`, Anthropic's
 * `PaymentRequiredError`, the AI SDK's `APICallError`, and errors that carry
 * one of those as `cause`). `StoaChargeRequiredError.from(error)` returns the
 * typed error with its fields, or null.
 *
 * @example
 * ```ts
 * try {
 *   await openai.chat.completions.create({ … });
 * } catch (error) {
 *   const blocked = StoaChargeRequiredError.from(error);
 *   if (blocked) return redirect((await stoa.createPaymentSession({ userId: blocked.userId, returnUrl })).checkoutUrl);
 *   throw error;
 * }
 * ```
 */
export class StoaChargeRequiredError extends StoaError {
  override readonly code = "charge_required" as const;
  /** The app's id of the user who cannot be charged. */
  readonly userId: string;
  /** Why: the contract's reason, or `unavailable`. */
  readonly reason: ChargeRequiredReason;
  /** HTTP status of the synthetic response the SDKs see. */
  readonly status = 402;
  /** The blocked call's worst case in USD, when a spend hold for it was refused. */
  readonly requiredUsd: number | undefined;
  /** What the user had available in USD, when Stoa said. */
  readonly availableUsd: number | undefined;

  constructor(
    userId: string,
    reason: ChargeRequiredReason,
    options?: { cause?: unknown; requiredUsd?: number | undefined; availableUsd?: number | undefined },
  ) {
    super(chargeRequiredMessage(userId, reason), "charge_required", options);
    this.name = "StoaChargeRequiredError";
    this.userId = userId;
    this.reason = reason;
    this.requiredUsd = options?.requiredUsd;
    this.availableUsd = options?.availableUsd;
  }

  /**
   * True for real instances, for provider-SDK errors made from the meter's
   * synthetic 402, and for an SDK's error that wraps a real instance as its
   * `cause` (Mistral's SDK, to which the meter throws the error itself).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: a subclass must test its own prototype
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: only the class itself recognises SDK errors
    return this === StoaChargeRequiredError && blockIn(value) !== undefined;
  }

  /** The typed error for `error` (itself, or one rebuilt from a provider SDK's error), or null. */
  static from(error: unknown): StoaChargeRequiredError | null {
    const found = blockIn(error);
    if (found === undefined) return null;
    if (isBlock(found)) return found;
    return new StoaChargeRequiredError(found.userId, found.reason, {
      cause: error,
      requiredUsd: found.requiredUsd,
      availableUsd: found.availableUsd,
    });
  }
}

/** A real `StoaChargeRequiredError` (not an SDK error the class only recognises). */
function isBlock(value: unknown): value is StoaChargeRequiredError {
  return Function.prototype[Symbol.hasInstance].call(StoaChargeRequiredError, value);
}

/**
 * A block in `error`'s chain: a real instance (itself, or wrapped as a
 * `cause` by an SDK whose fetch threw it, as Mistral's does), or the marker
 * of the meter's synthetic 402 on an SDK's error.
 */
function blockIn(error: unknown): StoaChargeRequiredError | ChargeMarker<ChargeRequiredReason> | undefined {
  return inErrorChain(error, (value) => (isBlock(value) ? value : markerOf(value, REASONS)));
}

/** The message of a charge-required error: no secrets, a hint. */
export function chargeRequiredMessage(userId: string, reason: ChargeRequiredReason): string {
  const why =
    reason === "unavailable"
      ? "the chargeability check could not be made and whenUnavailable is 'block'"
      : `the user cannot be charged (${reason})`;
  return `Stoa blocked the call for user ${JSON.stringify(userId)}: ${why}. Start a payment with stoa.createPaymentSession().`;
}
