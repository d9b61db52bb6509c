/**
 * A request made before a call that Stoa refused itself: a `4xx` other than
 * `404`, `408` and `429` (a wrong key or base URL). That is the app's bug,
 * not an outage, so the call is not made and fails with a `StoaConfigError`
 * that `onError` also hears of, whatever `whenUnavailable` says.
 */
import { isRefusalStatus } from "../api/retry.ts";
import { StoaAPIError, StoaConfigError } from "../errors.ts";

/**
 * Throws the `StoaConfigError` for `error` (told to `onError` first) when it
 * is such a refusal of `what` ("The chargeability check for user \"u\""),
 * and returns otherwise.
 */
export function throwIfRefused(error: unknown, what: string, onError: (error: Error) => void): void {
  if (!(error instanceof StoaAPIError) || !isRefusalStatus(error.status)) return;
  const refused = new StoaConfigError(
    `${what} was refused (${error.message}); the call was not made. Check the Stoa API key, base URL and the userId.`,
    { cause: error },
  );
  onError(refused);
  throw refused;
}
