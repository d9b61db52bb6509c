/**
 * The pre-flight gate of a metered call: may it go ahead, and under which
 * spend hold? With spend holds (the default) a call reserves its worst case
 * from its user's hold and settles its actual cost when its event is built;
 * with `spend: false`, or against a Stoa that has no holds, the cached
 * chargeability check decides alone.
 */

import type { ApiClient } from "../api/types.ts";
import { type ChargeRequiredReason, StoaAPIError, StoaConnectionError, StoaError } from "../errors.ts";
import type { ChargeabilityGate } from "../gate/chargeability.ts";
import { throwIfRefused } from "../gate/refused.ts";
import type { WaitUntil } from "../runtime.ts";
import type { UsageEvent } from "../usage.ts";
import { unlessAborted } from "../util/abortable.ts";
import type { Turns } from "../util/turns.ts";
import { type Admission, createHoldBook } from "./hold-book.ts";
import { createPriceCache } from "./price-cache.ts";
import { type PriceTable, priceRowFor, usageCostNanos, usdToNanos } from "./price-table.ts";
import { requestBounds, worstCaseNanos } from "./worst-case.ts";

/** A call as the gate sees it before it is sent. */
export interface GatedCall {
  userId: string;
  /** Lowercase provider id, as in events. */
  provider: string;
  /** The requested model, when the request names one. */
  model: string | undefined;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** UTF-8 bytes of the body as sent. */
  bodyBytes: number;
  waitUntil: WaitUntil | undefined;
}

/** The gate's answer. */
export type CallAdmission =
  | {
      allowed: true;
      /** The hold the call spends from, when it has one. */
      holdId: string | undefined;
      /** Replaces the reservation by the event's cost; `delivered` settles when the event is stored (`true`) or not. */
      settle(event: UsageEvent, delivered: Promise<boolean>): void;
      /** Gives the reservation back: the call made no event (it failed, or was not billed). */
      cancel(): void;
    }
  | {
      allowed: false;
      reason: ChargeRequiredReason;
      /** The call's worst case, in USD, when a hold was refused. */
      requiredUsd?: number | undefined;
      /** What the user had available, when Stoa said. */
      availableUsd?: number | undefined;
    };

/** The gate of a `Stoa`. */
export interface CallGate {
  /**
   * Decides on one call: at once when it can (the price table is here and
   * the user's hold has room), else once Stoa has answered. Rejects only
   * with `signal`'s abort, or a `StoaConfigError` when Stoa refuses the
   * request itself.
   */
  admit(call: GatedCall, signal?: AbortSignal | null): CallAdmission | Promise<CallAdmission>;
  /** Retires every hold; resolves when the idle ones are released. */
  flush(): Promise<void>;
}

/** Options of {@link createSpendGate}. */
export interface SpendGateOptions {
  api: ApiClient;
  /** Decides alone when Stoa has no holds (a `2026-11-01` server). */
  chargeability: ChargeabilityGate;
  onError(error: Error): void;
  whenUnavailable: "allow" | "block";
  /** Longest wait of a call for its admission: the price table and a hold together. */
  timeoutMs: number;
  /** Turns shared with the other requests made before a call. */
  turns: Turns;
  /** See `StoaOptions.spend`. */
  holdUsd: number;
  holdTtlSeconds: number;
  keepAlive(work: Promise<unknown>, waitUntil: WaitUntil | undefined): void;
  now?: () => number;
}

const NOTHING = () => {};
const UNHELD: CallAdmission = { allowed: true, holdId: undefined, settle: NOTHING, cancel: NOTHING };

/** The chargeability check alone, as a call gate (`spend: false`). */
export function chargeabilityCallGate(gate: ChargeabilityGate): CallGate {
  return {
    async admit(call, signal) {
      const verdict = await gate.check(call.userId, signal);
      return verdict.allowed ? UNHELD : { allowed: false, reason: verdict.reason };
    },
    flush: () => Promise.resolve(),
  };
}

