/**
 * `chargeRequired()`: an `app.onError` handler that turns a charge-required
 * error into a payment: a 303 to checkout for a browser, 402 JSON for an API
 * client, with the blocked action kept for `paymentReturn` to resume.
 */
import type { Context, ErrorHandler } from "hono";
import type { PaymentSession, PaymentSessionInput } from "../api/payments.ts";
import { StoaChargeRequiredError, StoaError } from "../errors.ts";
import type { Stoa } from "../stoa.ts";
import { logError, quietly } from "../util/hook.ts";
import {
  mintState,
  type PaymentFlowOptions,
  problem,
  resolveFlow,
  resumeKey,
  stoaOf,
  wantsHtml,
} from "./payment-flow.ts";
import { type ResumeRecord, recordOf } from "./resume-record.ts";
import { type ResumeStore, StoaStoreError, StoaStoreFullError } from "./store.ts";

/** Options of `chargeRequired`. */
export interface ChargeRequiredOptions extends PaymentFlowOptions {
  /** Prefills checkout with the user's email. */
  email?: (c: Context, userId: string) => string | undefined | Promise<string | undefined>;
  /**
   * Takes over the answer: called with the error and the payment session's
   * `checkoutUrl`, which is null when there is no checkout: Stoa says nothing
   * is owed, or the balance is positive but too low for this call
   * (`error.reason` `insufficient_balance`), or the member is suspended
   * (`member_suspended`: no payment session is made). Return a Response, or
   * undefined for the default answer.
   */
  onChargeRequired?: (
    c: Context,
    error: StoaChargeRequiredError,
    checkoutUrl: string | null,
  ) => Response | undefined | Promise<Response | undefined>;
  /**
   * Hears of what went wrong without changing the answer: a resume record
   * the store failed to keep (`StoaStoreError`: the payment still starts,
   * that request is not resumed), a payment session that could not be read
   * back (`StoaAPIError`, `StoaConnectionError`). Default: one line with
   * `console.error`. What the hook throws is ignored.
   */
  onError?: (error: StoaError, c: Context) => void | Promise<void>;
  /**
   * Handles every other error, and a failure to start the payment (Stoa
   * unreachable, a bad secret, a full store: `StoaStoreFullError`). Default:
   * Hono's own (an `HTTPException`'s response, else 500).
   */
  fallback?: ErrorHandler;
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
 * When there is no checkout to send the user to, the answer says why (a
 * small HTML page for a browser, JSON for an API client, `checkoutUrl: null`):
 * - 402 `balance_too_low`: the block's reason is `insufficient_balance` and
 *   Stoa makes no checkout (the balance is above 0 but below the call's
 *   worst case); with `requiredUsd` and `availableUsd` from the error (null
 *   when unknown). A retry is blocked the same way.
 * - 403 `member_suspended`: a payment cannot lift a suspension, so no
 *   payment session is made.
 * - 409 `retry`: Stoa says nothing is owed any more (a stale block).
 *
 * One user's blocked requests share one return URL for half the state's
 * lifetime, and so one open payment session; the store keeps one record per
 * user and session, the latest blocked action, which is the one resumed. A
 * session Stoa hands back that is no longer open (its idempotency slot
 * replays the answer of a session paid since) is not used: a new one is
 * asked for, under a return URL that names the old one.
 *
 * @throws {StoaConfigError} at set-up, for a bad `secret`, `returnPath`, `stateTtlSeconds` or `maxBodyBytes`.
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
  const report = quietly(options.onError ?? logError);
  return async function chargeRequired(error, c) {
    const blocked = StoaChargeRequiredError.from(error);
    if (blocked === null) return fallback(error, c);
    try {
      return blocked.reason === "member_suspended" ? await suspended(c, blocked) : await startPayment(c, blocked);
    } catch (failure) {
      // Stoa unreachable, a bad secret or returnUrl, a full store: the app's own error path
      return fallback(failure instanceof Error ? failure : new Error(String(failure)), c);
    }
  };

  /** A suspended member: no payment session, since paying cannot lift it. */
  async function suspended(c: Context, blocked: StoaChargeRequiredError): Promise<Response> {
    const taken = await options.onChargeRequired?.(c, blocked, null);
    if (taken !== undefined) return taken;
    const message = "This account is suspended: a payment cannot lift that.";
    return problem(c, 403, { code: "member_suspended", reason: blocked.reason, message }, { checkoutUrl: null });
  }

