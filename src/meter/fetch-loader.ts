/**
 * `stoa.fetch()`'s metering fetch as loading the package builds it: made
 * synchronously, while the metering code itself (`meter/fetch.ts` with
 * `json.ts`, `stream.ts` and the request, stream and body readers they use)
 * loads with the first metered call, beside that call's provider module. From then on a call goes
 * straight to `createMeteredFetch`'s fetch.
 */
import { StoaStreamError } from "../errors.ts";
import { loadProvider } from "../providers/index.ts";
import type { FetchLike } from "../runtime.ts";
import { type Lazy, lazy } from "../util/lazy.ts";
import { type MeteredFetch, type MeterSettings, type MeterSink, UPSTREAM } from "./types.ts";

type MeterModule = typeof import("./fetch.ts");

/** The metering code: read synchronously on the hot path once loaded (a failed load is tried again by the next call). */
const meter: Lazy<MeterModule> = lazy(() => import("./fetch.ts"));

/** A metering fetch (see `createMeteredFetch`), built now, its code loaded by its first call. */
export function meteredFetch(sink: MeterSink, settings: MeterSettings): MeteredFetch {
  const upstream = settings.fetch;
  let metered: FetchLike | undefined;
  function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    if (metered !== undefined) return metered(input, init);
    const loaded = meter.value;
    if (loaded !== undefined) {
      metered = loaded.createMeteredFetch(sink, settings);
      return metered(input, init);
    }
    loadProvider(settings.provider).catch(() => {}); // loaded beside the meter; `createMeteredFetch`'s fetch reports a failure
    return meter.load().then(
      (module) => {
        metered ??= module.createMeteredFetch(sink, settings);
        return metered(input, init);
      },
      (error: unknown) => {
        sink.onError(
          new StoaStreamError("Could not load the metering code; the call was sent unmetered.", { cause: error }),
        );
        return upstream(input, init);
      },
    );
  }
  return Object.assign(fetch, { Response, [UPSTREAM]: upstream }) as MeteredFetch;
}
