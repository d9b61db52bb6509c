/**
 * The local Stoa server's registration rules that the SDK's own tests
 * (test/api/members.test.ts) do not reach: when a `jti` counts as seen, and
 * the 30 s allowance for an `iat` in the future.
 */
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { REGISTRATION_AUDIENCE } from "../../examples/stoa-server/registration.ts";
import { newRunId } from "../support/provider.ts";
import { FAKE_REGISTRATION_SECRET, stoaCall } from "../support/stoa.ts";

const seconds = () => Math.floor(Date.now() / 1000);

/** A valid token for `sub`, with `changes` applied. */
function token(changes: Record<string, unknown> = {}): Promise<string> {
  const iat = seconds();
  return new SignJWT({
    sub: "user_1",
    email: "ada@example.com",
    aud: REGISTRATION_AUDIENCE,
    iat,
    exp: iat + 300,
    jti: crypto.randomUUID(),
    ...changes,
  })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(FAKE_REGISTRATION_SECRET));
}

async function register(runId: string, jwt: string): Promise<number> {
  return (await stoaCall(runId, "POST", "/v1/members", { registrationToken: jwt })).status;
}

describe("local Stoa server: POST /v1/members", () => {
  it("counts a jti as seen only once its token passed every other check", async () => {
    const runId = newRunId("rjti");
    const jti = crypto.randomUUID();
    const t = seconds();
    // each fails another check, so none uses the jti up
    expect(await register(runId, await token({ jti, aud: "someone-else" }))).toBe(401);
    expect(await register(runId, await token({ jti, iat: t + 90, exp: t + 300 }))).toBe(401);
    expect(await register(runId, await token({ jti, exp: t - 60, iat: t - 300 }))).toBe(401);
    expect(await register(runId, await token({ jti }))).toBe(201);
    // now it is seen: for the same user, for another, and for a known user (no registration to make)
    expect(await register(runId, await token({ jti }))).toBe(401);
    expect(await register(runId, await token({ jti, sub: "user_2" }))).toBe(401);
    expect(await register(runId, await token())).toBe(200);
  });

  it("refuses an iat more than 30 s in the future and takes one within it", async () => {
    const runId = newRunId("riat");
    const t = seconds();
    expect(await register(runId, await token({ sub: "late", iat: t + 45, exp: t + 345 }))).toBe(401);
    expect(await register(runId, await token({ sub: "soon", iat: t + 15, exp: t + 315 }))).toBe(201);
  });
});
