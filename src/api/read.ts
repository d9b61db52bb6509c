/**
 * Readers shared by the resource files (`payments.ts`, `members.ts`,
 * `usage-summary.ts`): an optional string of the caller's input, and the one
 * error of a 2xx answer that is not what the contract says.
 */
import { StoaAPIError, StoaConfigError } from "../errors.ts";

/**
 * An optional string field of the caller's input, given (not `null` or
 * `undefined`): returned when it is a string.
 *
 * @param where The call, for the message: `createPaymentSession()`, `Registering a member`.
 * @throws {StoaConfigError} when it is not a string.
 */
export function optionalString(where: string, field: string, value: unknown): string {
  if (typeof value !== "string") throw new StoaConfigError(`${where}: ${field} must be a string when given.`);
  return value;
}

/** `value` as an object to read fields from; anything else reads as `{}` (and so fails its checks). */
export function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * The error of a 2xx answer that is not `what` (a payment session, a
 * membership, …): a `StoaAPIError` with the stable `apiCode` `invalid_response`.
 */
export function invalidResponse(what: string): StoaAPIError {
  return new StoaAPIError(`Stoa API answered with a body that is not ${what}.`, {
    status: 200,
    apiCode: "invalid_response",
  });
}
