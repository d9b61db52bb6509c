/**
 * The valid form of the app's user id, the one check every call that takes
 * a userId makes before anything is sent: it travels as a URL path segment
 * (`/v1/members/{userId}/…`) and in every usage event.
 */
import { StoaConfigError } from "../errors.ts";

/**
 * The longest userId, in UTF-16 code units. Encoded as a path segment it is
 * at most 2 304 characters (9 per code unit), well inside what proxies and
 * the Stoa API accept in a URL.
 */
export const MAX_USER_ID_LENGTH = 256;

/** A lone surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `userId` is a string of 1 to {@link MAX_USER_ID_LENGTH} UTF-16
 * code units of well-formed text (no lone surrogate, which
 * `encodeURIComponent` refuses), and not `.` or `..` (dot segments, which a
 * URL parser would resolve).
 */
export function isValidUserId(userId: unknown): userId is string {
  return (
    typeof userId === "string" &&
    userId.length >= 1 &&
    userId.length <= MAX_USER_ID_LENGTH &&
    userId !== "." &&
    userId !== ".." &&
    !LONE_SURROGATE.test(userId)
  );
}

/**
 * Refuses a userId that is not of the valid form. The id itself is not
 * echoed: it may be huge, or not text.
 *
 * @param where The call, for the message: `stoa.fetch()`, `getUsage()`, …
 * @throws {StoaConfigError} when `userId` is not valid by {@link isValidUserId}.
 */
export function checkUserId(userId: unknown, where: string): asserts userId is string {
  if (isValidUserId(userId)) return;
  throw new StoaConfigError(
    `${where} needs a userId: the app's own id of the user, 1 to ${MAX_USER_ID_LENGTH} UTF-16 code units of well-formed text (no lone surrogate), not '.' or '..'.`,
  );
}
