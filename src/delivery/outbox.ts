/**
 * The outbox: usage events wait for the end of the current task, then go to
 * `POST /v1/usage/events` in batches. One lane per `waitUntil`, so that a
 * batch never mixes I/O of two Workers requests. Delivery never throws into
 * the caller: what cannot be stored goes to `onError`, with the events.
 */
import type { ApiClient } from "../api/types.ts";
import { StoaConfigError, StoaDeliveryError } from "../errors.ts";
import type { WaitUntil } from "../runtime.ts";
import type { UsageEvent } from "../usage.ts";
import { ENVELOPE_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, packBatches, utf8Length } from "./batch.ts";
import { vercelRequestContext } from "./wait-until.ts";

/** Options of {@link createOutbox}. */
export interface OutboxOptions {
  /** The Stoa API client; its retry policy bounds each delivery. */
  api: ApiClient;
  /**
   * Receives every event that was not stored (a `StoaDeliveryError`), and a
   * `StoaConfigError` once per `waitUntil` that throws when handed a
   * delivery. Whatever it throws is swallowed.
   */
  onError: (error: StoaDeliveryError | StoaConfigError) => void;
  /** Events per request, 1–500 (default 500). */
  maxBatch?: number | undefined;
  /** Bytes per request body, up to 1 MiB (default 1 MiB). */
  maxBatchBytes?: number | undefined;
}

/** Queues usage events and delivers them in the background. */
export interface Outbox {
  /**
   * Queues `event`; synchronous, cheap, never throws. With a `waitUntil`
   * (else Vercel's request context, if any), the promise of its delivery is
   * handed to it at once. Pass a function per request, such as
   * `(p) => ctx.waitUntil(p)`: lanes are keyed by the function itself.
   */
  add(event: UsageEvent, waitUntil?: WaitUntil): void;
  /** Sends what is queued and resolves once every event added so far is stored or handed to `onError`. Never rejects. */
  flush(): Promise<void>;
}

/** Events queued for one `waitUntil` (or none) and the promise of their delivery. */
interface Lane {
  waitUntil: WaitUntil | undefined;
  events: UsageEvent[];
  timer: ReturnType<typeof setTimeout> | undefined;
  settle: (() => void) | undefined;
  /** Whether `onError` was told that this lane's `waitUntil` throws. */
  warned: boolean;
}

/** One entry of a 200 answer's `rejected`. */
type Rejection = { id: string; code: string; message: string };

/**
 * Creates an outbox. Events added in one task (one turn of the event loop,
 * with all its microtasks) share a zero-delay timer and so a request.
 *
 * @throws {StoaConfigError} when an option is out of range.
 */
