/**
 * Metering a streamed response body: SSE, parsed on its way to the app
 * (the usage chunk the meter asked for cut out), and the binary event stream
 * (Bedrock), decoded on the side. One event per stream, made as soon as the
 * reader has the usage, or when the body ends.
 */
import { StoaStreamError } from "../errors.ts";
import type { MessageReader, Reading } from "../providers/types.ts";
import { type BodyOutcome, meterSource } from "../streams/metered-body.ts";
import { emitEvent } from "./emit.ts";
import { handedOn, unreadGuard } from "./handed-on.ts";
import type { Meter, OpenCall } from "./types.ts";

/** The binary event-stream metering (Bedrock), loaded when first needed. */
export type EventStreamModule = typeof import("../streams/event-stream-body.ts");

/** Characters of data of one SSE event (bytes of one binary message) the meter keeps whole. */
const MAX_EVENT_LENGTH = 1024 * 1024;

/** An SSE body: every chunk parsed once on its way to the app; in filter mode the injected usage chunk is cut. */
export function meterStream(meter: Meter, response: Response, call: OpenCall): Response {
  const reader = call.provider.readStream(call.facts);
  const finish = streamFinisher(meter, call, reader);
  const { sink } = meter;
  const body = meterSource((response.body as ReadableStream<Uint8Array>).getReader(), {
    filter: call.facts.injectedUsage,
    maxEventLength: MAX_EVENT_LENGTH,
    onEvent: (data, dataLength, head) => reader.event(data, dataLength, head),
    afterChunk: stopWhenDone(reader, finish),
    onEnd: finish,
    onFault(error) {
      sink.onError(new StoaStreamError("The stream could not be parsed; the event is estimated.", { cause: error }));
    },
  });
  return handedOn(response, unreadGuard(meter, body));
}

/** A binary event stream (Bedrock): every byte passed on untouched, the decoded messages read on the side. */
export function meterEventStream(
  meter: Meter,
  { meterEventStreamSource }: EventStreamModule,
  response: Response,
  call: OpenCall,
  reader: MessageReader,
): Response {
  const finish = streamFinisher(meter, call, reader);
  const { sink } = meter;
  const body = meterEventStreamSource((response.body as ReadableStream<Uint8Array>).getReader(), {
    maxMessageSize: MAX_EVENT_LENGTH,
    onMessage: (message) => reader.message(message),
    afterChunk: stopWhenDone(reader, finish),
    onEnd: finish,
    onFault(error) {
      sink.onError(
        new StoaStreamError("The event stream could not be fully decoded; the event may be estimated.", {
          cause: error,
        }),
      );
    },
  });
  return handedOn(response, unreadGuard(meter, body));
}

/** Emits a stream's event once, when it is done or its body ends; a missing usage is reported unless the app cancelled. */
function streamFinisher(
  meter: Meter,
  call: OpenCall,
  reader: { reading(): Reading },
): (outcome: BodyOutcome | "done", error?: unknown) => void {
  let finished = false;
  return (outcome, error) => {
    if (finished) return;
    finished = true;
    const reading = reader.reading();
    if (reading.usage === undefined && outcome !== "cancel") {
      const why = outcome === "error" ? "the stream failed" : "the stream ended";
      meter.sink.onError(
        new StoaStreamError(`No usage reported: ${why} first; the event is estimated.`, { cause: error }),
      );
    }
    emitEvent(meter, call, reading);
  };
}

/** After each chunk: once `reader` has what it needs, the event is made and the meter stops reading. */
function stopWhenDone(reader: { readonly done: boolean }, finish: (outcome: "done") => void): () => boolean {
  return () => {
    if (!reader.done) return false;
    finish("done");
    return true;
  };
}
