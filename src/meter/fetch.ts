/**
 * The metering fetch: match the call, prepare it, forward it, and watch the
 * response the app reads. One usage event per billed provider response.
 */
import { StoaStreamError } from "../errors.ts";
import { loadedProvider, loadProvider, type StoaProvider } from "../providers/index.ts";
import type { JsonRead, MessageReader, Reading } from "../providers/types.ts";
import type { FetchLike, WaitUntil } from "../runtime.ts";
import type { CallAdmission, CallGate } from "../spend/call-gate.ts";
import { concat } from "../streams/bytes.ts";
import { type CollectedBody, collectSource } from "../streams/collected-body.ts";
import { skim, tryParse } from "../streams/json-scan.ts";
import { type BodyOutcome, meterSource } from "../streams/metered-body.ts";
import { prefixedReader } from "../streams/prefixed-reader.ts";
import { type PullSource, servedBody } from "../streams/served-body.ts";
import { guardSource } from "../streams/unread-body.ts";
import type { UsageEvent } from "../usage.ts";
import { str } from "../util/json.ts";
import { refuse } from "./blocked.ts";
import { textWeightOf } from "./estimate.ts";
import { buildEvent, type CallRecord } from "./event.ts";
import { UPSTREAM } from "./fetch-loader.ts";
import { type PreparedRequest, prepareRequest } from "./request.ts";

/** A fetch that meters, as `stoa.fetch()` returns it. */
export interface MeteredFetch extends FetchLike {
  /** Present so the SDKs skip their `fetch("data:,")` probe. */
  Response: typeof Response;
  /** The fetch this one forwards to. */
  readonly [UPSTREAM]: FetchLike;
}

/** What a metering fetch needs from its `Stoa`. */
export interface MeterSink {
  /** Takes a finished event for delivery; the promise settles once it is stored or reported. Never throws. */
  emit(event: UsageEvent, waitUntil: WaitUntil | undefined): Promise<unknown>;
  /** Hears of a call that could not be metered exactly. Never throws. */
  onError(error: Error): void;
  /** Keeps background metering work (reading a cancelled or unread body) for `flush()` to await. */
  track(work: Promise<unknown>): void;
}

/** The binary event-stream metering (Bedrock), loaded when first needed. */
type EventStreamModule = typeof import("../streams/event-stream-body.ts");

/** Per-call settings of a metering fetch. */
export interface MeterSettings {
  /** The provider id; its module is loaded on the first call (`loadProvider`). */
  provider: StoaProvider;
  userId: string;
  metadata: Record<string, string> | undefined;
  waitUntil: WaitUntil | undefined;
  fetch: FetchLike;
  /** Admits each metered call (spend hold or chargeability); undefined to skip it. */
  gate: CallGate | undefined;
}

/** A call as it is known before its response ends, with what admitted it. */
type OpenCall = Omit<CallRecord, "reading" | "endedAt"> & { admission: Admitted };

/** An admission that let the call go ahead. */
type Admitted = Extract<CallAdmission, { allowed: true }>;

const NOTHING = () => {};
/** The admission of a call made with no gate. */
const UNGATED: Admitted = { allowed: true, holdId: undefined, settle: NOTHING, cancel: NOTHING };

/** Characters of data of one SSE event the parser keeps whole. */
const MAX_EVENT_LENGTH = 1024 * 1024;

/** Bytes of a JSON body kept whole, read after the app cancels it, or read ahead of an app that does not read. */
const MAX_KEPT_BYTES = 4 * 1024 * 1024;

/**
 * How long the meter reads a body by itself (a JSON body the app cancelled, a
 * body the app left unread) before it cancels the upstream. With `UNREAD_MS`,
 * inside Cloudflare's 30 s of `waitUntil`, with room to deliver.
 */
const DRAIN_MS = 20_000;

/** Milliseconds a metered body may go unread before the meter reads it itself (see `guardUnread`). */
const UNREAD_MS = 5_000;

/**
 * How long the meter waits for a JSON body to arrive whole before it hands
 * the response on and serves the rest chunk by chunk (see `meterJson`).
 */
const WHOLE_JSON_MS = 250;

/** Wins a race against a read: the wait for a whole JSON body is over. */
const LATE = Symbol("late");

