/**
 * What the parts of the meter share: the metering fetch's shape, what it
 * needs from its `Stoa` (`MeterSink`), its per-call settings, and a call as
 * it is known while its response is read.
 */
import type { Delivered } from "../delivery/outbox.ts";
import type { StoaProvider } from "../providers/index.ts";
import type { FetchLike, WaitUntil } from "../runtime.ts";
import type { CallAdmission, CallGate } from "../spend/call-gate.ts";
import type { UsageEvent } from "../usage.ts";
import type { CallRecord } from "./event.ts";

/** Marks a fetch made by `stoa.fetch()`; the value is the fetch it forwards to. */
export const UPSTREAM = Symbol.for("@onstoa/sdk.upstream");

/** A fetch that meters, as `stoa.fetch()` returns it. */
export interface MeteredFetch extends FetchLike {
  /** Present so the SDKs skip their `fetch("data:,")` probe. */
  Response: typeof Response;
  /** The fetch this one forwards to. */
  readonly [UPSTREAM]: FetchLike;
}

/** What a metering fetch needs from its `Stoa`. */
export interface MeterSink {
  /** Takes a finished event for delivery; the promise settles once it is stored (`true`) or not (see `Delivered`). Never throws. */
  emit(event: UsageEvent, waitUntil: WaitUntil | undefined): Delivered;
  /** Hears of a call that could not be metered exactly. Never throws. */
  onError(error: Error): void;
  /**
   * Keeps background metering work (reading a cancelled or unread body) for
   * `flush()` to await, and hands it to `waitUntil` when there is one. Never
   * throws, even when `waitUntil` does (an unbound `ctx.waitUntil`).
   */
  track(work: Promise<unknown>, waitUntil: WaitUntil | undefined): void;
}

/** Per-call settings of a metering fetch. */
export interface MeterSettings {
  /** The provider id; its module is loaded on the first call (`loadProvider`). */
  provider: StoaProvider;
  userId: string;
  metadata: Record<string, string> | undefined;
  waitUntil: WaitUntil | undefined;
  fetch: FetchLike;
  /** Admits each metered call (spend hold or chargeability); undefined to skip it. */
  gate: CallGate | undefined;
}

/** One metering fetch: its `Stoa`'s sink and its settings, handed to each part of the meter. */
export interface Meter {
  readonly sink: MeterSink;
  readonly settings: MeterSettings;
}

/** An admission that let the call go ahead. */
export type Admitted = Extract<CallAdmission, { allowed: true }>;

/** A call as it is known before its response ends, with what admitted it. */
export type OpenCall = Omit<CallRecord, "reading" | "endedAt"> & { admission: Admitted };
