/**
 * `paymentReturn()`: the route Stoa sends the browser back to after
 * checkout. It checks the `state` and the payment, takes the pending record
 * once and resumes the blocked action; a return that resumes nothing ends in
 * a {@link PaymentOutcome} the app can render.
 */
import type { Context, Handler } from "hono";
import type { PaymentSession } from "../api/payments.ts";
import { StoaAPIError, StoaConfigError } from "../errors.ts";
import type { Stoa } from "../stoa.ts";
import { type PaymentFlowOptions, resolveFlow, resumeKey, stoaOf, verifyState } from "./payment-flow.ts";
import { defaultRenderOutcome, type PaymentOutcome } from "./payment-outcome.ts";
import { isLocalPath, readRecord, requestOf } from "./resume-record.ts";

/** The blocked action, as the return route hands it back. */
export interface RestoredAction {
  /** The original request, rebuilt: method, URL (this origin), `content-type`, body. */
  request: Request;
  /** The user who paid. */
  userId: string;
  /** The completed payment session's id. */
  sessionId: string;
  /** The completed payment session, as Stoa reported it on this return. */
  session: PaymentSession;
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
  /**
   * Answers a return that resumes nothing: checkout cancelled (the session
   * is still `open`), an expired link or session, a session paid on a link
   * that expired meanwhile (`paid`), a link already used, or one that failed
   * its checks. Default {@link defaultRenderOutcome}: a small
   * styled HTML page with a link back to the app for browsers
   * (`Accept: text/html`), `{"error":{"code","message"}}` for API clients,
   * with `outcome.status`. Call it from your own to keep some defaults.
   *
   * @example
   * ```ts
   * renderOutcome: (c, outcome) =>
   *   outcome.kind === "cancelled" ? c.redirect("/?payment=cancelled", 303) : defaultRenderOutcome(c, outcome),
   * ```
   */
  renderOutcome?: (c: Context, outcome: PaymentOutcome) => Response | Promise<Response>;
}

