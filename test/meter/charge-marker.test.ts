/**
 * The 402 charge marker: what the meter writes onto a blocked call's
 * response is what `readChargeMarker` finds on the errors SDKs build from it.
 */
import { describe, expect, it } from "vitest";
import { CHARGE_USER_HEADER, chargeMarkerHeaders, readChargeMarker } from "../../src/charge-marker.ts";

const REASONS = ["payment_required", "unavailable"] as const;

describe("the charge marker", () => {
  it("round-trips through Headers, plain records, cause and lastError chains", () => {
    const headers = chargeMarkerHeaders({ userId: "user/ü 1", reason: "payment_required" });
    expect(headers[CHARGE_USER_HEADER]).toBe("user%2F%C3%BC%201");
    const sdkError = { status: 402, headers: new Headers(headers) };
    const aiSdkError = { statusCode: 402, responseHeaders: { ...headers } };
    const expected = { userId: "user/ü 1", reason: "payment_required" };
    expect(readChargeMarker(sdkError, REASONS)).toEqual(expected);
    expect(readChargeMarker(aiSdkError, REASONS)).toEqual(expected);
    expect(readChargeMarker({ cause: { lastError: aiSdkError } }, REASONS)).toEqual(expected);
  });

  it("finds nothing on another status, an unknown reason, a bad encoding or past 4 levels", () => {
    const headers = chargeMarkerHeaders({ userId: "u", reason: "payment_required" });
    expect(readChargeMarker({ status: 400, headers }, REASONS)).toBeUndefined();
    expect(
      readChargeMarker({ status: 402, headers: chargeMarkerHeaders({ userId: "u", reason: "other" }) }, REASONS),
    ).toBeUndefined();
    const bad = { ...headers, [CHARGE_USER_HEADER]: "%E0%A4%A" };
    expect(readChargeMarker({ status: 402, headers: bad }, REASONS)).toBeUndefined();
    let deep: unknown = { status: 402, headers };
    for (let i = 0; i < 5; i++) deep = { cause: deep };
    expect(readChargeMarker(deep, REASONS)).toBeUndefined();
    expect(readChargeMarker({ cause: { cause: { cause: { cause: { status: 402, headers } } } } }, REASONS)).toEqual({
      userId: "u",
      reason: "payment_required",
    });
  });
});
