/**
 * The queue outbox: with `new Stoa({ outbox })`, a finished usage event is
 * handed to a durable queue (a Cloudflare Queues producer binding, or Deno KV
 * through `denoKvOutbox`) inside the request, and a consumer delivers it to
 * Stoa later (`stoa.handleQueue`). The events one `waitUntil` gets in one
 * synchronous run go in one `sendBatch`, made in a microtask; nothing but
 * that hand-off is kept alive on the request. When the queue refuses, the events go to the in-memory
 * outbox (direct delivery) and `onError` is told: never dropped.
 */
import { MAX_EVENT_BYTES } from "../api/usage-events.ts";
import { StoaConfigError, StoaDeliveryError } from "../errors.ts";
import type { WaitUntil } from "../runtime.ts";
import { utf8Length } from "../streams/bytes.ts";
import type { UsageEvent } from "../usage.ts";
import type { Delivered, Outbox } from "./outbox.ts";
import { type PackedMessage, packMessages, type SerialisedEvent } from "./queue-message.ts";
import { QUEUE_LIMITS, type QueueLimits, type QueueProducer, type QueueSendRequest } from "./queue-producer.ts";
import { vercelRequestContext } from "./wait-until.ts";

export type { QueueProducer, QueueSendRequest } from "./queue-producer.ts";

/**
 * Cloudflare Queues: at most 128 KB per message, 100 messages and 256 KB
 * per `sendBatch`. A message is filled to 64 000 bytes: Queues bills each
 * 64 KB of a message as one operation, so a fuller message costs more and
 * saves nothing, and one event of up to 64 KiB (Stoa's own limit) still
 * fits alone under 128 KB. At ~600 bytes an event, that is ~100 events a
 * message. Three full messages make a 192 000-byte batch, under 256 KB.
 */
export const CLOUDFLARE_QUEUE_LIMITS: QueueLimits = {
  maxMessageBytes: 64_000,
  maxEventBytes: MAX_EVENT_BYTES,
  maxBatchMessages: 100,
  maxBatchBytes: 250_000,
};

/** Options of {@link createQueueOutbox}. */
export interface QueueOutboxOptions {
  producer: QueueProducer;
  /** Direct delivery, for what the queue refuses or cannot carry. */
  fallback: Outbox;
  /** Hears that the queue refused (the events then go to `fallback`). */
  onError: (error: Error) => void;
  /** Events waiting for their `sendBatch` at once (default 10 000); more are delivered directly. */
  maxEvents?: number | undefined;
}

/** The events of one `waitUntil` waiting for their hand-off. */
interface Pending {
  events: UsageEvent[];
  done: Delivered;
  resolve: (stored: boolean) => void;
}

interface Lane {
  waitUntil: WaitUntil | undefined;
  pending: Pending | undefined;
  warned: boolean;
}

/**
 * Creates the queue outbox. `add()` returns the event's {@link Delivered}:
 * it resolves once the event is in the queue (to `false`: Stoa has not
 * stored it yet), or, when the queue refused, once direct delivery stored or
 * reported it.
 *
 * The events a lane (one `waitUntil`) gets in one synchronous run share one
 * hand-off, made in a microtask: one `sendBatch`, one promise for
 * `waitUntil`, and each event serialised once. A microtask rather than a
 * timer: a zero-delay timer costs a turn of the event loop per request,
 * which was most of the CPU of the hand-off (bench fig 8: 30 to 39 µs per
 * event with the timer, 2 to 5 without).
 */
