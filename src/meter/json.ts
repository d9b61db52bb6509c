/**
 * Metering a JSON response body: read whole first when it comes at once (an
 * LLM API sends a non-streamed answer in one go), else served chunk by chunk
 * and kept on its way; the usage read from it when it ends.
 */
import { StoaStreamError } from "../errors.ts";
import type { JsonRead } from "../providers/types.ts";
import { concat } from "../streams/bytes.ts";
import { type CollectedBody, collectSource, EDGE_BYTES } from "../streams/collected-body.ts";
import { type SkimKeys, skim, tryParse } from "../streams/json-scan.ts";
import { prefixedReader } from "../streams/prefixed-reader.ts";
import { isObj } from "../util/json.ts";
import { emitEvent } from "./emit.ts";
import { textWeightOf } from "./estimate.ts";
import { outputMalformed } from "./event.ts";
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

/** Meters a JSON body once it ended (or failed, or was cut short after the app cancelled it or left it unread). */
function finishJson(meter: Meter, call: OpenCall, collected: CollectedBody): void {
  const { sink } = meter;
  if (!collected.ok && collected.stopped !== undefined) {
    // the rest would not come: the upstream is cancelled, bill an estimate
    const bound =
      collected.stopped === "time" ? `within ${DRAIN_MS / 1000} s` : `within ${MAX_KEPT_BYTES / 1048576} MiB`;
    const what =
      collected.unread === true
        ? `The app left a JSON body unread, and the meter's read of it did not end ${bound}`
        : `The app cancelled a JSON body whose rest did not end ${bound}`;
    sink.onError(new StoaStreamError(`${what}; it was cancelled upstream and the event is estimated.`));
    emitEvent(meter, call, { outputWeight: 0 });
    return;
  }
  if (!collected.ok) {
    // the body failed mid-way: bill an estimate (the app's read fails as it would have)
    sink.onError(new StoaStreamError("The response body failed; the event is estimated.", { cause: collected.error }));
    emitEvent(meter, call, { outputWeight: 0 });
    return;
  }
  const { provider, facts } = call;
  const keys = provider.skimKeys?.(facts.endpoint);
  const body = readBody(collected, provider.jsonRead?.(facts.endpoint), keys);
  if (body === undefined && collected.whole !== undefined) {
    call.admission.cancel();
    sink.onError(new StoaStreamError("A successful response was not JSON; no usage event was made."));
    return;
  }
  if (body === undefined) {
    // too large to keep, and its ends hold no usage: the provider billed it all the same
    sink.onError(
      new StoaStreamError(
        `The response body was over ${MAX_KEPT_BYTES / 1048576} MiB and its usage was not in its first and last ${EDGE_BYTES / 1024} KiB; the event is estimated from its size.`,
      ),
    );
    emitEvent(meter, call, { outputWeight: collected.total });
    return;
  }
  const reading = provider.readJson(facts.endpoint, body.json);
  const usageKey = keys?.usage ?? "usage";
  if (reading.usage === undefined) {
    reading.outputWeight = contentWeight(collected, body, usageKey);
    sink.onError(new StoaStreamError("The response reported no usage; the event is estimated."));
  } else if (outputMalformed(reading)) {
    reading.outputWeight = contentWeight(collected, body, usageKey); // `buildEvent` reports the fault
  }
  emitEvent(meter, call, reading);
}

/** A JSON body as metering read it: `skimmed` (only its ids and usage, see `skim`), or parsed whole. */
interface ReadBody {
  json: unknown;
  skimmed: boolean;
}

/** A body that ended whole: kept whole, or (too large to keep) its first and last bytes. */
type EndedBody = Extract<CollectedBody, { ok: true }>;

const decoder = new TextDecoder();

/**
 * What metering needs of a JSON body: parsed whole when the provider asks for
 * it (`Provider.jsonRead`); else, and always for a body too large to keep,
 * skimmed for the keys the provider names (`Provider.skimKeys`): `id` and
 * `model` from its start (or its end), the usage object from its end.
 * Undefined when it is not JSON, or is too large to keep and its ends hold
 * no usage.
 */
function readBody(body: EndedBody, read: JsonRead = "skim", keys?: SkimKeys): ReadBody | undefined {
  if (body.whole === undefined) {
    const skimmed = skim(decoder.decode(body.head), decoder.decode(body.tail), keys);
    return skimmed === undefined ? undefined : { json: skimmed, skimmed: true };
  }
  const text = decoder.decode(body.whole);
  const skimmed = read === "skim" ? skim(text, text, keys) : undefined;
  if (skimmed !== undefined) return { json: skimmed, skimmed: true };
  const json = tryParse(text);
  return json === undefined ? undefined : { json, skimmed: false };
}

/**
 * The weight of a JSON body's content, to estimate its output from: its text
 * strings (`textWeightOf`; a skimmed body is parsed whole for it) but those
 * of its top-level `usageKey`, or its size when it was too large to keep.
 */
function contentWeight(body: EndedBody, read: ReadBody, usageKey: string): number {
  if (body.whole === undefined) return body.total;
  const json = read.skimmed ? tryParse(decoder.decode(body.whole)) : read.json;
  if (!isObj(json) || !(usageKey in json)) return textWeightOf(json);
  const { [usageKey]: _usage, ...content } = json;
  return textWeightOf(content);
}
