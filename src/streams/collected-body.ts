/**
 * The metered body of a JSON response that did not arrive whole at once (see
 * `meter/json.ts`): a pull-through `ReadableStream` that hands each chunk to
 * the app as it reads it, and keeps the bytes to read the usage once the body
 * ends.
 *
 * Bodies over `maxBytes` keep only their first and last `EDGE` bytes (where
 * providers put ids, the model and the usage). If the app cancels the body,
 * the rest is still read (it is already generated and billed) so the usage is
 * found; `keepAlive` receives that background read. That read is bounded in
 * time and bytes: past either bound the upstream is cancelled and the body
 * ends as `stopped`, so a provider that never finishes cannot hold it open.
 *
 * The body is a `servedBody` over `collectSource`: the app's reader reads the
 * source directly, every other consumer through the stream's `pull`.
 */

import { concat } from "./bytes.ts";
import type { ChunkReader } from "./prefixed-reader.ts";
import { type PullSource, servedBody } from "./served-body.ts";

/** Bytes kept from each end of an over-long body. */
const EDGE = 64 * 1024;

/** What the body held when it ended. */
export type CollectedBody =
  | { ok: true; whole: Uint8Array; head?: undefined; tail?: undefined; total: number }
  | { ok: true; whole?: undefined; head: Uint8Array; tail: Uint8Array; total: number }
  | { ok: false; error: unknown; total: number; stopped?: undefined }
  | { ok: false; error?: undefined; total: number; stopped: DrainBound };

/** Which bound stopped the read of a cancelled body: its time, or its bytes. */
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

  function keep(chunk: Uint8Array): void {
    total += chunk.length;
    parts.push(chunk);
    if (total <= maxBytes) return;
    // over the cap: a copy of the first EDGE bytes once, then a rolling tail of the last EDGE bytes
    if (head === undefined) head = firstBytes(parts, EDGE);
    let tailLength = 0;
    let from = parts.length;
    while (from > 0 && tailLength < EDGE) tailLength += (parts[--from] as Uint8Array).length;
    parts = parts.slice(from);
    // a copy of the oldest part's end, not a view: a view would keep its whole buffer alive
    const extra = tailLength - EDGE;
    if (extra > 0) parts[0] = (parts[0] as Uint8Array).slice(extra);
  }

  function finish(error?: unknown, failed = false, stopped?: DrainBound): void {
    if (done) return;
    done = true;
    if (stopped !== undefined) options.onDone({ ok: false, total, stopped });
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
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await upstream.read();
      } catch (error) {
        finish(error, true);
        return fail(error);
      }
      if (result.done) finish();
      else keep(result.value);
      return settle(result);
    },
    cancel() {
      // the provider already generated (and billed) this body: read the rest for its usage
      const rest = drain();
      options.keepAlive?.(rest);
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
