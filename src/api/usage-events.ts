/**
 * Usage events (`stoa-api.md`, "Usage events"): `POST /v1/usage/events`,
 * the limits of one batch, and the `rejected` list of its answer read from
 * `unknown`.
 */
import { StoaAPIError, StoaDeliveryError } from "../errors.ts";
import type { UsageEvent } from "../usage.ts";
import type { ApiClient } from "./types.ts";

/** At most this many events in one `POST /v1/usage/events`. */
export const MAX_BATCH_EVENTS = 500;

/** At most this many bytes in one request body (1 MiB). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** At most this many bytes of JSON in one event (64 KiB); a larger one is rejected as `event_too_large`. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** The bytes `{"events":[` and `]}` add around the events. */
export const ENVELOPE_BYTES = 13;

/** One entry of an answer's `rejected`: an event that will never be accepted. */
export interface Rejection {
  /** The event's id; `null` when the server could not read one. */
  id: string | null;
  /** `missing_field`, `invalid_field`, `event_too_large`, or a newer code. */
  code: string;
  message: string;
}

/** What a `POST /v1/usage/events` came to: every event not in `rejected` is stored. */
export interface UsageEventsResult {
  rejected: Rejection[];
}

/**
 * Sends one batch. Retries follow the client's policy with the same
 * `idempotencyKey` and body. Any 2xx means stored, whatever its body: a 2xx
 * whose body is not JSON, or has no readable `rejected`, rejects nothing.
 * `serialised`, when the caller has it, is `JSON.stringify` of each event,
 * in order: the body is joined from it rather than serialised again.
 *
 * @throws {StoaAPIError} for a non-2xx answer (after retries, when retryable).
 * @throws {StoaConnectionError} when Stoa cannot be reached within the budget.
 */
export async function postUsageEvents(
  api: ApiClient,
  events: readonly UsageEvent[],
  idempotencyKey: string,
  serialised?: readonly string[],
): Promise<UsageEventsResult> {
  let answer: unknown;
  const body = serialised === undefined ? { body: { events } } : { json: `{"events":[${serialised.join(",")}]}` };
  try {
    answer = await api.request("POST", "/v1/usage/events", { ...body, idempotencyKey });
  } catch (error) {
    if (error instanceof StoaAPIError && error.status >= 200 && error.status <= 299) return { rejected: [] };
    throw error;
  }
  return { rejected: readRejected(answer) };
}

/**
 * The `rejected` list of an answer. An entry that is not an object, or
 * whose code is not a string, still counts (as `invalid_field`), so an event
 * the server refused is never taken for stored.
 */
export function readRejected(answer: unknown): Rejection[] {
  const list = isRecord(answer) ? answer.rejected : undefined;
  if (!Array.isArray(list)) return [];
  return list.map((entry: unknown) => {
    const e = isRecord(entry) ? entry : {};
    return {
      id: typeof e.id === "string" ? e.id : null,
      code: typeof e.code === "string" && e.code !== "" ? e.code : "invalid_field",
      message: typeof e.message === "string" ? e.message : "",
    };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The error that reports the events Stoa rejected in answer to `events`, with the reasons attached. */
export function rejectionError(events: readonly UsageEvent[], rejected: readonly Rejection[]): StoaDeliveryError {
  const ids = new Set(rejected.map((rejection) => rejection.id));
  const first = rejected[0] as Rejection;
  return new StoaDeliveryError(
    `Stoa rejected ${rejected.length} of ${events.length} usage event(s) (first: ${first.code}: ${first.message}).`,
    events.filter((event) => ids.has(event.id)),
    { rejected: rejected.map((r) => ({ ...r, id: r.id ?? "" })) },
  );
}
