/**
 * The body of one queue message: usage events on their way to Stoa through a
 * durable queue (Cloudflare Queues, Deno KV). A message is JSON text,
 * `{"stoa":"usage-events/1","events":[…]}`, built from each event's JSON so an
 * event is serialised once on the request's path; the reader takes that
 * text or the same object (a `json` or `v8` message).
 */
import { MAX_BATCH_EVENTS } from "../api/usage-events.ts";
import type { UsageEvent } from "../usage.ts";

/** The `stoa` field of a message: the format and its version. */
export const QUEUE_MESSAGE_FORMAT = "usage-events/1";

const HEAD = `{"stoa":"${QUEUE_MESSAGE_FORMAT}","events":[`;
const TAIL = "]}";

/** The bytes a message adds around its events' JSON (ASCII, so bytes = characters). */
export const MESSAGE_ENVELOPE_BYTES = HEAD.length + TAIL.length;

/** An event and its JSON. */
export interface SerialisedEvent {
  event: UsageEvent;
  json: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
}

/** One message to send: its text and the events in it. */
export interface PackedMessage {
  text: string;
  bytes: number;
  events: UsageEvent[];
}

/**
 * Packs events, in order, into messages of at most `maxBytes` (UTF-8) and
 * {@link MAX_BATCH_EVENTS} events, so any message fits in one
 * `POST /v1/usage/events`. Each event must fit in a message alone.
 */
export function packMessages(items: readonly SerialisedEvent[], maxBytes: number): PackedMessage[] {
  const messages: PackedMessage[] = [];
  let parts: string[] = [];
  let events: UsageEvent[] = [];
  let bytes = MESSAGE_ENVELOPE_BYTES;
  const close = () => {
    messages.push({ text: HEAD + parts.join(",") + TAIL, bytes, events });
    parts = [];
    events = [];
    bytes = MESSAGE_ENVELOPE_BYTES;
  };
  for (const item of items) {
    const cost = parts.length === 0 ? item.bytes : item.bytes + 1;
    if (parts.length > 0 && (parts.length === MAX_BATCH_EVENTS || bytes + cost > maxBytes)) close();
    bytes += parts.length === 0 ? item.bytes : item.bytes + 1;
    parts.push(item.json);
    events.push(item.event);
  }
  if (parts.length > 0) close();
  return messages;
}

/**
 * The events of a message body, or `undefined` when it is not one of ours:
 * not the format above, no events, more than {@link MAX_BATCH_EVENTS}, or an
 * event that is not an object with a string `id`. The events themselves are
 * checked by Stoa, which rejects what is invalid.
 */
export function readQueueMessage(body: unknown): UsageEvent[] | undefined {
  let value = body;
  if (typeof value === "string") {
    if (!value.startsWith('{"stoa":')) return undefined;
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  } else if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { stoa, events } = value as { stoa?: unknown; events?: unknown };
  if (stoa !== QUEUE_MESSAGE_FORMAT || !Array.isArray(events)) return undefined;
  if (events.length === 0 || events.length > MAX_BATCH_EVENTS) return undefined;
  for (const event of events) {
    if (typeof event !== "object" || event === null || Array.isArray(event)) return undefined;
    const id: unknown = (event as { id?: unknown }).id;
    if (typeof id !== "string" || id === "") return undefined;
  }
  return events as UsageEvent[];
}
