/**
 * Member registration: the token the SDK signs verifies on the fake Stoa,
 * the fake refuses every bad token the contract names (built here with
 * jose), retries reuse one token and one key, and neither the registration
 * secret nor the API key ever shows in an error.
 */
import { base64url, decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { STOA_API_VERSION } from "../../src/api/client.ts";
import { REGISTRATION_AUDIENCE, registerMember, registrationToken } from "../../src/api/members.ts";
import { StoaAPIError, StoaConfigError, StoaConnectionError } from "../../src/errors.ts";
import type { FetchLike } from "../../src/runtime.ts";
import { VERSION } from "../../src/version.ts";
import { apiSetup, CLOSED, caught, renderings } from "../support/api.ts";
import { newRunId } from "../support/provider.ts";
import {
  configureStoa,
  FAKE_REGISTRATION_SECRET,
  FAKE_STOA_API_KEY,
  stoaBase,
  stoaMembers,
  stoaReceived,
} from "../support/stoa.ts";

const SECRET = FAKE_REGISTRATION_SECRET;
const MEMBERS = "/v1/members";
const USER = { userId: "user_123", email: "ada@example.com" };

/** POSTs `token` to the fake as the SDK would, and returns status and body. */
async function postToken(runId: string, token: string, idempotencyKey = crypto.randomUUID()) {
  const response = await fetch(`${stoaBase(runId)}${MEMBERS}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${FAKE_STOA_API_KEY}`,
      "stoa-version": STOA_API_VERSION,
      "x-stoa-sdk": `stoa-ts/${VERSION} (node)`,
      "content-type": "application/json",
      "idempotency-key": idempotencyKey,
    },
    body: JSON.stringify({ registrationToken: token }),
  });
  return [response.status, await response.json()];
}

const now = () => Math.floor(Date.now() / 1000);

/** A token as the contract wants it, with `changes` applied, signed with `secret` and `alg`. */
function token(
  changes: Record<string, unknown> = {},
  options: { secret?: string; alg?: string; iat?: number } = {},
): Promise<string> {
  const iat = options.iat ?? now();
  const claims = {
    sub: USER.userId,
    email: USER.email,
    aud: REGISTRATION_AUDIENCE,
    iat,
    exp: iat + 300,
    jti: crypto.randomUUID(),
    ...changes,
  };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) delete (claims as Record<string, unknown>)[name];
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

const REFUSED = [
  401,
  {
    error: {
      type: "authentication",
      code: "invalid_registration_token",
      message: "The registration token is invalid, expired or already used.",
    },
  },
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe("registrationToken", () => {
  it("is HS256 with the contract's claims, five minutes long, a fresh jti each time", async () => {
    const at = Date.UTC(2026, 10, 27, 18, 0, 0, 750);
    const jwt = await registrationToken(
      { secret: SECRET, ...USER, name: "Ada", avatarUrl: "https://cdn.example.com/ada.png" },
      at,
    );
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "HS256" });
    const iat = Math.floor(at / 1000);
    const { jti, ...claims } = decodeJwt(jwt);
    expect(claims).toEqual({
      sub: "user_123",
      email: "ada@example.com",
      name: "Ada",
      picture: "https://cdn.example.com/ada.png",
      aud: "stoa:member-registration",
      iat,
      exp: iat + 300,
    });
    expect(jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const other = await registrationToken({ secret: SECRET, ...USER }, at);
    expect(decodeJwt(other).jti).not.toBe(jti);
    expect(Object.keys(decodeJwt(other)).sort()).toEqual(["aud", "email", "exp", "iat", "jti", "sub"]);
  });

  it("verifies on the fake Stoa, once", async () => {
    const runId = newRunId("tokok");
    const jwt = await registrationToken({ secret: SECRET, ...USER, name: "Ada" });
    expect(await postToken(runId, jwt)).toEqual([
      201,
      { membershipId: expect.any(String), userId: "user_123", created: true },
    ]);
    expect(await postToken(runId, jwt)).toEqual(REFUSED);
    expect((await stoaMembers(runId)).user_123).toMatchObject({ email: "ada@example.com", name: "Ada" });
  });

  it("signs the UTF-8 bytes of the secret", async () => {
    const runId = newRunId("tokutf8");
    const secret = "clé-secrète-🔑-0123456789abcdef";
    await configureStoa(runId, { registrationSecret: secret });
    expect((await postToken(runId, await registrationToken({ secret, ...USER })))[0]).toBe(201);
  });

  it("refuses an empty secret and missing claims with a StoaConfigError", async () => {
    const bad = [
      { secret: "", ...USER },
      { secret: undefined as unknown as string, ...USER },
      { secret: SECRET, userId: "", email: USER.email },
      { secret: SECRET, userId: USER.userId, email: "" },
      { secret: SECRET, ...USER, name: 5 as unknown as string },
    ];
    for (const claims of bad) expect(await caught(registrationToken(claims))).toBeInstanceOf(StoaConfigError);
    expect(((await caught(registrationToken({ secret: "", ...USER }))) as Error).message).toBe(
      "Missing Stoa registration secret: pass `registrationSecret`, the value of STOA_REGISTRATION_SECRET (on Workers: `env.STOA_REGISTRATION_SECRET`).",
    );
  });
});