/** Spend holds, falling back to the chargeability check when Stoa has none. */
export function createSpendGate(options: SpendGateOptions): CallGate {
  const prices = createPriceCache(options.api, {
    timeoutMs: options.timeoutMs,
    ...(options.now && { now: options.now }),
  });
  const book = createHoldBook(options);
  const fallback = chargeabilityCallGate(options.chargeability);
  let supported = true;

  /** A `2026-11-01` server: the chargeability check from now on, said once. */
  function unsupported(
    call: GatedCall,
    signal: AbortSignal | null | undefined,
  ): CallAdmission | Promise<CallAdmission> {
    if (supported) {
      supported = false;
      options.onError(
        new StoaAPIError("Stoa has no spend holds (a 2026-11-01 server): metered calls use the chargeability check.", {
          status: 404,
          apiCode: "not_found",
        }),
      );
    }
    return fallback.admit(call, signal);
  }

  async function table(): Promise<PriceTable | "unsupported" | CallAdmission> {
    try {
      return await prices.get();
    } catch (error) {
      if (error instanceof StoaAPIError && error.status === 404) return "unsupported";
      throwIfRefused(error, "The price table", options.onError);
      const allow = options.whenUnavailable === "allow";
      options.onError(
        new StoaConnectionError(
          `The price table could not be read, so no spend hold could be taken; the call was ${allow ? "allowed without one" : "blocked"} (whenUnavailable: "${options.whenUnavailable}").`,
          { cause: error instanceof StoaError ? error : undefined },
        ),
      );
      return allow ? UNHELD : { allowed: false, reason: "unavailable" };
    }
  }

  /** The call's worst case, at `priced`'s rates. */
  function worstOf(priced: PriceTable, call: GatedCall): number {
    const rates = (call.model && priceRowFor(priced, call.provider, call.model)) || priced.fallback;
    return worstCaseNanos(requestBounds(call.body, call.bodyBytes), call.bodyBytes, rates, priced.fallback);
  }

  /** The gate's answer for the hold book's; throws `signal`'s abort (the reservation given back). */
  function answer(
    admission: Admission,
    priced: PriceTable,
    call: GatedCall,
    signal: AbortSignal | null | undefined,
  ): CallAdmission | Promise<CallAdmission> {
    switch (admission.kind) {
      case "held": {
        if (signal?.aborted) {
          admission.cancel();
          throw signal.reason;
        }
        return {
          allowed: true,
          holdId: admission.holdId,
          settle(event, delivered) {
            const cost =
              event.costUsd !== undefined
                ? usdToNanos(event.costUsd)
                : usageCostNanos(priceRowFor(priced, event.provider, event.model), event.usage);
            admission.settle(cost, delivered, call.waitUntil);
          },
          cancel: admission.cancel,
        };
      }
      case "unheld":
        return UNHELD;
      case "refused":
        return {
          allowed: false,
          reason: admission.reason,
          requiredUsd: admission.requiredUsd,
          availableUsd: admission.availableUsd,
        };
      case "unsupported":
        return unsupported(call, signal);
    }
  }

  /** A call that needs Stoa first: the price table, or a hold. */
  async function admitLater(call: GatedCall, signal: AbortSignal | null | undefined): Promise<CallAdmission> {
    if (!supported) return fallback.admit(call, signal);
    const started = Date.now();
    const priced = await unlessAborted(table(), signal);
    if (priced === "unsupported") return unsupported(call, signal);
    if (!("prices" in priced)) return priced;
    // what the price table left of the call's time
    const left = options.timeoutMs - (Date.now() - started);
    const admission = await book.admit(call.userId, worstOf(priced, call), call.waitUntil, signal, left);
    return answer(admission, priced, call, signal);
  }

  return {
    admit(call, signal) {
      // the hot path: the table is here and the hold has room, decided without a turn of the event loop
      const priced = supported ? prices.peek() : undefined;
      const ready = priced && book.reserveNow(call.userId, worstOf(priced, call), call.waitUntil);
      if (priced === undefined || ready === undefined) return admitLater(call, signal);
      try {
        return answer(ready, priced, call, signal);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    flush: () => book.flush(),
  };
}
