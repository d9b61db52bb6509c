/**
 * The payment flow for Hono apps: a charge-required error becomes a payment
 * session (303 to checkout for a browser, 402 JSON for an API client), and
 * the return route checks the payment and resumes the action that was
 * blocked.
 *
 * `state` is an HS256 JWT (`aud` `stoa:payment-return`, `sub` the user,
 * `jti`, `iat`, `exp` ≤ 1 h) in the return URL; what is needed to resume
 * (method, path, content type, body) stays server-side in a `ResumeStore`
 * under the `jti`, taken once on return, so no body travels in a URL.
 */
import type { Context, ErrorHandler, Handler } from "hono";
import { errors, jwtVerify, SignJWT } from "jose";
import { StoaAPIError, StoaChargeRequiredError, StoaConfigError } from "../errors.ts";
import type { Stoa } from "../stoa.ts";
import { memoryStore, type ResumeStore } from "./store.ts";

/** The `aud` of a return `state`. */
export const STATE_AUDIENCE = "stoa:payment-return";

const MAX_TTL_SECONDS = 3600;
const CLOCK_TOLERANCE_SECONDS = 30;

/** The blocked action, as the return route hands it back. */
export interface RestoredAction {
  /** The original request, rebuilt: method, URL (this origin), `content-type`, body. */
  request: Request;
  /** The user who paid. */
  userId: string;
  /** The completed payment session. */
  sessionId: string;
}

/** Options shared by `chargeRequired` and `paymentReturn`. */
export interface PaymentFlowOptions {
  /**
   * Signs `state`: at least 32 bytes of UTF-8. Default: `c.env.STOA_STATE_SECRET`,
   * checked on first use.
   */
  secret?: string;
  /** Path of the return route on this origin. Default `/stoa/return`. */
  returnPath?: string;
  /**
   * Where pending resumes wait, or a function of the context that returns it.
   * Default: `memoryStore()` (one isolate); on Workers `(c) => kvStore(c.env.RESUME)`.
   */
  store?: ResumeStore | ((c: Context) => ResumeStore);
  /** How long a `state` lives, in seconds: at most 3600 (default 1800). */
  stateTtlSeconds?: number;
  /**
   * The largest request body kept for resuming, in bytes (default 16 384). A
   * request with a larger body is not replayed: after payment, a 303 to `/`.
   */
  maxBodyBytes?: number;
}

/** Options of `chargeRequired`. */
export interface ChargeRequiredOptions extends PaymentFlowOptions {
  /** Prefills checkout with the user's email. */
  email?: (c: Context, userId: string) => string | undefined | Promise<string | undefined>;
  /**
   * Takes over the answer: called with the error and the payment session's
   * `checkoutUrl` (null when Stoa says nothing is owed). Return a Response,
   * or undefined for the default answer.
   */
  onChargeRequired?: (
    c: Context,
    error: StoaChargeRequiredError,
    checkoutUrl: string | null,
  ) => Response | undefined | Promise<Response | undefined>;
  /** Handles every other error. Default: Hono's own (an `HTTPException`'s response, else 500). */
  fallback?: ErrorHandler;
}

/** Options of `paymentReturn`. */
export interface PaymentReturnOptions extends PaymentFlowOptions {
  /**
   * The signed-in user of the returning request (from the app's session).
   * Required with `onResume`: a replay runs only for the user who was
   * blocked, so a link made by someone else cannot replay their request with
   * this user's credentials. When given, a GET resumes only for that user too.
   */
  currentUser?: (c: Context) => string | undefined | Promise<string | undefined>;
  /**
   * Replays a blocked non-GET action, e.g. `app.fetch(restored.request, c.env, c.executionCtx)`
   * after adding the caller's credentials. Default: 303 to `/`, nothing replayed.
   */
  onResume?: (c: Context, restored: RestoredAction) => Response | Promise<Response>;
}

interface ResumeRecord {
  /** method */
  m: string;
  /** path and query */
  u: string;
  /** content-type */
  t?: string;
  /** body, base64 */
  b?: string;
  /** the body was over the limit or already consumed */
  d?: true;
}

interface Flow {
  secret: (c: Context) => Uint8Array;
  returnPath: string;
  store: (c: Context) => ResumeStore;
  ttl: number;
  maxBodyBytes: number;
}