describe("the fake Stoa refuses bad registration tokens (401 invalid_registration_token)", () => {
  it("a tampered signature, a wrong secret, a tampered payload", async () => {
    const runId = newRunId("tokbad");
    const good = await token();
    const [header, payload, signature] = good.split(".") as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.at(-2) === "A" ? "B" : "A"}${signature.at(-1)}`;
    const otherPayload = base64url.encode(JSON.stringify({ ...decodeJwt(good), sub: "someone_else" }));
    const bad = [
      `${header}.${payload}.${flipped}`,
      `${header}.${otherPayload}.${signature}`,
      await token({}, { secret: `${SECRET}x` }),
      `${header}.${payload}.`,
      "not-a-jwt",
    ];
    for (const jwt of bad) expect(await postToken(runId, jwt)).toEqual(REFUSED);
    expect(await postToken(runId, good)).toEqual([201, expect.objectContaining({ created: true })]);
  });

  it("alg none and HS512", async () => {
    const runId = newRunId("tokalg");
    const claims = decodeJwt(await token());
    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify(claims))}.`;
    expect(await postToken(runId, none)).toEqual(REFUSED);
    expect(await postToken(runId, await token({}, { alg: "HS512" }))).toEqual(REFUSED);
    expect(await postToken(runId, await token({}, { alg: "HS384" }))).toEqual(REFUSED);
  });

  it("a wrong or missing audience, and a missing required claim", async () => {
    const runId = newRunId("tokclaims");
    const bad = [
      await token({ aud: "stoa:something-else" }),
      await token({ aud: undefined }),
      await token({ exp: undefined }),
      await token({ iat: undefined }),
      await token({ jti: undefined }),
      await token({ sub: undefined }),
      await token({ email: undefined }),
      await token({ email: "" }),
      await token({ name: 7 }),
    ];
    for (const jwt of bad) expect(await postToken(runId, jwt)).toEqual(REFUSED);
    const nullable = await token({
      name: null,
      picture: null,
      nbf: now() - 10,
      iss: "app",
      aud: [REGISTRATION_AUDIENCE],
    });
    expect((await postToken(runId, nullable))[0]).toBe(201);
  });

  it("expiry and the future with 30 s of skew, and a lifetime over 10 minutes", async () => {
    const runId = newRunId("toktime");
    const t = now();
    const cases: [Promise<string>, number][] = [
      [token({ sub: "a", exp: t - 20 }, { iat: t - 300 }), 201],
      [token({ sub: "b", exp: t - 40 }, { iat: t - 300 }), 401],
      [token({ sub: "c", exp: t + 600 }, { iat: t }), 201],
      [token({ sub: "d", exp: t + 601 }, { iat: t }), 401],
      [token({ sub: "e", exp: t + 3600 }, { iat: t - 3000 }), 401],
      [token({ sub: "f" }, { iat: t + 20 }), 201],
      [token({ sub: "g" }, { iat: t + 120 }), 401],
    ];
    const statuses = [];
    for (const [jwt, expected] of cases) statuses.push([(await postToken(runId, await jwt))[0], expected]);
    expect(statuses.map(([status]) => status)).toEqual(statuses.map(([, expected]) => expected));
  });

  it("a reused jti, even for another user", async () => {
    const runId = newRunId("tokjti");
    const jti = crypto.randomUUID();
    expect((await postToken(runId, await token({ jti })))[0]).toBe(201);
    expect(await postToken(runId, await token({ jti }))).toEqual(REFUSED);
    expect(await postToken(runId, await token({ jti, sub: "user_456" }))).toEqual(REFUSED);
  });

  it("replays a stored answer for the same idempotency key before checking the token", async () => {
    const runId = newRunId("tokidem");
    const jwt = await token();
    const first = await postToken(runId, jwt, "member-key");
    expect(first).toEqual([201, { membershipId: expect.any(String), userId: "user_123", created: true }]);
    expect(await postToken(runId, jwt, "member-key")).toEqual(first);
    expect(await postToken(runId, jwt, "another-key")).toEqual(REFUSED);
  });
});

