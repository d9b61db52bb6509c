/**
 * Metering a JSON response body: read whole first when it comes at once (an
 * LLM API sends a non-streamed answer in one go), else served chunk by chunk
 * and kept on its way; the usage read from it when it ends.
 */
import { StoaStreamError } from "../errors.ts";
import type { JsonRead } from "../providers/types.ts";
import { concat } from "../streams/bytes.ts";
import { type CollectedBody, collectSource } from "../streams/collected-body.ts";
import { skim, tryParse } from "../streams/json-scan.ts";
import { prefixedReader } from "../streams/prefixed-reader.ts";
import { emitEvent } from "./emit.ts";
import { textWeightOf } from "./estimate.ts";
import { DRAIN_MS, handedOn, keepAlive, MAX_KEPT_BYTES, unreadGuard } from "./handed-on.ts";
import type { Meter, OpenCall } from "./types.ts";

/**
 * How long the meter waits for a JSON body to arrive whole before it hands
 * the response on and serves the rest chunk by chunk (see `meterJson`).
 */
const WHOLE_JSON_MS = 250;

/** Wins a race against a read: the wait for a whole JSON body is over. */
const LATE = Symbol("late");

/**
 * A JSON body: read whole by the meter first when it arrives within
 * `WHOLE_JSON_MS` and `MAX_KEPT_BYTES`, metered, and handed on as bytes,
 * which every runtime serves natively; the app's response comes when its
 * body is complete, which an SDK waits for anyway. A body still arriving
 * after that wait, larger than that, or failing mid-way is handed on chunk
 * by chunk from what was read (`collectSource`), the usage read when it ends.
 */
export async function meterJson(meter: Meter, response: Response, call: OpenCall): Promise<Response> {
  const upstream = (response.body as ReadableStream<Uint8Array>).getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), WHOLE_JSON_MS);
  });
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  try {
    for (;;) {
      const read = upstream.read();
      const result = await Promise.race([read, late]);
      if (result === LATE) {
        pending = read;
        break;
      }
      if (result.done) {
        const whole = concat(parts);
        finishJson(meter, call, { ok: true, whole, total: size });
        return handedOn(response, whole as Uint8Array<ArrayBuffer>);
      }
      parts.push(result.value);
      size += result.value.length;
      if (size > MAX_KEPT_BYTES) break;
    }
  } catch (error) {
    // the body failed: the app's read fails the same way, after the bytes that came first
    pending = Promise.reject(error);
  } finally {
    clearTimeout(timer);
  }
  pending?.catch(() => {}); // its failure reaches the app's read (or the meter's), not the runtime
  const body = collectSource(prefixedReader(parts, pending, upstream), {
    maxBytes: MAX_KEPT_BYTES,
    drainMs: DRAIN_MS,
    keepAlive: keepAlive(meter),
    onDone: (collected) => finishJson(meter, call, collected),
  });
  return handedOn(response, unreadGuard(meter, body));
}

/** Meters a JSON body once it ended (or failed, or was cut short after the app cancelled it). */
function finishJson(meter: Meter, call: OpenCall, collected: CollectedBody): void {
  const { sink } = meter;
  if (!collected.ok && collected.stopped !== undefined) {
    // the app cancelled and the rest would not come: the upstream is cancelled, bill an estimate
    const bound =
      collected.stopped === "time" ? `within ${DRAIN_MS / 1000} s` : `within ${MAX_KEPT_BYTES / 1048576} MiB`;
    sink.onError(
      new StoaStreamError(
        `The app cancelled a JSON body whose rest did not end ${bound}; it was cancelled upstream and the event is estimated.`,
      ),
    );
    emitEvent(meter, call, { outputWeight: 0 });
    return;
  }
  if (!collected.ok) {
    // the body failed mid-way: bill an estimate (the app's read fails as it would have)
    sink.onError(new StoaStreamError("The response body failed; the event is estimated.", { cause: collected.error }));
    emitEvent(meter, call, { outputWeight: 0 });
    return;
  }
  const json = readBody(collected.whole, collected.head, collected.tail, call.provider.jsonRead?.(call.facts.endpoint));
  if (json === undefined) {
    call.admission.cancel();
    sink.onError(new StoaStreamError("A successful response was not JSON; no usage event was made."));
    return;
  }
  const reading = call.provider.readJson(call.facts.endpoint, json);
  if (reading.usage === undefined) {
    reading.outputWeight = textWeightOf(json);
    sink.onError(new StoaStreamError("The response reported no usage; the event is estimated."));
  }
  emitEvent(meter, call, reading);
}

const decoder = new TextDecoder();

/**
 * What metering needs of a JSON body: parsed whole when the provider asks for
 * it (`Provider.jsonRead`); else, and always for a body too large to keep,
 * skimmed: `id` and `model` from its start (`model` from its end for
 * embeddings), the `usage` object from its end. Undefined when it is not JSON.
 */
function readBody(
  whole: Uint8Array | undefined,
  head: Uint8Array | undefined,
  tail: Uint8Array | undefined,
  read: JsonRead = "skim",
): unknown {
  if (whole !== undefined) {
    const text = decoder.decode(whole);
    return read === "whole" ? tryParse(text) : (skim(text, text) ?? tryParse(text));
  }
  return skim(decoder.decode(head), decoder.decode(tail));
}