export function createQueueOutbox(options: QueueOutboxOptions): Outbox {
  const { producer, fallback, onError } = options;
  const limits = (producer as { [QUEUE_LIMITS]?: QueueLimits })[QUEUE_LIMITS] ?? CLOUDFLARE_QUEUE_LIMITS;
  const maxEvents = options.maxEvents ?? 10_000;
  const lanes = new WeakMap<object, Lane>();
  const detached: Lane = { waitUntil: undefined, pending: undefined, warned: false };
  /** Hand-offs not yet settled, for `flush()`. */
  const open = new Set<Delivered>();
  let held = 0;

  function report(error: Error): void {
    try {
      onError(error);
    } catch {
      // the app's hook failing is not ours to surface
    }
  }

  function laneFor(waitUntil: WaitUntil | undefined): Lane {
    let key: object | undefined = waitUntil;
    let keep = waitUntil;
    if (typeof waitUntil !== "function") {
      const vercel = vercelRequestContext();
      if (vercel === undefined) return detached;
      key = vercel;
      keep = (promise) => vercel.waitUntil(promise);
    }
    let lane = lanes.get(key as object);
    if (lane === undefined) {
      lane = { waitUntil: keep, pending: undefined, warned: false };
      lanes.set(key as object, lane);
    }
    return lane;
  }

  function open_(lane: Lane): Pending {
    let resolve!: (stored: boolean) => void;
    const done = new Promise<boolean>((r) => {
      resolve = r;
    });
    const pending: Pending = { events: [], done, resolve };
    lane.pending = pending;
    open.add(done);
    try {
      lane.waitUntil?.(done);
    } catch (cause) {
      if (!lane.warned) {
        lane.warned = true;
        report(
          new StoaConfigError(
            "waitUntil threw when handed a usage hand-off to the queue, which now runs outside it and may be cut off when the request ends. Pass it bound, e.g. `waitUntil: ctx.waitUntil.bind(ctx)`, for the request that is running.",
            { cause },
          ),
        );
      }
    }
    queueMicrotask(() => hand(lane, pending));
    return pending;
  }

  /** Hands `pending`'s events to the queue: one `sendBatch` per limit's worth (one, nearly always). */
  function hand(lane: Lane, pending: Pending): void {
    if (lane.pending === pending) lane.pending = undefined;
    const { events, done, resolve } = pending;
    const work: Delivered[] = [];
    const items: SerialisedEvent[] = [];
    for (const event of events) {
      let json: string;
      try {
        json = JSON.stringify(event);
      } catch {
        work.push(fallback.add(event, lane.waitUntil)); // reports it as unserialisable
        continue;
      }
      const bytes = utf8Length(json);
      if (bytes > limits.maxEventBytes) {
        work.push(fallback.add(event, lane.waitUntil)); // too large for the queue: sent (or reported) directly
        continue;
      }
      items.push({ event, json, bytes });
    }
    if (items.length > 0) {
      for (const batch of batches(packMessages(items, limits.maxMessageBytes))) work.push(send(batch, lane.waitUntil));
    }
    const settle = (stored: boolean) => {
      held -= events.length;
      open.delete(done);
      resolve(stored);
    };
    if (work.length === 1) void (work[0] as Delivered).then(settle);
    else void Promise.all(work).then((each) => settle(each.every(Boolean)));
  }

  /** Groups messages into `sendBatch` calls within the limits. */
  function batches(messages: PackedMessage[]): PackedMessage[][] {
    const out: PackedMessage[][] = [];
    let current: PackedMessage[] = [];
    let bytes = 0;
    for (const message of messages) {
      if (
        current.length > 0 &&
        (current.length === limits.maxBatchMessages || bytes + message.bytes > limits.maxBatchBytes)
      ) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(message);
      bytes += message.bytes;
    }
    if (current.length > 0) out.push(current);
    return out;
  }

  /** One `sendBatch` (its events queued, not yet stored: `false`); on refusal, direct delivery. Never rejects. */
  function send(batch: PackedMessage[], waitUntil: WaitUntil | undefined): Delivered {
    const requests: QueueSendRequest[] = [];
    for (const message of batch) requests.push({ body: message.text, contentType: "text" });
    let sent: Promise<unknown>;
    try {
      sent = producer.sendBatch(requests);
    } catch (cause) {
      sent = Promise.reject(cause);
    }
    return Promise.resolve(sent).then(
      () => false,
      (cause: unknown) => refused(batch, waitUntil, cause),
    );
  }

  /** The queue refused `batch`: direct delivery, and `onError` is told. */
  async function refused(batch: PackedMessage[], waitUntil: WaitUntil | undefined, cause: unknown): Delivered {
    const count = batch.reduce((n, message) => n + message.events.length, 0);
    const why = cause instanceof Error ? cause.message : String(cause);
    // no events attached: they are not lost, direct delivery has them (and reports them if it fails)
    report(
      new StoaDeliveryError(
        `The queue refused ${count} usage event(s) (${why}); they are being delivered to Stoa directly instead.`,
        [],
        { cause },
      ),
    );
    const stored = await Promise.all(
      batch.flatMap((message) => message.events.map((event) => fallback.add(event, waitUntil))),
    );
    return stored.every(Boolean);
  }

  return {
    add(event, waitUntil) {
      try {
        if (held >= maxEvents) return fallback.add(event, waitUntil);
        const lane = laneFor(waitUntil);
        const pending = lane.pending ?? open_(lane);
        pending.events.push(event);
        held++;
        return pending.done;
      } catch {
        return Promise.resolve(false); // add() never throws
      }
    },

    async flush() {
      // the hand-offs of the events added so far (each settles after its fall-back, if any): not the
      // ones added while it waits, which a busy isolate never runs out of
      await Promise.all([...open]);
      await fallback.flush();
    },

    get held() {
      return held + fallback.held;
    },
  };
}