/** A payment session id as the contract allows it (`[A-Za-z0-9_-]`), with a sane length. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * The return route's handler: Stoa sends the browser here with
 * `stoa_session_id` after checkout. It checks `state` (signature, audience,
 * expiry) and the session (complete, same user), takes the pending record
 * (once: of concurrent returns with one link, one resumes), drops the
 * user's cached chargeability, and resumes: a GET is a 303 back to where it
 * was; other methods are rebuilt and handed to `onResume`. Anything else
 * resumes nothing and is answered by `renderOutcome` (default: a 4xx page or
 * JSON, see {@link defaultRenderOutcome}). A genuine `state` past its expiry
 * resumes nothing either, but its session is still read: a payment that
 * went through is reported as `paid` (`paid_not_resumed`), never as nothing
 * charged.
 *
 * @throws {StoaConfigError} at set-up, for bad options or `onResume` without `currentUser`.
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
  const render = options.renderOutcome ?? defaultRenderOutcome;
  const problem = (c: Context, outcome: PaymentOutcome) => render(c, outcome);
  return async function paymentReturn(c) {
    const stoa = stoaOf(c);
    const token = c.req.query("state");
    const sessionId = c.req.query("stoa_session_id");
    if (!token || !sessionId) {
      return problem(c, failed(400, "invalid_return", "This payment link is incomplete."));
    }
    if (!SESSION_ID.test(sessionId)) return problem(c, failed(400, "invalid_session", "No such payment session."));
    const state = await verifyState(flow, c, token);
    if ("refused" in state) {
      if (state.refused === "expired_state" && state.userId !== undefined) {
        return lateReturn(c, stoa, state.userId, sessionId);
      }
      return problem(
        c,
        state.refused === "expired_state"
          ? { kind: "expired", status: 400, code: "expired_state", message: EXPIRED, sessionId }
          : failed(400, "invalid_state", "This payment link is not valid.", { sessionId }),
      );
    }
    const { userId, jti } = state;
    const checked = await checkSession(c, stoa, userId, sessionId);
    if ("outcome" in checked) return problem(c, checked.outcome);
    const { session } = checked;
    const withSession = { userId, sessionId, session };
    if (session.status !== "complete") {
      const kind = session.status === "open" ? "cancelled" : session.status === "expired" ? "expired" : "failed";
      const message = `The payment is not complete (${session.status}).`;
      return problem(c, { kind, status: 409, code: "payment_incomplete", message, ...withSession });
    }
    const store = flow.store(c);
    // a record of a state made before records were keyed by session sits under the bare jti
    const stored = (await store.take(resumeKey(jti, sessionId))) ?? (await store.take(jti));
    if (stored === null) {
      return problem(c, {
        kind: "used",
        status: 409,
        code: "state_used",
        message: "This payment link was already used.",
        ...withSession,
      });
    }
    stoa.invalidateChargeability(userId);
    const record = readRecord(stored);
    if (record === null || !isLocalPath(record.path)) {
      return problem(c, failed(400, "invalid_target", "The page to return to is not on this site.", withSession));
    }
    const here = new URL(c.req.url);
    const target = new URL(record.path, here);
    if (record.method === "GET" || record.method === "HEAD") return c.redirect(target.href, 303);
    if (record.bodyDropped === true || options.onResume === undefined) return c.redirect(new URL("/", here).href, 303);
    return options.onResume(c, { request: requestOf(record, target), userId, sessionId, session });
  };

  /**
   * The session of a return, read from Stoa and checked: it exists, it is
   * `userId`'s, and `userId` is the signed-in user (when `currentUser` is
   * given); else the outcome that says which check failed.
   */
  async function checkSession(
    c: Context,
    stoa: Stoa,
    userId: string,
    sessionId: string,
  ): Promise<{ session: PaymentSession } | { outcome: PaymentOutcome }> {
    const known = { userId, sessionId };
    let session: PaymentSession;
    try {
      session = await stoa.getPaymentSession(sessionId);
    } catch (error) {
      if (error instanceof StoaAPIError && error.status === 404) {
        return { outcome: failed(400, "invalid_session", "No such payment session.", known) };
      }
      throw error;
    }
    if (session.userId !== userId) {
      return { outcome: failed(403, "session_mismatch", "This payment belongs to another user.", known) };
    }
    if (options.currentUser !== undefined && (await options.currentUser(c)) !== userId) {
      const message = "Sign in as the user who paid to continue.";
      return { outcome: failed(403, "user_mismatch", message, { ...known, session }) };
    }
    return { session };
  }

  /**
   * A return with a genuine `state` past its `exp`: nothing is resumed (a
   * state is not used past its lifetime), but the session is read, so a
   * payment that went through is reported as such (`paid_not_resumed`, and
   * the user's cached chargeability dropped), never as nothing charged.
   */
  async function lateReturn(c: Context, stoa: Stoa, userId: string, sessionId: string): Promise<Response> {
    const checked = await checkSession(c, stoa, userId, sessionId);
    if ("outcome" in checked) return problem(c, checked.outcome);
    const withSession = { userId, sessionId, session: checked.session };
    if (checked.session.status !== "complete") {
      return problem(c, { kind: "expired", status: 400, code: "expired_state", message: EXPIRED, ...withSession });
    }
    stoa.invalidateChargeability(userId);
    return problem(c, {
      kind: "paid",
      status: 409,
      code: "paid_not_resumed",
      message:
        "Your payment went through, but this link expired before you came back, so what you were doing was not resumed.",
      ...withSession,
    });
  }
}

const EXPIRED = "This payment link has expired.";

/** A `failed` outcome. */
function failed(
  status: 400 | 403,
  code: PaymentOutcome["code"],
  message: string,
  known: Partial<Pick<PaymentOutcome, "userId" | "sessionId" | "session">> = {},
): PaymentOutcome {
  return { kind: "failed", status, code, message, ...known };
}
