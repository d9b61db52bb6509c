/**
 * The metering fetch: match the call, prepare it, ask its gate, forward it,
 * and meter the response the app reads (`json.ts`, `stream.ts`). One usage
 * event per billed provider response.
 */
import { StoaStreamError } from "../errors.ts";
import { loadedProvider, loadProvider } from "../providers/index.ts";
import { str } from "../util/json.ts";
import { refuse } from "./blocked.ts";
import { meterJson } from "./json.ts";
import { type PreparedRequest, prepareRequest } from "./request.ts";
import { type EventStreamModule, meterEventStream, meterStream } from "./stream.ts";
import {
  type Admitted,
  type Meter,
  type MeteredFetch,
  type MeterSettings,
  type MeterSink,
  type OpenCall,
  UPSTREAM,
} from "./types.ts";

const NOTHING = () => {};
/** The admission of a call made with no gate. */
const UNGATED: Admitted = { allowed: true, holdId: undefined, settle: NOTHING, cancel: NOTHING };

/** Creates a metering fetch: one function over its `Meter`; `json.ts` and `stream.ts` meter the responses. */
export function createMeteredFetch(sink: MeterSink, settings: MeterSettings): MeteredFetch {
  const upstream = settings.fetch;
  const meter: Meter = { sink, settings };

  async function meteredFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // a meter wrapping a meter: only the one nearest the provider meters
    if ((upstream as Partial<MeteredFetch>)[UPSTREAM] !== undefined) return upstream(input, init);
    let provider = loadedProvider(settings.provider);
    if (provider === undefined) {
      try {
        provider = await loadProvider(settings.provider); // the first call to this provider
      } catch (error) {
        sink.onError(
          new StoaStreamError("Could not load the provider module; the call was sent unmetered.", { cause: error }),
        );
        return upstream(input, init);
      }
    }
    let prepared: PreparedRequest | undefined;
    try {
      prepared = await prepareRequest(provider, input, init);
    } catch (error) {
      sink.onError(
        new StoaStreamError("Could not read the request to meter it; it was sent unmetered.", { cause: error }),
      );
    }
    if (prepared === undefined) return upstream(input, init);
    let admission = UNGATED;
    if (settings.gate !== undefined) {
      const { facts } = prepared;
      const admitting = settings.gate.admit(
        {
          userId: settings.userId,
          provider: provider.id,
          model: facts.requestedModel ?? str(facts.body.model),
          body: facts.body,
          bodyBytes: prepared.bodyBytes,
          waitUntil: settings.waitUntil,
        },
        init?.signal ?? (input instanceof Request ? input.signal : null),
      );
      // decided at once on the hot path: no turn of the event loop (no `instanceof Promise`: a
      // promise may come from another realm, as in the Edge runtime's sandbox)
      const verdict = "allowed" in admitting ? admitting : await admitting;
      if (!verdict.allowed) {
        const { reason, requiredUsd, availableUsd } = verdict;
        return refuse(provider, { userId: settings.userId, reason, requiredUsd, availableUsd }, input, init);
      }
      admission = verdict;
    }

    const startedAt = Date.now();
    let response: Response;
    try {
      response = await upstream(prepared.input, prepared.init);
    } catch (error) {
      admission.cancel(); // no answer, nothing billed
      throw error;
    }
    if (response.status < 200 || response.status > 299) {
      admission.cancel(); // only successes are billed
      return response;
    }
    if (response.body === null) {
      admission.cancel();
      sink.onError(new StoaStreamError(`A ${response.status} response had no body; no usage event was made.`));
      return response;
    }
    const call: OpenCall = {
      admission,
      holdId: admission.holdId,
      provider,
      userId: settings.userId,
      metadata: settings.metadata,
      facts: prepared.facts,
      requestId: provider.requestId(response.headers),
      startedAt,
      timeToFirstByteMs: Date.now() - startedAt,
    };
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("application/vnd.amazon.eventstream")) {
      const messages = call.provider.readMessages?.(call.facts);
      if (messages !== undefined) {
        let decoder: EventStreamModule | undefined;
        try {
          decoder = await import("../streams/event-stream-body.ts"); // loaded by the first binary stream (Bedrock)
        } catch (error) {
          sink.onError(new StoaStreamError("Could not load the event-stream decoder.", { cause: error }));
        }
        if (decoder !== undefined) return meterEventStream(meter, decoder, response, call, messages);
      }
      admission.cancel(); // no event will be made
      sink.onError(
        new StoaStreamError(`A ${call.provider.id} response was a binary event stream; it was not metered.`),
      );
      return response;
    }
    const sse = type.includes("text/event-stream") || (type === "" && prepared.facts.stream);
    return sse ? meterStream(meter, response, call) : meterJson(meter, response, call);
  }

  return Object.assign(meteredFetch, { Response, [UPSTREAM]: upstream }) as MeteredFetch;
}