describe("registerMember", () => {
  it("creates the member, then finds it", async () => {
    const runId = newRunId("reg");
    const { api } = apiSetup(runId);
    const input = { registrationSecret: SECRET, ...USER, name: "Ada", avatarUrl: "https://cdn.example.com/a.png" };
    const first = await registerMember(api, input);
    const second = await registerMember(api, { ...input, name: "Ada L." });
    expect(first).toEqual({ membershipId: expect.stringMatching(/^mem_/), userId: "user_123", created: true });
    expect(second).toEqual({ ...first, created: false });
    expect((await stoaMembers(runId)).user_123).toMatchObject({
      membershipId: first.membershipId,
      email: "ada@example.com",
      name: "Ada",
      picture: "https://cdn.example.com/a.png",
    });
    const received = await stoaReceived(runId);
    expect(received.map((r) => [r.method, r.path, Object.keys(r.body as object)])).toEqual([
      ["POST", MEMBERS, ["registrationToken"]],
      ["POST", MEMBERS, ["registrationToken"]],
    ]);
    expect(received[1]?.headers["idempotency-key"]).not.toBe(received[0]?.headers["idempotency-key"]);
  });

  it("reuses one token and one key on a retry after a 503", async () => {
    const runId = newRunId("reg503");
    await configureStoa(runId, { memberFailures: [503] });
    const { api, clock } = apiSetup(runId);
    expect(await registerMember(api, { registrationSecret: SECRET, ...USER })).toMatchObject({ created: true });
    const [first, second, ...more] = await stoaReceived(runId);
    expect(more).toEqual([]);
    expect(second?.headers["idempotency-key"]).toBe(first?.headers["idempotency-key"]);
    expect(second?.body).toEqual(first?.body);
    expect(clock.waits).toEqual([250]);
  });

  it("gets the stored answer when the first answer was lost on the way back", async () => {
    const runId = newRunId("reglost");
    let attempts = 0;
    const losing: FetchLike = async (input, init) => {
      const response = await fetch(input, init);
      if (++attempts > 1) return response;
      await response.body?.cancel();
      throw new TypeError("network connection lost");
    };
    const { api } = apiSetup(runId, { fetch: losing });
    const membership = await registerMember(api, { registrationSecret: SECRET, ...USER });
    expect(membership).toEqual({ membershipId: expect.stringMatching(/^mem_/), userId: "user_123", created: true });
    const [first, second] = await stoaReceived(runId);
    expect(second?.headers["idempotency-key"]).toBe(first?.headers["idempotency-key"]);
    expect(second?.body).toEqual(first?.body);
    expect(Object.keys(await stoaMembers(runId))).toEqual(["user_123"]);
  });

  it("signs afresh once when a retry is refused as a replay: the token passed, then the registration failed", async () => {
    const runId = newRunId("regreplay");
    let attempts = 0;
    // the first attempt reaches Stoa, which uses its jti and then fails (here: its answer is stored under
    // another key, as if nothing was stored for ours) and answers 503; the retry repeats the token
    const failingAfterUse: FetchLike = async (input, init) => {
      if (++attempts > 1) return fetch(input, init);
      const headers = new Headers(init?.headers);
      headers.set("idempotency-key", "another-key");
      const used = await fetch(input, { ...init, headers });
      await used.body?.cancel();
      return Response.json({ error: { type: "server_error", code: "server_error", message: "x" } }, { status: 503 });
    };
    const { api } = apiSetup(runId, { fetch: failingAfterUse });
    const membership = await registerMember(api, { registrationSecret: SECRET, ...USER });
    expect(membership).toEqual({ membershipId: expect.stringMatching(/^mem_/), userId: "user_123", created: false });
    const received = await stoaReceived(runId);
    expect(received).toHaveLength(3); // used, refused as a replay, a fresh token
    const tokens = received.map((r) => (r.body as { registrationToken: string }).registrationToken);
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).not.toBe(tokens[0]);
    expect(received[2]?.headers["idempotency-key"]).not.toBe(received[1]?.headers["idempotency-key"]);
  });

  it("refuses an answer that is not a membership", async () => {
    const fake: FetchLike = async () => Response.json({ membershipId: "mem_1", userId: "u", created: "yes" });
    const { api } = apiSetup("", { fetch: fake, baseUrl: "https://stoa.test/api" });
    const error = await caught(registerMember(api, { registrationSecret: SECRET, ...USER }));
    expect(error).toBeInstanceOf(StoaAPIError);
    expect(error).toMatchObject({
      code: "api_error",
      apiCode: "invalid_response",
      message: "Stoa API answered with a body that is not a membership.",
    });
  });
});

