/**
 * The metered body of a JSON response that did not arrive whole at once (see
 * `meter/json.ts`): a pull-through `ReadableStream` that hands each chunk to
 * the app as it reads it, and keeps the bytes to read the usage once the body
 * ends.
 *
 * Bodies over `maxBytes` keep only their first and last `EDGE_BYTES` (where
 * providers put ids, the model and the usage). If the app cancels the body,
 * the rest is still read (it is already generated and billed) so the usage is
 * found; `keepAlive` receives that background read. That read is bounded in
 * time and bytes: past either bound the upstream is cancelled and the body
 * ends as `stopped`, so a provider that never finishes cannot hold it open.
 * A read of the app's own still in flight at the cancel goes first, its chunk
 * kept; the end it may then see (the upstream cancelled at the bound) is the
 * background read's to tell, never a complete body. A body the meter read
 * itself (the unread guard's read-ahead) and then `stop`ped ends as
 * `stopped` at once, with no background read after it.
 *
 * The body is a `servedBody` over `collectSource`: the app's reader reads the
 * source directly, every other consumer through the stream's `pull`.
 */

import { concat } from "./bytes.ts";
import type { ChunkReader } from "./prefixed-reader.ts";
import { type PullSource, servedBody } from "./served-body.ts";

/** Bytes kept from each end of an over-long body. */
export const EDGE_BYTES = 64 * 1024;

/** What the body held when it ended. */
export type CollectedBody =
  | { ok: true; whole: Uint8Array; head?: undefined; tail?: undefined; total: number }
  | { ok: true; whole?: undefined; head: Uint8Array; tail: Uint8Array; total: number }
  | { ok: false; error: unknown; total: number; stopped?: undefined }
  | { ok: false; error?: undefined; total: number; stopped: DrainBound; unread?: true };

/**
 * Which bound stopped the meter's read of a body: its time, or its bytes. It
 * is `unread` when the body was left unread and read by the meter itself (see
 * `PullSource.stop`), else the app had cancelled it.
 */
export type DrainBound = "time" | "bytes";

/** Options of `collectBody`. */
export interface CollectOptions {
  /** Bytes kept whole (default 4 MiB). */
  maxBytes?: number;
  /** Called once, when the body ended, failed, or was read to its end after a cancel. */
  onDone(body: CollectedBody): void;
  /** Receives the read that goes on after the app cancels. */
  keepAlive?: ((promise: Promise<unknown>) => void) | undefined;
  /** Milliseconds the read after a cancel may take before the upstream is cancelled (default 20 s). */
  drainMs?: number;
  /** Bytes the read after a cancel may take before the upstream is cancelled (default `maxBytes`). */
  drainBytes?: number;
}

/** Wraps `source` so that its bytes are kept as the app reads them. */
export function collectBody(source: ReadableStream<Uint8Array>, options: CollectOptions): ReadableStream<Uint8Array> {
  return servedBody(collectSource(source.getReader(), options));
}

/** The chunks of a JSON body for the app, each kept on its way (see `collectBody`). */
export function collectSource(upstream: ChunkReader, options: CollectOptions): PullSource {
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  const drainMs = options.drainMs ?? 20_000;
  const drainBytes = options.drainBytes ?? maxBytes;
  let parts: Uint8Array[] = [];
  let total = 0;
  let head: Uint8Array | undefined;
  let done = false;
  let cancelled = false; // the app cancelled, or the meter stopped: how the body ended is no longer `next`'s to tell
  let reading: Promise<ReadableStreamReadResult<Uint8Array>> | undefined; // the read of `next` in flight

  function keep(chunk: Uint8Array): void {
    if (done) return; // a chunk that came after a stop
    total += chunk.length;
    parts.push(chunk);
    if (total <= maxBytes) return;
    // over the cap: a copy of the first EDGE_BYTES once, then a rolling tail of the last EDGE_BYTES
    if (head === undefined) head = firstBytes(parts, EDGE_BYTES);
    let tailLength = 0;
    let from = parts.length;
    while (from > 0 && tailLength < EDGE_BYTES) tailLength += (parts[--from] as Uint8Array).length;
    parts = parts.slice(from);
    // a copy of the oldest part's end, not a view: a view would keep its whole buffer alive
    const extra = tailLength - EDGE_BYTES;
    if (extra > 0) parts[0] = (parts[0] as Uint8Array).slice(extra);
  }

  function finish(error?: unknown, failed = false, stopped?: DrainBound, unread = false): void {
    if (done) return;
    done = true;
    if (stopped !== undefined)
      options.onDone(unread ? { ok: false, total, stopped, unread } : { ok: false, total, stopped });
    else if (failed) options.onDone({ ok: false, error, total });
    else if (head === undefined) options.onDone({ ok: true, whole: concat(parts), total });
    else options.onDone({ ok: true, head, tail: concat(parts), total });
    parts = [];
  }

  /** Reads the rest after a cancel, within `drainMs` and `drainBytes`. */
  async function drain(): Promise<void> {
    let stopped: DrainBound | undefined;
    const stop = (bound: DrainBound): void => {
      stopped = bound;
      // a pending read then ends as done; a cancel that fails changes nothing for metering
      upstream.cancel(new Error(`The metered body's background read passed its ${bound} bound.`)).catch(() => {});
    };
    const timer = setTimeout(() => stop("time"), drainMs);
    let rest = 0;
    try {
      // the app's read in flight first (it keeps its chunk): the reads stay in order
      await reading?.catch(() => {});
      while (stopped === undefined) {
        const result = await upstream.read();
        if (result.done) break;
        keep(result.value);
        rest += result.value.length;
        if (rest > drainBytes) stop("bytes");
      }
      finish(undefined, false, stopped);
    } catch (error) {
      finish(error, true, stopped);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async next(settle, fail) {
      const read = upstream.read();
      reading = read;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await read;
      } catch (error) {
        // after a cancel the background read meets the same failure and tells it
        if (!cancelled) finish(error, true);
        return fail(error);
      } finally {
        if (reading === read) reading = undefined;
      }
      if (!result.done) keep(result.value);
      // after a cancel this end may be the meter's own cancel of the upstream: not a complete body
      else if (!cancelled) finish();
      return settle(result);
    },
    cancel() {
      if (done || cancelled) return;
      cancelled = true;
      // the provider already generated (and billed) this body: read the rest for its usage
      const rest = drain();
      options.keepAlive?.(rest);
    },
    stop(bound, reason) {
      if (done || cancelled) return;
      cancelled = true;
      // a read in flight then ends as done, which `next` leaves to this stop
      const cancelling = upstream.cancel(reason);
      finish(undefined, false, bound, true);
      return cancelling;
    },
  };
}

/** A copy of the first `size` bytes of `parts` (all of them when they hold fewer). */
function firstBytes(parts: Uint8Array[], size: number): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(Math.min(size, length));
  let at = 0;
  for (const part of parts) {
    if (at === out.length) break;
    const piece = part.subarray(0, out.length - at);
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
