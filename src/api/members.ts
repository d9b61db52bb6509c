/**
 * Member registration (`stoa-api.md`, "Members"): the short-lived HS256
 * registration token the app signs with `STOA_REGISTRATION_SECRET`, and
 * `POST /v1/members`.
 */
import { StoaAPIError, StoaConfigError } from "../errors.ts";
import { invalidResponse, optionalString, record } from "./read.ts";
import type { ApiClient } from "./types.ts";
import { checkUserId } from "./user-id.ts";

/** The `aud` of a registration token. */
export const REGISTRATION_AUDIENCE = "stoa:member-registration";

const MEMBER = "Registering a member";

/** Lifetime of a registration token, in seconds (the contract allows at most 600). */
export const REGISTRATION_TOKEN_TTL_SECONDS = 5 * 60;

/** What a registration token says about the user. */
export interface RegistrationClaims {
  /** The app's own id of the user (`sub`). */
  userId: string;
  /** The user's email (`email`). */
  email: string;
  /** The user's display name (`name`). */
  name?: string | undefined;
  /** The user's avatar URL (`picture`). */
  avatarUrl?: string | undefined;
}

/** What `registerMember` takes. */
export interface RegisterMemberInput extends RegistrationClaims {
  /** `STOA_REGISTRATION_SECRET`. Signs the token; never sent, never in an error. */
  registrationSecret: string;
}

/** The answer of `POST /v1/members`. */
export interface Membership {
  /** `mem_…` */
  membershipId: string;
  /** The app's own id of the user. */
  userId: string;
  /** True when this call created the member; false when it was known already. */
  created: boolean;
}

/**
 * Signs a registration token: HS256 over the UTF-8 bytes of `secret`, with
 * `sub`, `email`, `name` and `picture` (when given), `aud`, `iat`, `exp` five
 * minutes later and a random `jti`. Each token is single-use: Stoa refuses a
 * `jti` it has seen. jose is loaded on the first call, not with the package.
 *
 * @param now Milliseconds since the epoch (tests); default `Date.now()`.
 * @throws {StoaConfigError} for an empty secret, a `userId` not of the valid form, a missing `email`, or a non-string `name`/`avatarUrl`.
 */
export async function registrationToken(
  claims: RegistrationClaims & { secret: string },
  now: number = Date.now(),
): Promise<string> {
  if (typeof claims !== "object" || claims === null) {
    throw new StoaConfigError("registrationToken() needs { secret, userId, email, name?, avatarUrl? }.");
  }
  const { secret, userId, email, name, avatarUrl } = claims;
  if (typeof secret !== "string" || secret === "") {
    throw new StoaConfigError(
      "Missing Stoa registration secret: pass `registrationSecret`, the value of STOA_REGISTRATION_SECRET (on Workers: `env.STOA_REGISTRATION_SECRET`).",
    );
  }
  checkUserId(userId, MEMBER);
  if (typeof email !== "string" || email === "") {
    throw new StoaConfigError("Registering a member needs the user's email, a non-empty string.");
  }
  const payload: Record<string, string> = { email };
  if (name != null) payload.name = optionalString(MEMBER, "name", name);
  if (avatarUrl != null) payload.picture = optionalString(MEMBER, "avatarUrl", avatarUrl);
  const iat = Math.floor(now / 1000);
  // loaded here, not at the top: only registration needs jose, and it is a third of the root entry's size
  const { SignJWT } = await import("jose/jwt/sign");
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setAudience(REGISTRATION_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + REGISTRATION_TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(new TextEncoder().encode(secret));
}

/**
 * Registers the user as a Stoa member: `POST /v1/members` with a fresh
 * registration token. One token and one idempotency key per call, both reused
 * on each of its retries, so a retry after a lost answer gets the stored
 * answer instead of tripping the server's `jti` replay check. But Stoa counts
 * a token's `jti` as used once the token passed its checks, even when the
 * registration then failed (a 5xx, which is not stored), so a retry can be
 * refused as a replay: a refused token is signed afresh once, under a new
 * key (registration is idempotent by itself). Registering a known user
 * returns its membership with `created: false`.
 *
 * @throws {StoaConfigError} as {@link registrationToken} does.
 * @throws {StoaAPIError} `invalid_registration_token` when the secret is wrong (or the clock far off).
 * @throws {StoaConnectionError} when Stoa cannot be reached within the retry budget.
 */
export async function registerMember(api: ApiClient, input: RegisterMemberInput): Promise<Membership> {
  if (typeof input !== "object" || input === null) {
    throw new StoaConfigError("registerMember() needs { registrationSecret, userId, email, name?, avatarUrl? }.");
  }
  const { registrationSecret, userId, email, name, avatarUrl } = input;
  const claims = { secret: registrationSecret, userId, email, name, avatarUrl };
  const register = async () =>
    api.request("POST", "/v1/members", {
      body: { registrationToken: await registrationToken(claims) },
      idempotencyKey: crypto.randomUUID(),
    });
  let answer: unknown;
  try {
    answer = await register();
  } catch (error) {
    // a wrong secret is refused again, and that refusal is thrown
    if (!(error instanceof StoaAPIError && error.apiCode === "invalid_registration_token")) throw error;
    answer = await register();
  }
  const v = record(answer);
  if (typeof v.membershipId !== "string" || typeof v.userId !== "string" || typeof v.created !== "boolean") {
    throw invalidResponse("a membership");
  }
  return { membershipId: v.membershipId, userId: v.userId, created: v.created };
}
