/**
 * How a blocked call is answered. Provider SDKs retry a `fetch` that throws
 * (three calls) and wrap what it threw, so they get what they understand: a
 * 402 in the provider's own error envelope (`Provider.errorBody`), with
 * `x-should-retry: false` and the marker headers of `charge-marker.ts` that
 * `StoaChargeRequiredError` recognises. A caller that is no known SDK gets the
 * `StoaChargeRequiredError` thrown.
 */
import { type ChargeMarker, chargeMarkerHeaders } from "../charge-marker.ts";
import { type ChargeRequiredReason, chargeRequiredMessage, StoaChargeRequiredError } from "../errors.ts";
import type { Provider } from "../providers/types.ts";

/** True when the request comes from an SDK that turns a 402 into its own error (Stainless SDKs, the AI SDK). */
export function fromKnownSdk(input: RequestInfo | URL, init: RequestInit | undefined): boolean {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  return headers.has("x-stainless-retry-count") || (headers.get("user-agent") ?? "").includes("ai-sdk/");
}

/** Who was refused, why, and (for a refused spend hold) the money involved. */
export type Refusal = ChargeMarker<ChargeRequiredReason>;

/** The synthetic 402 for a blocked call, in `provider`'s error envelope. */
export function blockedResponse(provider: Provider, refusal: Refusal): Response {
  const message = chargeRequiredMessage(refusal.userId, refusal.reason);
  return new Response(JSON.stringify(provider.errorBody("charge_required", message)), {
    status: 402,
    headers: {
      "content-type": "application/json",
      "x-should-retry": "false",
      ...chargeMarkerHeaders(refusal),
    },
  });
}

/** Answers a blocked call: a 402 for a known SDK, else the thrown error. */
export function refuse(
  provider: Provider,
  refusal: Refusal,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): Response {
  if (fromKnownSdk(input, init)) return blockedResponse(provider, refusal);
  throw new StoaChargeRequiredError(refusal.userId, refusal.reason, {
    requiredUsd: refusal.requiredUsd,
    availableUsd: refusal.availableUsd,
  });
}
