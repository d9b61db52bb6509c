/**
 * A call's one usage event: built from what its response reported, handed to
 * the sink for delivery, and the call's admission settled with it.
 */
import { StoaStreamError } from "../errors.ts";
import type { Reading } from "../providers/types.ts";
import type { UsageEvent } from "../usage.ts";
import { buildEvent } from "./event.ts";
import type { Meter, OpenCall } from "./types.ts";

/** Makes `call`'s event from `reading` and sends it; an event that cannot be built cancels the admission and is reported. */
export function emitEvent({ sink, settings }: Meter, call: OpenCall, reading: Reading): void {
  let event: UsageEvent;
  try {
    event = buildEvent({ ...call, reading, endedAt: Date.now() }, sink.onError);
  } catch (error) {
    call.admission.cancel();
    sink.onError(new StoaStreamError("Could not build the usage event.", { cause: error }));
    return;
  }
  call.admission.settle(event, sink.emit(event, settings.waitUntil));
}