export function createOutbox(options: OutboxOptions): Outbox {
  const { api, onError } = options;
  const maxBatch = options.maxBatch ?? MAX_BATCH_EVENTS;
  const maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
  if (typeof onError !== "function") {
    throw new StoaConfigError("createOutbox needs an `onError` function: it receives the events that were not stored.");
  }
  if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_BATCH_EVENTS) {
    throw new StoaConfigError(`maxBatch must be an integer from 1 to ${MAX_BATCH_EVENTS}; got ${maxBatch}.`);
  }
  if (!Number.isInteger(maxBatchBytes) || maxBatchBytes <= ENVELOPE_BYTES || maxBatchBytes > MAX_BATCH_BYTES) {
    throw new StoaConfigError(
      `maxBatchBytes must be an integer up to ${MAX_BATCH_BYTES} (1 MiB); got ${maxBatchBytes}.`,
    );
  }

  const lanes = new WeakMap<object, Lane>();
  const detached = newLane(undefined);
  /** Lanes whose timer is pending, so that `flush()` can find them. */
  const waiting = new Set<Lane>();
  /** Deliveries not yet settled. */
  const inflight = new Set<Promise<void>>();

  function newLane(waitUntil: WaitUntil | undefined): Lane {
    return { waitUntil, events: [], timer: undefined, settle: undefined, warned: false };
  }

  function laneFor(waitUntil: WaitUntil | undefined): Lane {
    if (typeof waitUntil === "function") return laneOf(waitUntil, waitUntil);
    const vercel = vercelRequestContext();
    return vercel === undefined ? detached : laneOf(vercel, (promise) => vercel.waitUntil(promise));
  }

  function laneOf(key: object, waitUntil: WaitUntil): Lane {
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = newLane(waitUntil);
      lanes.set(key, lane);
    }
    return lane;
  }

  function report(error: StoaDeliveryError | StoaConfigError): void {
    try {
      const returned: unknown = onError(error);
      if (typeof (returned as PromiseLike<unknown> | undefined)?.then === "function") {
        (returned as PromiseLike<unknown>).then(undefined, () => {});
      }
    } catch {
      // onError is the app's; its failure must not become ours
    }
  }

  function drain(lane: Lane): void {
    const { events, settle } = lane;
    clearTimeout(lane.timer);
    waiting.delete(lane);
    lane.events = [];
    lane.timer = undefined;
    lane.settle = undefined;
    deliver(events).then(settle, (cause: unknown) => {
      report(new StoaDeliveryError(`${events.length} usage event(s) were not delivered to Stoa.`, events, { cause }));
      settle?.();
    });
  }

  async function deliver(events: UsageEvent[]): Promise<void> {
    const sized: { item: UsageEvent; bytes: number }[] = [];
    const tooLarge: UsageEvent[] = [];
    for (const event of events) {
      let bytes: number;
      try {
        bytes = utf8Length(JSON.stringify(event));
      } catch (cause) {
        report(new StoaDeliveryError("A usage event could not be serialised to JSON.", [event], { cause }));
        continue;
      }
      if (ENVELOPE_BYTES + bytes > maxBatchBytes) tooLarge.push(event);
      else sized.push({ item: event, bytes });
    }
    if (tooLarge.length > 0) {
      const message = `larger than a whole request body (${maxBatchBytes} bytes) may be`;
      report(
        new StoaDeliveryError(`${tooLarge.length} usage event(s) are too large to send.`, tooLarge, {
          rejected: tooLarge.map((event) => ({ id: event.id, code: "event_too_large", message })),
        }),
      );
    }
    // In parallel: each request has its own retry budget, and together they
    // must fit in the same `waitUntil` lifetime.
    await Promise.all(packBatches(sized, maxBatch, maxBatchBytes).map(send));
  }

  async function send(events: UsageEvent[]): Promise<void> {
    let result: unknown;
    try {
      result = await api.request("POST", "/v1/usage/events", {
        body: { events },
        idempotencyKey: crypto.randomUUID(),
      });
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      report(
        new StoaDeliveryError(`${events.length} usage event(s) were not delivered to Stoa: ${why}`, events, { cause }),
      );
      return;
    }
    const rejected = readRejected(result);
    if (rejected.length === 0) return;
    const ids = new Set(rejected.map((rejection) => rejection.id));
    const first = rejected[0] as Rejection;
    report(
      new StoaDeliveryError(
        `Stoa rejected ${rejected.length} of ${events.length} usage event(s) (first: ${first.code}: ${first.message}).`,
        events.filter((event) => ids.has(event.id)),
        { rejected },
      ),
    );
  }

  return {
    add(event, waitUntil) {
      try {
        const lane = laneFor(waitUntil);
        lane.events.push(event);
        if (waiting.has(lane)) return;
        const delivered = new Promise<void>((resolve) => {
          lane.settle = resolve;
        });
        inflight.add(delivered);
        delivered.then(() => inflight.delete(delivered));
        waiting.add(lane);
        lane.timer = setTimeout(() => drain(lane), 0);
        try {
          lane.waitUntil?.(delivered);
        } catch (cause) {
          // unbound (`ctx.waitUntil` passed as a bare function) or called after the request
          // ended: the delivery runs all the same, but the runtime may cut it off
          if (!lane.warned) {
            lane.warned = true;
            report(
              new StoaConfigError(
                "waitUntil threw when handed a usage delivery, which now runs outside it and may be cut off when the request ends. Pass it bound, e.g. `waitUntil: ctx.waitUntil.bind(ctx)`, for the request that is running.",
                { cause },
              ),
            );
          }
        }
      } catch {
        // add() never throws
      }
    },

    async flush() {
      for (const lane of [...waiting]) drain(lane);
      await Promise.allSettled([...inflight]);
    },
  };
}

/** The `rejected` list of a 200 answer, read defensively. */
function readRejected(result: unknown): Rejection[] {
  const list = (result as { rejected?: unknown } | null | undefined)?.rejected;
  if (!Array.isArray(list)) return [];
  return list.map((entry: { id?: unknown; code?: unknown; message?: unknown } | null) => ({
    id: String(entry?.id ?? ""),
    code: String(entry?.code ?? "invalid_field"),
    message: String(entry?.message ?? ""),
  }));
}
