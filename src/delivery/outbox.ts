/**
 * The outbox: usage events wait for the end of the current task, then go to
 * `POST /v1/usage/events` in batches. Bounded: it holds at most `maxEvents`
 * events and runs at most `maxConcurrent` deliveries; events added while a
 * delivery is under way (retrying, say, while Stoa is down) wait for it and
 * go together in the next batch, instead of each task starting its own.
 * One lane per `waitUntil`, so a batch never mixes the I/O of two Workers
 * requests and each request's `waitUntil` keeps its own events alive; where
 * requests may share I/O (`shareLanes`: Node, Bun), one lane for all, each
 * `waitUntil` handed the promise of its own events' batches. Never
 * throws into the caller: what cannot be stored goes to `onError`, with the
 * events.
 */
import type { ApiClient } from "../api/types.ts";
import {
  ENVELOPE_BYTES,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  postUsageEvents,
  type Rejection,
  rejectionError,
} from "../api/usage-events.ts";
import { StoaConfigError, StoaDeliveryError } from "../errors.ts";
import type { WaitUntil } from "../runtime.ts";
import { utf8Length } from "../streams/bytes.ts";
import type { UsageEvent } from "../usage.ts";
import { packBatches } from "./batch.ts";
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
  onError: (error: Error) => void;
  /** Events per request, 1–500 (default 500). */
  maxBatch?: number | undefined;
  /** Bytes per request body, up to 1 MiB (default 1 MiB). */
  maxBatchBytes?: number | undefined;
  /** Events held at once, queued or being delivered (default 10 000); more go to `onError` at once. */
  maxEvents?: number | undefined;
  /** Deliveries in flight at once (default 4). */
  maxConcurrent?: number | undefined;
  /**
   * One lane for every `waitUntil`: the events of concurrent requests share
   * batches, and each `waitUntil` is handed the promise of its own events.
   * Only where a request's I/O may serve another's (Node, Bun); never in
   * Workers, where it may not. Default false.
   */
  shareLanes?: boolean | undefined;
}

/**
 * What `Outbox.add()` returns: resolves once the event is safely out of the
 * isolate's hands, that is stored by Stoa or handed to `onError` (in-memory
 * outbox), or durably in the queue (queue outbox; if the queue refused, once
 * direct delivery stored or reported it). It resolves to `true` when Stoa
 * stored the event (and every event settling with it), `false` when it did
 * not, or not yet: the event is in the queue, or was handed to `onError`. In
 * the in-memory outbox it settles with the events added beside it before
 * their lane's next batch was taken: never later than the batches that carry
 * them, however busy the lane stays. Never rejects. The spend-hold book
 * releases a hold once the `Delivered` of each of its events is `true`; a
 * hold with an event not stored is left to expire, so that its reservation
 * still stands when the event reaches Stoa later.
 */
export type Delivered = Promise<boolean>;

/** Queues usage events and delivers them in the background. */
export interface Outbox {
  /**
   * Queues `event`; synchronous, cheap, never throws. With a `waitUntil`
   * (else Vercel's request context, if any), a promise is handed to it at
   * once that resolves when that lane's events are stored or handed to
   * `onError`. Pass a function per request, such as `(p) => ctx.waitUntil(p)`:
   * lanes are keyed by the function itself. Over `maxEvents`, the event goes
   * to `onError` (a `StoaDeliveryError` carrying it) instead. Returns the
   * event's {@link Delivered} (a spend hold is released only after it); nothing needs to await it.
   */
  add(event: UsageEvent, waitUntil?: WaitUntil): Delivered;
  /** Sends what is queued and resolves once every event added so far is stored or handed to `onError`. Never rejects. */
  flush(): Promise<void>;
  /** Events held now: queued or being delivered. */
  readonly held: number;
}

/** The `Delivered` of an event that is already reported. */
const REPORTED: Delivered = Promise.resolve(false);

/** Events on their way in one request, with their JSON and their groups in the same order. */
interface Batch {
  events: UsageEvent[];
  jsons: string[];
  groups: Group[];
}

/**
 * The events a lane took in between two batches: their `Delivered` settles
 * once each of them is stored or reported. A group takes no more events once
 * a batch is taken from its lane, so it always settles, however busy the
 * lane stays.
 */
