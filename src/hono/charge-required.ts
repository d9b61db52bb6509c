/**
 * `chargeRequired()`: an `app.onError` handler that turns a charge-required
 * error into a payment: a 303 to checkout for a browser, 402 JSON for an API
 * client, with the blocked action kept for `paymentReturn` to resume.
 */
import type { Context, ErrorHandler } from "hono";
import { StoaChargeRequiredError } from "../errors.ts";
import {
  mintState,
  type PaymentFlowOptions,
  problem,
  resolveFlow,
  resumeKey,
  stoaOf,
  wantsHtml,
} from "./payment-flow.ts";
import { recordOf } from "./resume-record.ts";

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
 * One user's blocked requests share one return URL for half the state's
 * lifetime, and so one open payment session; the store keeps one record per
 * user and session, the latest blocked action, which is the one resumed.
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
  return async function chargeRequired(error, c) {
    const blocked = StoaChargeRequiredError.from(error);
    if (blocked === null) return fallback(error, c);
    try {
      return await startPayment(c, blocked);
    } catch (failure) {
      // Stoa unreachable, a bad secret or returnUrl, a full store: the app's own error path
      return fallback(failure instanceof Error ? failure : new Error(String(failure)), c);
    }
  };

  async function startPayment(c: Context, blocked: StoaChargeRequiredError): Promise<Response> {
    const stoa = stoaOf(c);
    const store = flow.store(c);
    const state = await mintState(flow, flow.secret(c), blocked.userId);
    const record = await recordOf(c, flow.maxBodyBytes);
    const returnUrl = new URL(flow.returnPath, c.req.url);
    returnUrl.search = new URLSearchParams({ state: state.token }).toString();
    const email = await options.email?.(c, blocked.userId);
    const session = await stoa.createPaymentSession({
      userId: blocked.userId,
      returnUrl: returnUrl.href,
      ...(email === undefined ? {} : { email }),
    });
    if (session.checkoutUrl === null) stoa.invalidateChargeability(blocked.userId);
    else await store.put(resumeKey(state.jti, session.id), JSON.stringify(record), state.keepSeconds);
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