  /** Starts (or finds) the user's payment session, keeps the blocked action, and answers. */
  async function startPayment(c: Context, blocked: StoaChargeRequiredError): Promise<Response> {
    const stoa = stoaOf(c);
    const store = flow.store(c);
    const state = await mintState(flow, flow.secret(c), blocked.userId);
    const record = await recordOf(c, flow.maxBodyBytes);
    const returnUrl = new URL(flow.returnPath, c.req.url);
    returnUrl.search = new URLSearchParams({ state: state.token }).toString();
    const email = await options.email?.(c, blocked.userId);
    const session = await openSession(c, stoa, {
      userId: blocked.userId,
      returnUrl: returnUrl.href,
      ...(email === undefined ? {} : { email }),
    });
    if (session.checkoutUrl === null) stoa.invalidateChargeability(blocked.userId);
    else await keep(c, store, resumeKey(state.jti, session.id), record, state.keepSeconds);
    const taken = await options.onChargeRequired?.(c, blocked, session.checkoutUrl);
    if (taken !== undefined) return taken;
    if (session.checkoutUrl === null) return noCheckout(c, blocked);
    if (wantsHtml(c)) return c.redirect(session.checkoutUrl, 303);
    return c.json(
      {
        error: { code: "charge_required", reason: blocked.reason, message: "Payment is required to continue." },
        checkoutUrl: session.checkoutUrl,
      },
      402,
    );
  }

  /**
   * The session to send the user to. Stoa replays its stored answer for a
   * repeated call within one idempotency slot (2 minutes), so an `open`
   * session may have been paid since: it is read back, and when it is no
   * longer open a new one is asked for, once, under a return URL that names
   * it (another body, so another key). A failed read keeps the answer.
   */
  async function openSession(c: Context, stoa: Stoa, input: PaymentSessionInput): Promise<PaymentSession> {
    const session = await stoa.createPaymentSession(input);
    if (session.status !== "open") return session;
    let now: PaymentSession;
    try {
      now = await stoa.getPaymentSession(session.id);
    } catch (error) {
      if (!(error instanceof StoaError)) throw error;
      report(error, c);
      return session;
    }
    if (now.status === "open") return session;
    const returnUrl = new URL(input.returnUrl);
    returnUrl.searchParams.set("after", session.id);
    return stoa.createPaymentSession({ ...input, returnUrl: returnUrl.href });
  }

  /**
   * Keeps the record of the blocked action. A full store refuses the payment
   * (`StoaStoreFullError`, thrown on); any other failure only loses this
   * request's resume (`StoaStoreError` to `onError`).
   */
  async function keep(c: Context, store: ResumeStore, key: string, record: ResumeRecord, ttl: number): Promise<void> {
    try {
      await store.put(key, JSON.stringify(record), ttl);
    } catch (failure) {
      if (failure instanceof StoaStoreFullError) throw failure;
      report(new StoaStoreError(failure), c);
    }
  }
}

/** The answer when Stoa makes no checkout: a balance too low for this call, or nothing owed. */
function noCheckout(c: Context, blocked: StoaChargeRequiredError): Response {
  if (blocked.reason !== "insufficient_balance") {
    return problem(c, 409, { code: "retry", message: "Nothing is owed any more: try again." }, { checkoutUrl: null });
  }
  const { requiredUsd, availableUsd } = blocked;
  const figures =
    requiredUsd === undefined || availableUsd === undefined
      ? ""
      : `: it needs up to ${usd(requiredUsd)} and ${usd(availableUsd)} is available`;
  return problem(
    c,
    402,
    { code: "balance_too_low", reason: blocked.reason, message: `The balance does not cover this request${figures}.` },
    { checkoutUrl: null, requiredUsd: requiredUsd ?? null, availableUsd: availableUsd ?? null },
  );
}

/** An amount in USD for people: cents from $1, else three significant digits. */
function usd(amount: number): string {
  if (Math.abs(amount) >= 1) return `$${amount.toFixed(2)}`;
  return `$${amount.toLocaleString("en-US", { maximumSignificantDigits: 3 })}`;
}
