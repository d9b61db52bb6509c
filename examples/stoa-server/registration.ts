/**
 * Checks a member registration token by the contract's rules: HS256 only,
 * audience `stoa:member-registration`, `sub`, `email`, `iat`, `exp` and
 * `jti` present, 30 s of clock skew (an `iat` in the future beyond it is
 * refused too), a lifetime of at most 10 minutes. The `jti` replay check is
 * the ledger's (it needs storage).
 */
import { jwtVerify } from "jose";

/** The audience of a registration token. */
export const REGISTRATION_AUDIENCE = "stoa:member-registration";
/** Clock skew allowed, in seconds. */
export const CLOCK_SKEW_S = 30;
/** The longest lifetime (`exp - iat`) of a token, in seconds. */
export const MAX_TOKEN_LIFETIME_S = 600;

/** The claims of a valid registration token. */
export interface RegistrationClaims {
  sub: string;
  email: string;
  name?: string;
  picture?: string;
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
}

/** The token's claims, or `undefined` when it breaks a rule. */
export async function verifyRegistrationToken(
  token: string,
  secret: string,
  now: number,
): Promise<RegistrationClaims | undefined> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ["HS256"],
      audience: REGISTRATION_AUDIENCE,
      requiredClaims: ["exp", "iat", "jti", "sub", "email"],
      clockTolerance: CLOCK_SKEW_S,
      maxTokenAge: MAX_TOKEN_LIFETIME_S,
      currentDate: new Date(now),
    }));
  } catch {
    return undefined;
  }
  const { exp, iat, jti, sub, email, name, picture } = payload;
  if (typeof exp !== "number" || typeof iat !== "number" || exp - iat > MAX_TOKEN_LIFETIME_S) return undefined;
  if (typeof jti !== "string" || jti === "" || typeof sub !== "string" || sub === "") return undefined;
  if (typeof email !== "string" || email === "") return undefined;
  if (name != null && typeof name !== "string") return undefined;
  if (picture != null && typeof picture !== "string") return undefined;
  return { sub, email, jti, exp, ...(name != null && { name }), ...(picture != null && { picture }) };
}
