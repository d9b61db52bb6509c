/**
 * The guard of a metered body the app may never read. The meter only sees
 * the bytes the app reads, yet the provider bills a response whether or not
 * the app reads it. So a body the app has not begun to read after `idleMs` is
 * read by the meter itself, which then meters and bills it as if the app had
 * read it to the end.
 *
 * Nothing is taken from the app: the bytes read ahead are kept, and an app
 * that reads later gets them, then the rest. That read-ahead is bounded, in
 * bytes (`maxBytes`) and in time (`drainMs`): past either bound the body is
 * cancelled (the meter bills what it saw as aborted and estimated), the bytes
 * kept are dropped, and a late read by the app fails with a `StoaStreamError`.
 */
import { StoaStreamError } from "../errors.ts";
import { asRead, type PullSource, readerSource, rethrow, servedBody } from "./served-body.ts";

/** Options of `guardUnread`. */
export interface UnreadOptions {
  /** Milliseconds without a read before the meter reads the body itself. */
  idleMs: number;
  /** Bytes read ahead and kept for the app before the body is cancelled. */
  maxBytes: number;
  /** Milliseconds the read-ahead may take before the body is cancelled. */
  drainMs: number;
  /**
   * Receives, at once, a promise that settles when the app begins to read or
   * cancels the body, or when the meter has read it (for `waitUntil` and
   * `stoa.flush()`).
   */
  keepAlive(promise: Promise<void>): void;
}

/** Wraps the metered `body` handed to the app so that it is read even if the app never reads it. */
export function guardUnread(body: ReadableStream<Uint8Array>, options: UnreadOptions): ReadableStream<Uint8Array> {
  return servedBody(guardSource(readerSource(body.getReader()), options));
}

/** `source`, read by the guard itself if the app does not begin to read it within `idleMs` (see `guardUnread`). */
export function guardSource(source: PullSource, options: UnreadOptions): PullSource {
  // idle: untouched; app: the app reads; ahead: the meter reads ahead; done: the read-ahead ended
  let state: "idle" | "app" | "ahead" | "done" = "idle";
  const kept: Uint8Array[] = [];
  let ended = false; // the body has no more bytes
  let failure: unknown; // what a read of the app fails with, once `kept` is empty
  let reading: Promise<unknown> | undefined; // the read-ahead's read in flight
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const idle = setTimeout(readAhead, options.idleMs);
  options.keepAlive(settled);

  function stop(bound: "time" | "bytes"): void {
    if (state !== "ahead") return;
    state = "done";
    kept.length = 0;
    const limit = bound === "time" ? `${options.drainMs / 1000} s` : `${options.maxBytes} bytes`;
    failure = new StoaStreamError(
      `The body was left unread for ${options.idleMs / 1000} s, and the meter's read-ahead passed its ${limit} bound; it was cancelled.`,
    );
    // a pending read then ends as done; the meter bills the body as aborted. A source that reads
    // on after a cancel (a JSON body's) is stopped instead, so this bound is the last.
    const ended = source.stop === undefined ? source.cancel(failure) : source.stop(bound, failure);
    Promise.resolve(ended).catch(() => {});
  }

  /** Whether a bound stopped the read-ahead (a function: the state changes across awaits). */
  function stopped(): boolean {
    return state === "done";
  }

  async function readAhead(): Promise<void> {
    if (state !== "idle") return;
    state = "ahead";
    const timer = setTimeout(() => stop("time"), options.drainMs);
    let size = 0;
    try {
      while (state === "ahead") {
        const next = source.next(asRead, rethrow);
        reading = next;
        const result = await next;
        if (result.done) {
          ended = true;
          break;
        }
        if (stopped()) break; // stopped while this read was in flight
        kept.push(result.value);
        size += result.value.length;
        if (size > options.maxBytes) stop("bytes");
      }
    } catch (error) {
      failure ??= error;
    } finally {
      clearTimeout(timer);
      reading = undefined;
      if (state === "ahead") state = "done";
      settle();
    }
  }

  /** The first read, or one after the read-ahead began: the guard's part of it. */
  async function guardedNext<T>(
    settleRead: (result: ReadableStreamReadResult<Uint8Array>) => T,
    failRead: (error: unknown) => T,
  ): Promise<T> {
    clearTimeout(idle);
    if (state === "idle") {
      state = "app";
      settle();
    } else if (reading !== undefined && state === "ahead") {
      // the app came back: the read-ahead stops after its read in flight, which lands in `kept`
      state = "app";
      await reading.catch(() => {});
    }
    const first = kept.shift();
    if (first !== undefined) return settleRead({ done: false, value: first });
    if (failure !== undefined) return failRead(failure);
    if (ended) return settleRead({ done: true, value: undefined });
    return source.next(settleRead, failRead);
  }

  return {
    next(settleRead, failRead) {
      // once the app reads, and nothing was read ahead for it, reads go straight to the source
      return state === "app" && kept.length === 0 && failure === undefined && !ended
        ? source.next(settleRead, failRead)
        : guardedNext(settleRead, failRead);
    },
    cancel(reason) {
      clearTimeout(idle);
      if (state === "idle") settle();
      state = "app";
      kept.length = 0;
      return source.cancel(reason);
    },
  };
}