/** Creates a metering fetch. */
export function createMeteredFetch(sink: MeterSink, settings: MeterSettings): MeteredFetch {
  const upstream = settings.fetch;

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
        if (decoder !== undefined) return meterEventStream(decoder, response, call, messages);
      }
      admission.cancel(); // no event will be made
      sink.onError(
        new StoaStreamError(`A ${call.provider.id} response was a binary event stream; it was not metered.`),
      );
      return response;
    }
    const sse = type.includes("text/event-stream") || (type === "" && prepared.facts.stream);
    return sse ? meterStream(response, call) : meterJson(response, call);
  }

  function emit(call: OpenCall, reading: Reading): void {
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

  /** Emits a stream's event once, when it is done or its body ends; a missing usage is reported unless the app cancelled. */
  function streamFinisher(
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
        sink.onError(new StoaStreamError(`No usage reported: ${why} first; the event is estimated.`, { cause: error }));
      }
      emit(call, reading);
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

  function meterStream(response: Response, call: OpenCall): Response {
    const reader = call.provider.readStream(call.facts);
    const finish = streamFinisher(call, reader);
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
    return handedOn(response, unreadGuard(body));
  }

  /** A binary event stream (Bedrock): every byte passed on untouched, the decoded messages read on the side. */
  function meterEventStream(
    { meterEventStreamSource }: EventStreamModule,
    response: Response,
    call: OpenCall,
    reader: MessageReader,
  ): Response {
    const finish = streamFinisher(call, reader);
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
    return handedOn(response, unreadGuard(body));
  }

  /**
   * A JSON body: read whole by the meter first when it arrives within
   * `WHOLE_JSON_MS` and `MAX_KEPT_BYTES` (an LLM API sends a non-streamed
   * answer at once), metered, and handed on as bytes, which every runtime
   * serves natively; the app's response comes when its body is complete,
   * which an SDK waits for anyway. A body still arriving after that wait,
   * larger than that, or failing mid-way is handed on chunk by chunk from what
   * was read (`collectSource`), the usage read when it ends.
   */
  async function meterJson(response: Response, call: OpenCall): Promise<Response> {
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
          finishJson(call, { ok: true, whole, total: size });
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
      keepAlive(work) {
        settings.waitUntil?.(work);
        sink.track(work);
      },
      onDone: (collected) => finishJson(call, collected),
    });
    return handedOn(response, unreadGuard(body));
  }

  /** Meters a JSON body once it ended (or failed, or was cut short after the app cancelled it). */
  function finishJson(call: OpenCall, collected: CollectedBody): void {
    if (!collected.ok && collected.stopped !== undefined) {
      // the app cancelled and the rest would not come: the upstream is cancelled, bill an estimate
      const bound =
        collected.stopped === "time" ? `within ${DRAIN_MS / 1000} s` : `within ${MAX_KEPT_BYTES / 1048576} MiB`;
      sink.onError(
        new StoaStreamError(
          `The app cancelled a JSON body whose rest did not end ${bound}; it was cancelled upstream and the event is estimated.`,
        ),
      );
      emit(call, { outputWeight: 0 });
      return;
    }
    if (!collected.ok) {
      // the body failed mid-way: bill an estimate (the app's read fails as it would have)
      sink.onError(
        new StoaStreamError("The response body failed; the event is estimated.", { cause: collected.error }),
      );
      emit(call, { outputWeight: 0 });
      return;
    }
    const json = readBody(
      collected.whole,
      collected.head,
      collected.tail,
      call.provider.jsonRead?.(call.facts.endpoint),
    );
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
    emit(call, reading);
  }

  /** The body the app reads, read by the meter itself if the app leaves it unread: the provider bills it either way. */
  function unreadGuard(source: PullSource): ReadableStream<Uint8Array> {
    const guarded = guardSource(source, {
      idleMs: UNREAD_MS,
      maxBytes: MAX_KEPT_BYTES,
      drainMs: DRAIN_MS,
      keepAlive(work) {
        settings.waitUntil?.(work);
        sink.track(work);
      },
    });
    return servedBody(guarded);
  }

  return Object.assign(meteredFetch, { Response, [UPSTREAM]: upstream }) as MeteredFetch;
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

/**
 * The response the app gets: `response`'s status and headers around `body`. A
 * decoded body loses its encoding and length.
 */
function handedOn(response: Response, body: BodyInit): Response {
  let headers = response.headers;
  if (headers.has("content-encoding")) {
    headers = new Headers(headers);
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
