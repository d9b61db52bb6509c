/**
 * The metered body of an SSE response: a pull-through `ReadableStream` over
 * the upstream reader. Each chunk the app reads is handed to it untouched and
 * fed to the SSE parser on the side; nothing is read ahead of the app, so
 * backpressure reaches the provider and memory stays flat.
 *
 * In filter mode (the meter added `include_usage` to an OpenAI chat request)
 * an event the reader marks as dropped is cut out, so bytes after the last
 * complete event are held until the event completes: an app's SSE parser
 * could not dispatch them earlier anyway, so no event reaches it later.
 *
 * The body is a `servedBody` over `meterSource`: the app's reader reads the
 * source directly, every other consumer through the stream's `pull`.
 *
 * `onEnd` is called exactly once: `"end"` at the end of the body, `"cancel"`
 * when the app cancels it, `"error"` when the upstream read fails.
 */
import { type PullSource, servedBody } from "./served-body.ts";
import { createSseParser, type SseParser } from "./sse.ts";

/** Bytes of an incomplete event held back in filter mode before it is handed on regardless. */
const HOLD_LIMIT = 64 * 1024;

/** How a metered body ended. */
export type BodyOutcome = "end" | "cancel" | "error";

/** Options of `meterBody`. */
export interface MeterBodyOptions {
  /** Cut dropped events out of what the app reads. */
  filter: boolean;
  /** Characters of data of one event the parser keeps whole. */
  maxEventLength?: number;
  /** Sees each event (see `SseEventHandler`); returns true to drop it. */
  onEvent(data: string, dataLength: number, head: string | undefined): boolean;
  /** Called after each chunk is parsed; returning true stops parsing (the meter has all it needs). */
  afterChunk(): boolean;
  /** Called once when the body ends, is cancelled, or fails; also when parsing throws. */
  onEnd(outcome: BodyOutcome, error?: unknown): void;
  /** Called when the parser or reader throws: metering stops, the bytes keep flowing. */
  onFault(error: unknown): void;
}

/** Wraps an SSE body so that metering sees every byte the app reads. */
export function meterBody(source: ReadableStream<Uint8Array>, options: MeterBodyOptions): ReadableStream<Uint8Array> {
  return servedBody(meterSource(source.getReader(), options));
}

/** The chunks of an SSE body for the app, each parsed once on its way (see `meterBody`). */
export function meterSource(upstream: ReadableStreamDefaultReader<Uint8Array>, options: MeterBodyOptions): PullSource {
  let parser: SseParser | undefined = createSseParser(options.onEvent, {
    offsets: options.filter,
    ...(options.maxEventLength === undefined ? {} : { maxEventLength: options.maxEventLength }),
  });
  let ended = false;
  let seen = 0; // bytes read from upstream so far
  // filter mode: bytes read but not yet handed on, from stream offset `heldAt`
  const held: Uint8Array[] = [];
  let heldAt = 0;
  let released = 0; // stream offset up to which bytes went to the app
  const out: Uint8Array[] = []; // filter mode: pieces released, not yet handed on

  function end(outcome: BodyOutcome, error?: unknown): void {
    if (ended) return;
    ended = true;
    options.onEnd(outcome, error);
  }

  /** Feeds the parser `chunk` (undefined: the end); returns false once metering stops (it has all it needs, or it failed). */
  function parse(p: SseParser, chunk: Uint8Array | undefined): boolean {
    try {
      if (chunk === undefined) p.end();
      else p.feed(chunk);
      return !options.afterChunk();
    } catch (error) {
      options.onFault(error);
      return false;
    }
  }

  /**
   * Filter mode: the pieces of what is read up to the last complete event,
   * less the dropped events, for the app; no bytes are copied. `p` is the
   * parser that saw the bytes, `more` whether it goes on parsing. An
   * incomplete event over `HOLD_LIMIT` is no usage chunk: it is handed on at
   * once, and can no longer be dropped.
   */
  function release(p: SseParser | undefined, more: boolean, out: Uint8Array[]): void {
    let cut = more && p !== undefined ? p.boundary : seen;
    if (seen - cut > HOLD_LIMIT) cut = seen;
    if (cut <= released) {
      if (p !== undefined) p.dropped.length = 0;
      return;
    }
    let pos = released;
    if (p !== undefined) {
      for (const [from, to] of p.dropped) {
        if (from < released || to > cut) continue; // partly handed on already: keep it whole
        if (from > pos) piecesOf(pos, from, out);
        pos = to;
      }
      p.dropped.length = 0;
    }
    if (cut > pos) piecesOf(pos, cut, out);
    released = cut;
    // keep only what lies past the cut
    while (held.length > 0 && heldAt + (held[0] as Uint8Array).length <= cut) {
      heldAt += (held.shift() as Uint8Array).length;
    }
    if (held.length > 0 && heldAt < cut) {
      held[0] = (held[0] as Uint8Array).subarray(cut - heldAt);
      heldAt = cut;
    }
  }

  /** Pushes the held bytes of stream range `[from, to)` onto `out`, as subarrays of the held chunks. */
  function piecesOf(from: number, to: number, out: Uint8Array[]): void {
    let at = heldAt;
    for (const part of held) {
      const end = at + part.length;
      if (end > from && at < to) {
        const piece = from <= at && to >= end ? part : part.subarray(Math.max(from, at) - at, Math.min(to, end) - at);
        if (piece.length > 0) out.push(piece);
      }
      if (end >= to) return;
      at = end;
    }
  }

  /** A piece released earlier, handed on. */
  function shift(): ReadableStreamReadResult<Uint8Array> {
    return { done: false, value: out.shift() as Uint8Array };
  }

  /** Meters one upstream result: what the app gets of it, or undefined when it gives nothing yet (filter mode). */
  function take(result: ReadableStreamReadResult<Uint8Array>): ReadableStreamReadResult<Uint8Array> | undefined {
    const p = parser;
    if (result.done) {
      if (p !== undefined) parse(p, undefined);
      parser = undefined;
      if (options.filter) release(p, false, out);
      end("end");
      return out.length > 0 ? shift() : result;
    }
    const chunk = result.value;
    seen += chunk.length;
    const more = p !== undefined && parse(p, chunk);
    if (!more) parser = undefined;
    if (!options.filter) return result;
    if (held.length === 0) {
      // the common case: a chunk of whole events, none dropped, goes on as it is
      if (p === undefined || ((!more || p.boundary === seen) && p.dropped.length === 0)) {
        released = heldAt = seen;
        return result;
      }
      heldAt = seen - chunk.length;
    }
    held.push(chunk);
    release(p, more, out);
    return out.length > 0 ? shift() : undefined;
  }

  return {
    async next(settle, fail) {
      if (out.length > 0) return settle(shift());
      let handed: ReadableStreamReadResult<Uint8Array> | undefined;
      try {
        // nearly always one turn: the chunk read is the chunk handed on (in filter mode a chunk may give nothing yet)
        while (handed === undefined) {
          let result: ReadableStreamReadResult<Uint8Array>;
          try {
            result = await upstream.read();
          } catch (error) {
            end("error", error);
            throw error;
          }
          handed = take(result);
        }
      } catch (error) {
        return fail(error);
      }
      return settle(handed);
    },
    cancel(reason) {
      end("cancel", reason);
      return upstream.cancel(reason);
    },
  };
}
