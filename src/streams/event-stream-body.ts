/**
 * The metered body of a binary `application/vnd.amazon.eventstream` response
 * (Bedrock's ConverseStream and InvokeModelWithResponseStream): a pull source
 * (`served-body.ts` serves it to the app) that hands every chunk on untouched
 * and feeds the event-stream decoder (`event-stream.ts`) on the side. Nothing
 * is read ahead of the app, so backpressure reaches the provider.
 *
 * Decoding stops once the meter has what it needs (`afterChunk`), or at a
 * fault it cannot read past; the bytes keep flowing either way. `onEnd` is
 * called exactly once: `"end"` at the end of the body (after the decoder's
 * `end()`, which reports a truncated message), `"cancel"` when the app
 * cancels it, `"error"` when the upstream read fails.
 */
import { createEventStreamDecoder, type EventStreamDecoder, type EventStreamMessage } from "./event-stream.ts";
import type { BodyOutcome } from "./metered-body.ts";
import type { PullSource } from "./served-body.ts";

/** Options of `meterEventStreamSource`. */
export interface EventStreamBodyOptions {
  /** Sees each decoded message whose CRCs and headers check out. */
  onMessage(message: EventStreamMessage): void;
  /** Called after each chunk is decoded; returning true stops decoding (the meter has all it needs). */
  afterChunk(): boolean;
  /** Called once when the body ends, is cancelled, or fails. */
  onEnd(outcome: BodyOutcome, error?: unknown): void;
  /** Hears of each decoder fault (`EventStreamFault`) and of a message handler that throws. */
  onFault(error: unknown): void;
  /** Largest message the decoder holds, in bytes (default 1 MiB). */
  maxMessageSize?: number;
}

/** Reads an event-stream body so that metering sees every byte the app reads. */
export function meterEventStreamSource(
  upstream: ReadableStreamDefaultReader<Uint8Array>,
  options: EventStreamBodyOptions,
): PullSource {
  let ended = false;
  let decoder: EventStreamDecoder | undefined = createEventStreamDecoder({
    onMessage: options.onMessage,
    onFault: options.onFault,
    ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
  });

  function end(outcome: BodyOutcome, error?: unknown): void {
    if (ended) return;
    ended = true;
    options.onEnd(outcome, error);
  }

  /** Runs one decoder step; stops decoding when the meter has all it needs or the step throws. */
  function decode(step: (d: EventStreamDecoder) => void): void {
    const d = decoder;
    if (d === undefined) return;
    try {
      step(d);
      if (options.afterChunk()) decoder = undefined;
    } catch (error) {
      decoder = undefined;
      options.onFault(error);
    }
  }

  return {
    async next(settle, fail) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await upstream.read();
      } catch (error) {
        decoder = undefined;
        end("error", error);
        return fail(error);
      }
      if (result.done) {
        decode((d) => d.end());
        decoder = undefined;
        end("end");
        return settle(result);
      }
      const chunk = result.value;
      decode((d) => d.feed(chunk));
      return settle(result);
    },
    cancel(reason) {
      decoder = undefined;
      end("cancel", reason);
      return upstream.cancel(reason);
    },
  };
}
