/**
 * `@onstoa/sdk`: usage-based billing for AI apps on edge runtimes.
 *
 * @example
 * ```ts
 * import { Stoa, StoaProvider } from "@onstoa/sdk";
 * const stoa = new Stoa({ apiKey: env.STOA_API_KEY });
 * const openai = new OpenAI({ fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId, waitUntil }) });
 * ```
 */
export type { Balance } from "./api/balances.ts";
export type { Membership } from "./api/members.ts";
export type { PaymentSession, PaymentSessionInput, PaymentSessionStatus } from "./api/payments.ts";
export type { ModelUsage, UsageSummary, UsageSummaryOptions } from "./api/usage-summary.ts";
export type { RegisterMemberOptions, SpendOptions, StoaFetchOptions, StoaOptions } from "./config.ts";
export { type DenoKvKeyPart, type DenoKvLike, type DenoKvOutboxOptions, denoKvOutbox } from "./delivery/deno-kv.ts";
export type { Delivered } from "./delivery/outbox.ts";
export type { HandleQueueOptions, QueueBatch, QueueMessage } from "./delivery/queue-consumer.ts";
export type { QueueProducer, QueueSendRequest } from "./delivery/queue-producer.ts";
export {
  type ChargeRequiredReason,
  StoaAPIError,
  StoaChargeRequiredError,
  StoaConfigError,
  StoaConnectionError,
  StoaDeliveryError,
  StoaError,
  type StoaErrorCode,
  StoaStreamError,
} from "./errors.ts";
export type { MeteredFetch } from "./meter/types.ts";
export { StoaProvider } from "./providers/index.ts";
export type { FetchLike, WaitUntil } from "./runtime.ts";
export { Stoa, type WrappableClient } from "./stoa.ts";
export type { Usage, UsageEvent, UsageEventStatus } from "./usage.ts";
export { VERSION } from "./version.ts";
