/**
 * The `Stoa` object: one per app (or per isolate). It hands out metering
 * fetches and delivers their usage events in the background.
 */

import type { Balance } from "./api/balances.ts";
import { createApiClient } from "./api/client.ts";
import type { Membership } from "./api/members.ts";
import type { PaymentSession, PaymentSessionInput } from "./api/payments.ts";
import type { ApiClient } from "./api/types.ts";
import type { UsageSummary, UsageSummaryOptions } from "./api/usage-summary.ts";
import {
  checkFetchOptions,
  type RegisterMemberOptions,
  resolveConfig,
  resolveSpend,
  type StoaFetchOptions,
  type StoaOptions,
} from "./config.ts";
import { createOutbox, type Outbox } from "./delivery/outbox.ts";
import type { HandleQueueOptions, QueueBatch } from "./delivery/queue-consumer.ts";
import { loadingQueueOutbox } from "./delivery/queue-outbox-loader.ts";
import { checkQueueProducer } from "./delivery/queue-producer.ts";
import { vercelRequestContext } from "./delivery/wait-until.ts";
import { StoaConfigError, StoaConnectionError } from "./errors.ts";
import { type ChargeabilityGate, createChargeabilityGate } from "./gate/chargeability.ts";
import { meteredFetch } from "./meter/fetch-loader.ts";
import { type MeteredFetch, UPSTREAM } from "./meter/types.ts";
import { type FetchLike, globalFetch, readEnv, requestsShareIo, type WaitUntil } from "./runtime.ts";
import type { CallAdmission, CallGate } from "./spend/call-gate.ts";
import { loadingCallGate } from "./spend/gate-loader.ts";
import { logError, quietly } from "./util/hook.ts";
import { createTurns } from "./util/turns.ts";

/** A provider SDK client that can be rebuilt with another fetch (openai ≥ 5, @anthropic-ai/sdk ≥ 0.50). */
export interface WrappableClient<T> {
  withOptions(options: { fetch: FetchLike }): T;
}

/**
 * The Stoa client.
 *
 * @example
 * ```ts
 * const stoa = new Stoa({ apiKey: env.STOA_API_KEY });
 * const openai = new OpenAI({
 *   apiKey: env.OPENAI_API_KEY,
 *   fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId, waitUntil: ctx.waitUntil.bind(ctx) }),
 * });
 * ```
 */
export class Stoa {
  readonly #api: ApiClient;
  /** For queue consumers: a short retry budget, since the queue retries what fails. */
  readonly #queueApi: ApiClient;
  readonly #registrationSecret: string | undefined;
  readonly #outbox: Outbox;
  readonly #chargeability: ChargeabilityGate;
  readonly #gate: CallGate;
  readonly #onError: (error: Error) => void;
  readonly #pending = new Set<Promise<unknown>>();