function resolveFlow(options: PaymentFlowOptions): Flow {
  const ttl = options.stateTtlSeconds ?? 1800;
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TTL_SECONDS) {
    throw new StoaConfigError("stateTtlSeconds must be a whole number of seconds from 60 to 3600.");
  }
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new StoaConfigError("maxBodyBytes must be a non-negative whole number.");
  }
  const returnPath = options.returnPath ?? "/stoa/return";
  if (!returnPath.startsWith("/") || returnPath.startsWith("//")) {
    throw new StoaConfigError('returnPath must be a path on this origin, like "/stoa/return".');
  }
  const given = options.secret === undefined ? undefined : checkSecret(options.secret);
  return {
    secret: (c) => given ?? checkSecret((c.env as { STOA_STATE_SECRET?: unknown } | undefined)?.STOA_STATE_SECRET),
    returnPath,
    store: typeof options.store === "function" ? options.store : constant(options.store ?? memoryStore()),
    ttl,
    maxBodyBytes,
  };
}

function constant(store: ResumeStore): () => ResumeStore {
  return () => store;
}

function checkSecret(secret: unknown): Uint8Array {
  const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : undefined;
  if (bytes === undefined || bytes.byteLength < 32) {
    throw new StoaConfigError(
      "The payment-return secret must be at least 32 bytes: pass { secret } or set STOA_STATE_SECRET (e.g. `openssl rand -base64 32`).",
    );
  }
  return bytes;
}

function stoaOf(c: Context): Stoa {
  const stoa = c.get("stoa");
  if (stoa === undefined) throw new StoaConfigError("No c.var.stoa: add app.use(stoa()) before the routes.");
  return stoa;
}

function wantsHtml(c: Context): boolean {
  return (c.req.header("accept") ?? "").includes("text/html");
}

/** A 4xx in the form the caller reads: a small HTML page for browsers, JSON otherwise. */
function problem(c: Context, status: 400 | 403 | 409, code: string, message: string, extra = {}): Response {
  if (wantsHtml(c)) {
    const text = message.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
    return c.html(`<!doctype html><title>${status}</title><p>${text}</p>`, status);
  }
  return c.json({ error: { code, message }, ...extra }, status);
}

/** Hono's default error answer. */
const honoDefault: ErrorHandler = (error, c) => {
  if ("getResponse" in error && typeof error.getResponse === "function") return error.getResponse() as Response;
  console.error(error);
  return c.text("Internal Server Error", 500);
};

/**
 * An `app.onError` handler: a charge-required error (also inside a provider
 * SDK's error) starts a payment session. A browser navigation
 * (`Accept: text/html`) gets a 303 to checkout; an API client gets 402
 * `{ "error": { "code": "charge_required", … }, "checkoutUrl": … }`. Other
 * errors go to `fallback` untouched.
 *
 * @example
 * ```ts
 * const app = new Hono<{ Bindings: Env }>();
 * app.use(stoa());
 * app.onError(chargeRequired({ secret: SECRET, email: (c) => c.get("user").email }));
 * app.get("/stoa/return", paymentReturn({ secret: SECRET, currentUser: (c) => c.get("user").id }));
 * ```
 */
export function chargeRequired(options: ChargeRequiredOptions = {}): ErrorHandler {
  const flow = resolveFlow(options);
  const fallback = options.fallback ?? honoDefault;
  return async function chargeRequired(error, c) {
    const blocked = StoaChargeRequiredError.from(error);
    if (blocked === null) return fallback(error, c);
    try {
      return await startPayment(c, blocked);
    } catch (failure) {
      // Stoa unreachable, a bad secret or returnUrl: the app's own error path
      return fallback(failure instanceof Error ? failure : new Error(String(failure)), c);
    }
  };

  async function startPayment(c: Context, blocked: StoaChargeRequiredError): Promise<Response> {
    const stoa = stoaOf(c);
    const key = flow.secret(c);
    const jti = crypto.randomUUID();
    await flow.store(c).put(jti, JSON.stringify(await resumeRecord(c, flow.maxBodyBytes)), flow.ttl);
    const state = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(blocked.userId)
      .setAudience(STATE_AUDIENCE)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(`${flow.ttl}s`)
      .sign(key);
    const returnUrl = new URL(flow.returnPath, c.req.url);
    returnUrl.search = new URLSearchParams({ state }).toString();
    const email = await options.email?.(c, blocked.userId);
    const session = await stoa.createPaymentSession({
      userId: blocked.userId,
      returnUrl: returnUrl.href,
      ...(email === undefined ? {} : { email }),
    });
    if (session.checkoutUrl === null) stoa.invalidateChargeability(blocked.userId);
    const taken = await options.onChargeRequired?.(c, blocked, session.checkoutUrl);
    if (taken !== undefined) return taken;
    if (session.checkoutUrl === null) {
      return problem(c, 409, "retry", "Nothing is owed any more: try again.", { checkoutUrl: null });
    }
    if (wantsHtml(c)) return c.redirect(session.checkoutUrl, 303);
    return c.json(
      {
        error: { code: "charge_required", reason: blocked.reason, message: "Payment is required to continue." },
        checkoutUrl: session.checkoutUrl,
      },
      402,
    );
  }
}

