/**
 * `@onstoa/sdk/hono`: Stoa for Hono apps. `stoa()` puts one `Stoa` per app on
 * `c.var.stoa`; `meteredFetch(c, …)` hands out a metering fetch that keeps
 * delivery alive with `c.executionCtx.waitUntil`; `chargeRequired()` and
 * `paymentReturn()` turn a blocked call into a payment and resume it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { chargeRequired, meteredFetch, paymentReturn, stoa } from "@onstoa/sdk/hono";
 *
 * const app = new Hono<{ Bindings: Env }>();
 * app.use(stoa());
 * app.onError(chargeRequired());
 * app.get("/stoa/return", paymentReturn({ currentUser: (c) => c.req.header("x-user-id") }));
 * app.post("/chat", async (c) => {
 *   const openai = new OpenAI({ fetch: meteredFetch(c, { provider: "openai", userId: c.req.header("x-user-id")! }) });
 *   return c.json(await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }));
 * });
 * ```
 */
import type { Context, MiddlewareHandler } from "hono";
import type { StoaFetchOptions, StoaOptions } from "../config.ts";
import type { QueueProducer } from "../delivery/queue-outbox.ts";
import { StoaConfigError } from "../errors.ts";
import type { MeteredFetch } from "../meter/types.ts";
import type { WaitUntil } from "../runtime.ts";
import { Stoa } from "../stoa.ts";

export { type ChargeRequiredOptions, chargeRequired } from "./charge-required.ts";
export { type PaymentFlowOptions, STATE_AUDIENCE } from "./payment-flow.ts";
export { defaultRenderOutcome, type PaymentOutcome } from "./payment-outcome.ts";
export { type PaymentReturnOptions, paymentReturn, type RestoredAction } from "./payment-return.ts";
export {
  type KVNamespaceLike,
  kvStore,
  type MemoryStore,
  type MemoryStoreOptions,
  memoryStore,
  type ResumeStore,
  StoaStoreError,
  StoaStoreFullError,
} from "./store.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The app's `Stoa`, set by the `stoa()` middleware. */
    stoa: Stoa;
  }
}

/** Options of `stoa()`: `StoaOptions`, or a ready `Stoa` as `client`. */
export interface StoaMiddlewareOptions extends StoaOptions {
  /** Use this client instead of making one. */
  client?: Stoa;
}

interface StoaBindings {
  STOA_API_KEY?: string;
  STOA_BASE_URL?: string;
  STOA_REGISTRATION_SECRET?: string;
  STOA_EVENTS?: QueueProducer;
}

/**
 * Makes one `Stoa` for the app, on first request, and sets it as
 * `c.var.stoa`. Options win over `c.env` (`STOA_API_KEY`, `STOA_BASE_URL`,
 * `STOA_REGISTRATION_SECRET`, and `STOA_EVENTS`: a Queues producer binding,
 * taken as the `outbox` when bound).
 *
 * @throws {StoaConfigError} on the first request, when no API key is found.
 *
 * @example
 * ```ts
 * app.use(stoa());
 * app.get("/usage", async (c) => c.json(await c.var.stoa.createPaymentSession({ userId, returnUrl })));
 * ```
 */
export function stoa(options: StoaMiddlewareOptions = {}): MiddlewareHandler {
  const { client, ...stoaOptions } = options;
  let instance = client;
  return async function stoa(c, next) {
    if (instance === undefined) {
      const env = (c.env ?? {}) as StoaBindings;
      instance = new Stoa({
        ...pick(env),
        ...stoaOptions,
      });
    }
    c.set("stoa", instance);
    await next();
  };
}

function pick(env: StoaBindings): StoaOptions {
  const options: StoaOptions = {};
  if (typeof env.STOA_API_KEY === "string" && env.STOA_API_KEY !== "") options.apiKey = env.STOA_API_KEY;
  if (typeof env.STOA_BASE_URL === "string" && env.STOA_BASE_URL !== "") options.baseUrl = env.STOA_BASE_URL;
  if (typeof env.STOA_REGISTRATION_SECRET === "string" && env.STOA_REGISTRATION_SECRET !== "") {
    options.registrationSecret = env.STOA_REGISTRATION_SECRET;
  }
  if (env.STOA_EVENTS !== undefined) options.outbox = env.STOA_EVENTS;
  return options;
}

/**
 * `c.var.stoa.fetch(options)`, with `c.executionCtx.waitUntil` when the
 * request has an execution context and `options` names no `waitUntil`.
 *
 * @throws {StoaConfigError} when `stoa()` did not run, for a bad provider or a missing userId.
 */
export function meteredFetch(c: Context, options: StoaFetchOptions): MeteredFetch {
  const client = c.get("stoa");
  if (client === undefined) {
    throw new StoaConfigError("No c.var.stoa: add app.use(stoa()) before the routes.");
  }
  return client.fetch(options.waitUntil === undefined ? withWaitUntil(c, options) : options);
}

function withWaitUntil(c: Context, options: StoaFetchOptions): StoaFetchOptions {
  let waitUntil: WaitUntil | undefined;
  try {
    const ctx = c.executionCtx; // throws when there is none
    waitUntil = ctx.waitUntil.bind(ctx);
  } catch {
    // no execution context (Node, Bun): delivery waits for stoa.flush()
  }
  return waitUntil === undefined ? options : { ...options, waitUntil };
}
