/**
 * The response the app gets: the provider's status and headers around the
 * metered body, and the guard that reads a body the app leaves unread (the
 * provider bills it either way). The bounds of the meter's own reading live
 * here.
 */
import { type PullSource, servedBody } from "../streams/served-body.ts";
import { guardSource } from "../streams/unread-body.ts";
import type { Meter } from "./types.ts";

/** Bytes of a JSON body kept whole, read after the app cancels it, or read ahead of an app that does not read. */
export const MAX_KEPT_BYTES = 4 * 1024 * 1024;

/**
 * How long the meter reads a body by itself (a JSON body the app cancelled, a
 * body the app left unread) before it cancels the upstream. With `UNREAD_MS`,
 * inside Cloudflare's 30 s of `waitUntil`, with room to deliver.
 */
export const DRAIN_MS = 20_000;

/** Milliseconds a metered body may go unread before the meter reads it itself (see `unreadGuard`). */
const UNREAD_MS = 5_000;

/**
 * Background reading of a body: inside the call's `waitUntil`, and awaited by
 * `flush()`. A `waitUntil` that throws does not fail the app's call (the
 * outbox reports it when the call's event is handed over).
 */
export function keepAlive({ sink, settings }: Meter): (work: Promise<unknown>) => void {
  return (work) => sink.track(work, settings.waitUntil);
}

/** The body the app reads, read by the meter itself if the app leaves it unread: the provider bills it either way. */
export function unreadGuard(meter: Meter, source: PullSource): ReadableStream<Uint8Array> {
  const guarded = guardSource(source, {
    idleMs: UNREAD_MS,
    maxBytes: MAX_KEPT_BYTES,
    drainMs: DRAIN_MS,
    keepAlive: keepAlive(meter),
  });
  return servedBody(guarded);
}

/**
 * The response the app gets: `response`'s status and headers around `body`. A
 * decoded body loses its encoding and length.
 */
export function handedOn(response: Response, body: BodyInit): Response {
  let headers = response.headers;
  if (headers.has("content-encoding")) {
    headers = new Headers(headers);
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