async function resumeRecord(c: Context, maxBodyBytes: number): Promise<ResumeRecord> {
  const url = new URL(c.req.url);
  const record: ResumeRecord = { m: c.req.method, u: url.pathname + url.search };
  if (c.req.method === "GET" || c.req.method === "HEAD") return record;
  const type = c.req.header("content-type");
  if (type !== undefined) record.t = type;
  const length = Number(c.req.header("content-length") ?? Number.NaN);
  if (length > maxBodyBytes) return { ...record, d: true };
  try {
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.byteLength > maxBodyBytes) return { ...record, d: true };
    if (body.byteLength > 0) record.b = toBase64(body);
  } catch {
    record.d = true; // consumed outside Hono's body cache
  }
  return record;
}

/**
 * The return route's handler: Stoa sends the browser here with
 * `stoa_session_id` after checkout. It checks `state` (signature, audience,
 * expiry, used once) and the session (complete, same user), drops the user's
 * cached chargeability, and resumes: a GET is a 303 back to where it was;
 * other methods are rebuilt and handed to `onResume`. Anything else is a
 * 4xx and nothing resumes.
 *
 * @example
 * ```ts
 * app.get(
 *   "/stoa/return",
 *   paymentReturn({
 *     currentUser: (c) => c.get("session")?.userId,
 *     onResume: (c, r) => app.fetch(withCookies(r.request, c.req.raw), c.env, c.executionCtx),
 *   }),
 * );
 * ```
 */
export function paymentReturn(options: PaymentReturnOptions = {}): Handler {
  const flow = resolveFlow(options);
  if (options.onResume !== undefined && options.currentUser === undefined) {
    throw new StoaConfigError(
      "paymentReturn({ onResume }) needs currentUser: (c) => the signed-in user id, so a replay runs only as the user who was blocked.",
    );
  }
  return async function paymentReturn(c) {
    const stoa = stoaOf(c);
    const token = c.req.query("state");
    const sessionId = c.req.query("stoa_session_id");
    if (!token || !sessionId) {
      return problem(c, 400, "invalid_return", "This payment link is incomplete.");
    }
    let userId: string;
    let jti: string;
    try {
      const { payload } = await jwtVerify(token, flow.secret(c), {
        algorithms: ["HS256"],
        audience: STATE_AUDIENCE,
        requiredClaims: ["exp", "iat", "jti", "sub"],
        maxTokenAge: MAX_TTL_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      if ((payload.exp as number) - (payload.iat as number) > MAX_TTL_SECONDS) throw new Error("lifetime");
      userId = payload.sub as string;
      jti = payload.jti as string;
    } catch (error) {
      if (error instanceof StoaConfigError) throw error;
      const expired = error instanceof errors.JWTExpired;
      return problem(
        c,
        400,
        expired ? "expired_state" : "invalid_state",
        expired ? "This payment link has expired." : "This payment link is not valid.",
      );
    }
    let session: Awaited<ReturnType<Stoa["getPaymentSession"]>>;
    try {
      session = await stoa.getPaymentSession(sessionId);
    } catch (error) {
      if (error instanceof StoaAPIError && error.status === 404) {
        return problem(c, 400, "invalid_session", "No such payment session.");
      }
      throw error;
    }
    if (session.userId !== userId) {
      return problem(c, 403, "session_mismatch", "This payment belongs to another user.");
    }
    if (options.currentUser !== undefined && (await options.currentUser(c)) !== userId) {
      return problem(c, 403, "user_mismatch", "Sign in as the user who paid to continue.");
    }
    if (session.status !== "complete") {
      return problem(c, 409, "payment_incomplete", `The payment is not complete (${session.status}).`);
    }
    const stored = await flow.store(c).take(jti);
    if (stored === null) return problem(c, 409, "state_used", "This payment link was already used.");
    stoa.invalidateChargeability(userId);
    const record = JSON.parse(stored) as ResumeRecord;
    const here = new URL(c.req.url);
    const target = new URL(record.u, here);
    if (target.origin !== here.origin || !record.u.startsWith("/") || record.u.startsWith("//")) {
      return problem(c, 400, "invalid_target", "The page to return to is not on this site.");
    }
    if (record.m === "GET" || record.m === "HEAD") return c.redirect(target.href, 303);
    if (record.d === true || options.onResume === undefined) return c.redirect(new URL("/", here).href, 303);
    const headers = new Headers();
    if (record.t !== undefined) headers.set("content-type", record.t);
    const request = new Request(target, {
      method: record.m,
      headers,
      ...(record.b === undefined ? {} : { body: fromBase64(record.b) }),
    });
    return options.onResume(c, { request, userId, sessionId });
  };
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