  /** @throws {StoaConfigError} when no API key is given or found in the environment, or `onError` is not a function. */
  constructor(options: StoaOptions = {}) {
    const config = resolveConfig(options);
    if (options.onError !== undefined && typeof options.onError !== "function") {
      // a logger object, say: every report (events not delivered among them) would be lost in a TypeError
      throw new StoaConfigError("onError must be a function, e.g. `onError: (error) => logger.error(error)`.");
    }
    // a failing hook, sync or async, must not break the app or delivery
    this.#onError = quietly(options.onError ?? logError);
    const api = createApiClient({
      apiKey: config.apiKey,
      baseUrl: config.baseUrl,
      fetch: config.fetch,
      timeoutMs: Math.min(10_000, config.retryBudgetMs),
      retry: { budgetMs: config.retryBudgetMs },
    });
    this.#api = api;
    this.#registrationSecret = options.registrationSecret;
    this.#queueApi = createApiClient({
      apiKey: config.apiKey,
      baseUrl: config.baseUrl,
      fetch: config.fetch,
      timeoutMs: Math.min(10_000, config.retryBudgetMs),
      retry: { budgetMs: Math.min(QUEUE_RETRY_BUDGET_MS, config.retryBudgetMs) },
    });
    // where requests may share I/O (Node, Bun), concurrent requests' events share batches
    const direct = createOutbox({ api, onError: this.#onError, shareLanes: requestsShareIo() });
    this.#outbox =
      "outbox" in options
        ? loadingQueueOutbox({ producer: checkQueueProducer(options.outbox), fallback: direct, onError: this.#onError })
        : direct;
    if (
      options.whenUnavailable !== undefined &&
      options.whenUnavailable !== "allow" &&
      options.whenUnavailable !== "block"
    ) {
      throw new StoaConfigError('whenUnavailable must be "allow" or "block".');
    }
    const spend = resolveSpend(options.spend);
    const turns = createTurns(); // every request made before a call, at most 32 at once
    this.#chargeability = createChargeabilityGate({
      api,
      turns,
      onError: this.#onError,
      ...(options.whenUnavailable === undefined ? {} : { whenUnavailable: options.whenUnavailable }),
      ...(options.chargeabilityTimeoutMs === undefined ? {} : { timeoutMs: options.chargeabilityTimeoutMs }),
    });
    const chargeability = this.#chargeability;
    const whenUnavailable = options.whenUnavailable ?? "allow";
    // the spend-hold code loads with the first call's admission (see spend/gate-loader.ts)
    this.#gate = loadingCallGate(
      (module) =>
        spend === false
          ? module.chargeabilityCallGate(chargeability)
          : module.createSpendGate({
              api,
              chargeability,
              onError: this.#onError,
              whenUnavailable,
              timeoutMs: options.chargeabilityTimeoutMs ?? 2_000,
              turns,
              holdUsd: spend.holdUsd,
              holdTtlSeconds: spend.holdTtlSeconds,
              keepAlive: (work, waitUntil) => this.#keepAlive(work, waitUntil),
            }),
      (cause) => {
        const allow = whenUnavailable === "allow";
        this.#onError(
          new StoaConnectionError(
            `The spend gate's code could not be loaded; the call was ${allow ? "allowed without a check" : "blocked"} (whenUnavailable: "${whenUnavailable}").`,
            { cause },
          ),
        );
        return allow ? UNGATED : { allowed: false, reason: "unavailable" };
      },
    );
  }

  /**
   * Keeps background work for `flush()`, and inside the call's `waitUntil`
   * when it has one, else Vercel's request context's (as the outbox does).
   */
  #keepAlive(work: Promise<unknown>, waitUntil: WaitUntil | undefined): void {
    const settled: Promise<unknown> = work.then(
      () => this.#pending.delete(settled),
      () => this.#pending.delete(settled),
    );
    this.#pending.add(settled);
    try {
      if (waitUntil !== undefined) waitUntil(settled);
      else vercelRequestContext()?.waitUntil(settled);
    } catch {
      // a waitUntil called after its request: flush() still awaits the work
    }
  }

  /**
   * A metering fetch for one user's calls to one provider: pass it as the
   * `fetch` option of the provider's SDK. Create one per request on Workers,
   * with that request's `waitUntil`.
   *
   * @throws {StoaConfigError} for an unknown provider, bad metadata, or a userId not of the valid
   * form (1 to 256 UTF-16 code units of well-formed text, not `.` or `..`), before anything is sent.
   */
  fetch(options: StoaFetchOptions): MeteredFetch {
    const provider = checkFetchOptions(options);
    return meteredFetch(
      {
        emit: (event, waitUntil) => this.#outbox.add(event, waitUntil),
        onError: this.#onError,
        track: (work, waitUntil) => this.#keepAlive(work, waitUntil),
      },
      {
        provider,
        userId: options.userId,
        metadata: options.metadata === undefined ? undefined : { ...options.metadata },
        waitUntil: options.waitUntil,
        fetch: options.fetch ?? globalFetch,
        gate: options.checkChargeability === false ? undefined : this.#gate,
      },
    );
  }

  /**
   * The same client rebuilt with a metering fetch (`client.withOptions`): same
   * class, no Proxy. The client's own fetch, if it had one, stays upstream;
   * wrapping a wrapped client replaces the meter rather than stacking two.
   *
   * @example
   * ```ts
   * const claude = stoa.wrap(new Anthropic(), { provider: StoaProvider.Anthropic, userId });
   * ```
   */
  wrap<T extends WrappableClient<T>>(client: T, options: StoaFetchOptions): T {
    if (typeof (client as Partial<WrappableClient<T>> | null)?.withOptions !== "function") {
      throw new StoaConfigError(
        "stoa.wrap() takes a client with withOptions() (openai ≥ 5, @anthropic-ai/sdk ≥ 0.50); for other clients pass `fetch: stoa.fetch({ … })`.",
      );
    }
    let upstream = options.fetch ?? (client as { fetch?: unknown }).fetch;
    if (typeof upstream === "function" && UPSTREAM in upstream) upstream = (upstream as MeteredFetch)[UPSTREAM];
    const own = typeof upstream === "function" && upstream !== globalThis.fetch ? (upstream as FetchLike) : undefined;
    const fetch = this.fetch(own === undefined ? { ...options, fetch: globalFetch } : { ...options, fetch: own });
    return client.withOptions({ fetch });
  }

  /**
   * Drops the cached chargeability answer for `userId`, so the next metered
   * call asks Stoa again. Call it when the user returns from a payment.
   */
  invalidateChargeability(userId: string): void {
    this.#chargeability.invalidate(userId);
  }

  /**
   * Starts a payment for a user who cannot be charged: the PaymentSession of
   * the contract, whose `checkoutUrl` the user opens (null when nothing is
   * owed: `status: "not_required"`). Creates the member if needed. Calls for
   * the same user and `returnUrl` get the same open session.
   *
   * @throws {StoaConfigError} for a bad `returnUrl` (absolute `https`, or `http` on loopback), before anything is sent.
   * @throws {StoaAPIError} when Stoa refuses. @throws {StoaConnectionError} when Stoa cannot be reached.
   */
  async createPaymentSession(input: PaymentSessionInput): Promise<PaymentSession> {
    const { createPaymentSession } = await import("./api/payments.ts"); // loaded when first needed
    return createPaymentSession(this.#api, input);
  }

  /**
   * Reads a payment session as it is now. The way to learn how checkout
   * ended: the `stoa_session_id` in the return URL proves nothing by itself.
   * A `complete` session drops its user's cached chargeability.
   */
  async getPaymentSession(id: string): Promise<PaymentSession> {
    const { getPaymentSession } = await import("./api/payments.ts");
    const session = await getPaymentSession(this.#api, id);
    if (session.status === "complete") this.#chargeability.invalidate(session.userId);
    return session;
  }

  /**
   * What a user used over a window (default: the last 30 days): events,
   * tokens and cost, in all and by provider and model, as Stoa counts them.
   *
   * @example
   * ```ts
   * const { usage, costUsd } = await stoa.getUsage(userId, { from: new Date(Date.now() - 7 * 864e5) });
   * ```
   * @throws {StoaConfigError} for a `userId` not of the valid form or an invalid date. @throws {StoaAPIError} when Stoa refuses.
   */
  async getUsage(userId: string, options?: UsageSummaryOptions): Promise<UsageSummary> {
    const { getUsageSummary } = await import("./api/usage-summary.ts");
    return getUsageSummary(this.#api, userId, options);
  }

  /**
   * What a user has: balance, the part held by spend holds of calls in
   * flight, and what is available to new calls, with the chargeability
   * answer. For apps to show their users what they have left.
   *
   * @example
   * ```ts
   * const { availableUsd } = await stoa.getBalance(userId);
   * ```
   * @throws {StoaConfigError} for a `userId` not of the valid form. @throws {StoaAPIError} when Stoa refuses.
   * @throws {StoaConnectionError} when Stoa cannot be reached.
   */
  async getBalance(userId: string): Promise<Balance> {
    const { getBalance } = await import("./api/balances.ts");
    return getBalance(this.#api, userId);
  }

  /**
   * Registers the app's user as a Stoa member with a signed registration
   * token (HS256 over `registrationSecret`, default `STOA_REGISTRATION_SECRET`).
   * Idempotent per `userId`: a known user comes back with `created: false`.
   *
   * @throws {StoaConfigError} when no registration secret is given or found.
   */
  async registerMember(input: RegisterMemberOptions): Promise<Membership> {
    const registrationSecret =
      input.registrationSecret ?? this.#registrationSecret ?? readEnv("STOA_REGISTRATION_SECRET");
    if (registrationSecret === undefined || registrationSecret === "") {
      throw new StoaConfigError(
        "No registration secret: pass registerMember({ registrationSecret }) or new Stoa({ registrationSecret }) (on Workers: env.STOA_REGISTRATION_SECRET), or set STOA_REGISTRATION_SECRET.",
      );
    }
    const { registrationSecret: _, ...claims } = input;
    const { registerMember } = await import("./api/members.ts");
    return registerMember(this.#api, { ...claims, registrationSecret });
  }

  /**
   * The `queue()` handler of a Cloudflare Queues consumer of the `outbox`
   * queue: delivers the batch's events to Stoa, acks each message whose
   * events Stoa stored or rejected (rejected events reach `onError`),
   * retries with a growing delay what failed, and acks (and reports) a
   * message that is not a Stoa usage batch (or cannot be read). Redelivery
   * never bills twice. Pass the consumer's `max_retries` so `onError` hears
   * of the events of a message on its way to the dead-letter queue.
   *
   * @throws {StoaConfigError} for a `maxRetries` that is not an integer from 0 to 100, before any message is acked.
   *
   * @example
   * ```ts
   * export default {
   *   async queue(batch, env) {
   *     await new Stoa({ apiKey: env.STOA_API_KEY }).handleQueue(batch, { maxRetries: 10 });
   *   },
   * };
   * ```
   */
  async handleQueue(batch: QueueBatch, options?: HandleQueueOptions): Promise<void> {
    const { consumeQueueBatch } = await import("./delivery/queue-consumer.ts"); // consumers only
    return consumeQueueBatch(this.#queueApi, batch, this.#onError, options);
  }

  /**
   * The `kv.listenQueue` handler for `denoKvOutbox(kv)`: resolves `false`
   * for a value that is not a Stoa message (the app's own), `true` once its
   * events are stored or rejected (rejected events reach `onError`), and
   * throws a `StoaDeliveryError` when Stoa failed, so that Deno retries it
   * (`onError` hears of each such attempt, with the events: it may hear of
   * the same events more than once, and Stoa stores them once).
   * After Deno's last retry the message is kept under
   * `["stoa", "undelivered", …]`: pass each such value to this method again to replay it.
   */
  async handleDenoQueue(value: unknown): Promise<boolean> {
    const { consumeDenoQueueValue } = await import("./delivery/queue-consumer.ts"); // consumers only
    return consumeDenoQueueValue(this.#queueApi, value, this.#onError);
  }

  /**
   * Resolves once every usage event so far is delivered or handed to
   * `onError`. Never throws. Call it before a process or a request without
   * `waitUntil` ends. A metered response the app has not begun to read is
   * read by the meter after 5 s and billed; `flush()` waits for that. Calls
   * that start while it waits are not waited for, so it ends on a busy
   * server too.
   */
  async flush(): Promise<void> {
    // metering still reading a cancelled or unread body first: its event joins this flush. Each wait
    // takes the work there is when it starts: a busy server's other requests never run out of it
    await Promise.all([...this.#pending]);
    // every spend hold retires: idle ones are released now, the rest once their events are delivered
    const holds = this.#gate.flush();
    await this.#outbox.flush();
    await holds;
    // the releases of holds whose events this flush delivered
    await Promise.all([...this.#pending]);
  }
}

/** The admission of a call let through without a gate. */
const UNGATED: CallAdmission = { allowed: true, holdId: undefined, settle: () => {}, cancel: () => {} };

/** One queue delivery's retry budget: the queue's own retries take over after it. */
const QUEUE_RETRY_BUDGET_MS = 5_000;