interface Group {
  /** Its events not yet stored or reported. */
  count: number;
  /** Every event of it settled so far was stored. */
  stored: boolean;
  done: Delivered;
  resolve: (stored: boolean) => void;
  /** Shared lanes: the `waitUntil` (or request context) last handed `done`, so that a run of its events hands it once. */
  keptBy: object | undefined;
}

/** The events of one `waitUntil` (or none). */
interface Lane {
  waitUntil: WaitUntil | undefined;
  /** Events waiting for a batch. */
  pending: UsageEvent[];
  /** The group of each pending event, in the same order. */
  pendingGroups: Group[];
  /** The group taking this lane's new events, until a batch is taken. */
  group: Group | undefined;
  /** Events of this lane not yet stored or reported. */
  unsettled: number;
  /** Resolves the promise handed to `waitUntil`. */
  settle: (() => void) | undefined;
  done: Promise<void> | undefined;
  /** The zero-delay timer that ends the task's batching. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Waiting for a delivery slot. */
  queued: boolean;
  /** Deliveries of this lane in flight. */
  sending: number;
}

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
  const maxEvents = options.maxEvents ?? 10_000;
  const maxConcurrent = options.maxConcurrent ?? 4;
  const shareLanes = options.shareLanes === true;
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
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) {
    throw new StoaConfigError(`maxEvents must be a positive integer; got ${maxEvents}.`);
  }
  if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new StoaConfigError(`maxConcurrent must be a positive integer; got ${maxConcurrent}.`);
  }

  const lanes = new WeakMap<object, Lane>();
  const detached = newLane(undefined);
  /** Lanes with unsettled events, so that `flush()` can send what waits for their timers. */
  const open = new Set<Lane>();
  /** Groups with events not yet stored or reported, for `flush()`. */
  const live = new Set<Group>();
  /** Lanes waiting for a delivery slot, oldest first; each wakes through its own promise. */
  const waiters: (() => void)[] = [];
  let active = 0;
  let held = 0;
  /** Events refused in this task for want of room, reported together. */
  let overflow: UsageEvent[] = [];
  /** Lanes (or, with shared lanes, `waitUntil`s) whose `waitUntil` threw, so that `onError` hears of it once. */
  const warned = new WeakSet<object>();

  function newLane(waitUntil: WaitUntil | undefined): Lane {
    return {
      waitUntil,
      pending: [],
      pendingGroups: [],
      group: undefined,
      unsettled: 0,
      settle: undefined,
      done: undefined,
      timer: undefined,
      queued: false,
      sending: 0,
    };
  }

  /**
   * The lane of a call: keyed by Vercel's request context when there is one
   * (`@vercel/functions`' `waitUntil` is one function for every request, so
   * it cannot tell requests apart; the context can), else by the `waitUntil`.
   */
  function laneFor(waitUntil: WaitUntil | undefined): Lane {
    const vercel = vercelRequestContext();
    if (vercel !== undefined) return laneOf(vercel, waitUntil ?? ((promise) => vercel.waitUntil(promise)));
    return typeof waitUntil === "function" ? laneOf(waitUntil, waitUntil) : detached;
  }

  function laneOf(key: object, waitUntil: WaitUntil): Lane {
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = newLane(waitUntil);
      lanes.set(key, lane);
    }
    return lane;
  }

  function report(error: Error): void {
    try {
      onError(error);
    } catch {
      // onError is the app's; its failure must not become ours
    }
  }

  /** The events of `groups` (one entry per event) of `lane` are stored or reported. */
  function settle(lane: Lane, groups: readonly Group[]): void {
    for (const group of groups) {
      if (--group.count > 0) continue;
      live.delete(group);
      group.resolve(group.stored);
    }
    const count = groups.length;
    held -= count;
    lane.unsettled -= count;
    if (lane.unsettled > 0) return;
    open.delete(lane);
    const resolve = lane.settle;
    lane.settle = undefined;
    lane.done = undefined;
    resolve?.();
  }

  /** A new group for `lane`'s events, taking them until a batch is taken from the lane. */
  function newGroup(lane: Lane): Group {
    let resolve: (stored: boolean) => void = () => {};
    const done = new Promise<boolean>((r) => {
      resolve = r;
    });
    const group: Group = { count: 0, stored: true, done, resolve, keptBy: undefined };
    lane.group = group;
    live.add(group);
    return group;
  }

  /** Opens `lane`'s promise and hands it to its `waitUntil`. */
  function openLane(lane: Lane): void {
    lane.done = new Promise<void>((resolve) => {
      lane.settle = resolve;
    });
    open.add(lane);
    if (lane.waitUntil !== undefined) hand(lane.waitUntil, lane.done, lane);
  }

  /**
   * Shared lanes: hands `group`'s promise to the call's `waitUntil` (else
   * Vercel's request context), once per run of one request's events. A
   * request is told apart by its Vercel context when there is one (see
   * `laneFor`), else by its `waitUntil`.
   */
  function keepGroup(group: Group, waitUntil: WaitUntil | undefined): void {
    const vercel = vercelRequestContext();
    const key: object | undefined = vercel ?? waitUntil;
    if (key === undefined || group.keptBy === key) return;
    group.keptBy = key;
    const keep = waitUntil ?? ((promise: Promise<unknown>) => vercel?.waitUntil(promise));
    hand(keep, group.done, key);
  }

  /** Hands `promise` to `waitUntil`; one that throws is reported once per `key`. */
  function hand(waitUntil: WaitUntil, promise: Promise<unknown>, key: object): void {
    try {
      waitUntil(promise);
    } catch (cause) {
      // unbound (`ctx.waitUntil` passed as a bare function) or called after the request
      // ended: the delivery runs all the same, but the runtime may cut it off
      if (warned.has(key)) return;
      warned.add(key);
      report(
        new StoaConfigError(
          "waitUntil threw when handed a usage delivery, which now runs outside it and may be cut off when the request ends. Pass it bound, e.g. `waitUntil: ctx.waitUntil.bind(ctx)`, for the request that is running.",
          { cause },
        ),
      );
    }
  }

  /**
   * Asks for a delivery slot for `lane`. Runs in the lane's own task (its
   * timer, or the end of its own delivery), and the wake-up is a promise made
   * here, so the delivery's I/O belongs to the lane's request.
   */
  function enqueue(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    if (lane.queued || lane.pending.length === 0) return;
    lane.queued = true;
    if (active < maxConcurrent) {
      active++;
      run(lane);
      return;
    }
    new Promise<void>((resolve) => waiters.push(resolve)).then(() => run(lane));
  }

  /** Hands the slot just freed to the oldest waiter, or frees it. */
  function release(): void {
    const next = waiters.shift();
    if (next === undefined) active--;
    else next();
  }

  /** Sends `lane`'s next batch with the slot it was given. */
  function run(lane: Lane): void {
    lane.queued = false;
    const batch = takeBatch(lane);
    if (batch.events.length === 0) {
      release();
      return;
    }
    lane.sending++;
    send(batch).then(() => {
      lane.sending--;
      settle(lane, batch.groups);
      release();
      if (lane.pending.length > 0) enqueue(lane);
    });
  }

  /**
   * The next batch of `lane`'s pending events, each with its JSON (serialised
   * once: to size it, then to send it); events that can never be sent are
   * reported and settled.
   */
  function takeBatch(lane: Lane): Batch {
    const sized: { item: number; bytes: number }[] = [];
    const events: UsageEvent[] = [];
    const jsons: string[] = [];
    const groups: Group[] = [];
    const tooLarge: UsageEvent[] = [];
    const unsendable: Group[] = []; // the groups of the events reported here, one entry per event
    let room = maxBatchBytes - ENVELOPE_BYTES;
    let taken = 0;
    // the lane's new events start a new group: this one takes no more
    lane.group = undefined;
    for (const event of lane.pending) {
      if (sized.length === maxBatch) break;
      const group = lane.pendingGroups[taken] as Group;
      let json: string;
      try {
        json = JSON.stringify(event);
      } catch (cause) {
        report(new StoaDeliveryError("A usage event could not be serialised to JSON.", [event], { cause }));
        unsendable.push(group);
        taken++;
        continue;
      }
      const bytes = utf8Length(json);
      if (ENVELOPE_BYTES + bytes > maxBatchBytes || bytes > MAX_EVENT_BYTES) {
        tooLarge.push(event);
        unsendable.push(group);
        taken++;
        continue;
      }
      const cost = sized.length === 0 ? bytes : bytes + 1;
      if (cost > room) break;
      room -= cost;
      sized.push({ item: events.length, bytes });
      events.push(event);
      jsons.push(json);
      groups.push(group);
      taken++;
    }
    lane.pending.splice(0, taken);
    lane.pendingGroups.splice(0, taken);
    if (tooLarge.length > 0) {
      report(
        new StoaDeliveryError(`${tooLarge.length} usage event(s) are too large to send.`, tooLarge, {
          rejected: tooLarge.map((event) => ({
            id: event.id,
            code: "event_too_large",
            message:
              utf8Length(JSON.stringify(event)) > MAX_EVENT_BYTES
                ? `larger than ${MAX_EVENT_BYTES} bytes of JSON, the most one event may be`
                : `larger than a whole request body (${maxBatchBytes} bytes) may be`,
          })),
        }),
      );
    }
    if (unsendable.length > 0) {
      for (const group of unsendable) group.stored = false;
      settle(lane, unsendable);
    }
    const first = packBatches(sized, maxBatch, maxBatchBytes)[0] ?? [];
    return {
      events: events.slice(0, first.length),
      jsons: jsons.slice(0, first.length),
      groups: groups.slice(0, first.length),
    };
  }

  /**
   * Delivers one batch; resolves once it is stored or reported, the groups of
   * the events not stored marked so. Never rejects.
   */
  async function send({ events, jsons, groups }: Batch): Promise<void> {
    let rejected: Rejection[];
    try {
      ({ rejected } = await postUsageEvents(api, events, crypto.randomUUID(), jsons));
    } catch (cause) {
      for (const group of groups) group.stored = false;
      const why = cause instanceof Error ? cause.message : String(cause);
      report(
        new StoaDeliveryError(`${events.length} usage event(s) were not delivered to Stoa: ${why}`, events, { cause }),
      );
      return;
    }
    if (rejected.length === 0) return;
    notStored(events, groups, rejected);
    report(rejectionError(events, rejected));
  }

  /** Marks the groups of the rejected events (all of them, when a rejection names no id). */
  function notStored(events: UsageEvent[], groups: Group[], rejected: Rejection[]): void {
    const ids = new Set<unknown>();
    for (const rejection of rejected) ids.add(rejection.id);
    const all = ids.has(null) || ids.has(undefined);
    for (let i = 0; i < events.length; i++) {
      if (all || ids.has((events[i] as UsageEvent).id)) (groups[i] as Group).stored = false;
    }
  }

  function reportOverflow(): void {
    const events = overflow;
    overflow = [];
    report(
      new StoaDeliveryError(
        `${events.length} usage event(s) were not queued: the outbox already holds ${maxEvents} events (Stoa is slow or down).`,
        events,
      ),
    );
  }

  return {
    add(event, waitUntil) {
      try {
        if (held >= maxEvents) {
          if (overflow.push(event) === 1) queueMicrotask(reportOverflow);
          return REPORTED;
        }
        const lane = shareLanes ? detached : laneFor(waitUntil);
        const group = lane.group ?? newGroup(lane);
        group.count++;
        lane.pending.push(event);
        lane.pendingGroups.push(group);
        lane.unsettled++;
        held++;
        if (lane.done === undefined) openLane(lane);
        if (shareLanes) keepGroup(group, waitUntil);
        const delivered = group.done;
        // a lane already sending waits for that delivery, unless a whole batch is ready
        if (lane.timer !== undefined || lane.queued) return delivered;
        if (lane.sending > 0 && lane.pending.length < maxBatch) return delivered;
        lane.timer = setTimeout(() => enqueue(lane), 0);
        return delivered;
      } catch {
        return REPORTED; // add() never throws
      }
    },

    async flush() {
      // the groups of the events added so far: each settles, however many events come after
      const groups = [...live];
      for (const lane of [...open]) if (lane.timer !== undefined) enqueue(lane);
      await Promise.all(groups.map((group) => group.done));
    },

    get held() {
      return held;
    },
  };
}