describe("the registration secret and the API key", () => {
  const REG_SECRET = "whsec_reg_9d8c7b6a5f4e3d2c1b0a99887766";
  const API_KEY = "sk_live_3e5a7c9b1d2f4a6c8e0b";

  it("never appear in an error, its stack, its cause or a log", async () => {
    const logged: unknown[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logged.push(...args);
      });
    }
    const runId = newRunId("regsecret");
    await configureStoa(runId, { apiKey: API_KEY, registrationSecret: `${REG_SECRET}-other` });
    const echoing: FetchLike = async (_input, init) => {
      const auth = new Headers(init?.headers).get("authorization") ?? "";
      throw new TypeError(`fetch failed: ${auth} ${String(init?.body)}`, {
        cause: new Error(`socket closed: ${auth}`),
      });
    };
    const input = { registrationSecret: REG_SECRET, ...USER };
    const errors = [
      // a wrong secret: the fake refuses the token
      await caught(registerMember(apiSetup(runId, { apiKey: API_KEY }).api, input)),
      // Stoa unreachable
      await caught(registerMember(apiSetup("", { apiKey: API_KEY, baseUrl: CLOSED, budgetMs: 300 }).api, input)),
      // a fetch that puts what it was given in its errors
      await caught(
        registerMember(apiSetup("", { apiKey: API_KEY, baseUrl: CLOSED, fetch: echoing, budgetMs: 300 }).api, input),
      ),
      // a secret that is not a string
      await caught(
        registerMember(apiSetup(runId, { apiKey: API_KEY }).api, {
          ...input,
          registrationSecret: [REG_SECRET] as unknown as string,
        }),
      ),
    ];
    expect(errors.map((e) => [(e as Error).name, (e as { code?: string }).code])).toEqual([
      ["StoaAPIError", "api_error"],
      ["StoaConnectionError", "connection_error"],
      ["StoaConnectionError", "connection_error"],
      ["StoaConfigError", "config_error"],
    ]);
    expect(errors[0]).toMatchObject({ status: 401, type: "authentication", apiCode: "invalid_registration_token" });
    expect(errors[2]).toBeInstanceOf(StoaConnectionError);
    // the key and the token were really sent, so their absence below means something
    const [sent] = await stoaReceived(runId);
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    const sentToken = (sent?.body as { registrationToken?: string } | undefined)?.registrationToken ?? "";
    expect(decodeJwt(sentToken).sub).toBe("user_123");
    for (const text of [...errors.flatMap(renderings), ...logged.map(String)]) {
      expect(text).not.toContain(REG_SECRET);
      expect(text).not.toContain(API_KEY);
    }
  });
});
