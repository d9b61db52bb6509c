/**
 * A decoder for AWS's binary `application/vnd.amazon.eventstream` framing
 * (Bedrock's ConverseStream and InvokeModelWithResponseStream), for metering.
 *
 * Each message is
 * `[total length u32][headers length u32][prelude CRC u32][headers][payload][message CRC u32]`,
 * big-endian, both CRCs the standard CRC-32 (the prelude's over its first 8
 * bytes, the message's over everything before it). Messages are not aligned
 * to network chunks: the decoder is a small state machine fed arbitrary
 * chunks, holding at most one message (`maxMessageSize`).
 *
 * It never throws: what it cannot trust is reported to `onFault` as an
 * `EventStreamFault`. A bad message CRC or header skips that one message; a
 * bad prelude CRC or an impossible length loses the framing, so the decoder
 * stops; a message over `maxMessageSize` is passed over unread; a stream that
 * ends inside a message is reported at `end()`. The bytes themselves are the
 * caller's to forward untouched.
 */
import { StoaStreamError } from "../errors.ts";
import { crc32 } from "./crc32.ts";

/** Bytes of the prelude: total length, headers length, prelude CRC. */
const PRELUDE = 12;
/** Bytes of a message around its headers and payload: the prelude and the message CRC. */
const OVERHEAD = PRELUDE + 4;

/**
 * A header value, by wire type: `true`/`false` (0, 1), a number (2 byte, 3
 * int16, 4 int32), a `bigint` (5 int64), bytes (6), a string (7), a `Date`
 * (8 timestamp), or a UUID's canonical text (9).
 */
export type EventStreamHeaderValue = boolean | number | bigint | Uint8Array | string | Date;

/** One decoded message. */
export interface EventStreamMessage {
  /** The headers, by name (`:message-type`, `:event-type`, `:content-type`, …). */
  headers: Map<string, EventStreamHeaderValue>;
  /** The payload bytes (a copy the receiver may keep). */
  payload: Uint8Array;
}

/** What went wrong, as a stable kind. */
export type EventStreamFaultKind =
  /** The prelude CRC does not match: the framing is lost, decoding stops. */
  | "prelude_crc"
  /** The lengths of a prelude cannot describe a message: decoding stops. */
  | "invalid_length"
  /** A message is longer than `maxMessageSize`: it is skipped unread. */
  | "message_too_large"
  /** The message CRC does not match: the message is skipped. */
  | "message_crc"
  /** A header runs past its section or has an unknown type: the message is skipped. */
  | "invalid_header"
  /** The stream ended inside a message. */
  | "truncated";

/** An event-stream message the decoder could not trust. */
export class EventStreamFault extends StoaStreamError {
  /** What went wrong. */
  readonly kind: EventStreamFaultKind;

  constructor(kind: EventStreamFaultKind, message: string) {
    super(message);
    this.name = "EventStreamFault";
    this.kind = kind;
  }
}

/** Options of `createEventStreamDecoder`. */
export interface EventStreamDecoderOptions {
  /** Receives each message whose CRCs and headers check out. */
  onMessage(message: EventStreamMessage): void;
  /** Receives each fault. */
  onFault(fault: EventStreamFault): void;
  /** Largest message, in bytes, the decoder holds (default 1 MiB, at least 16). */
  maxMessageSize?: number;
}

/** The decoder. Feed it every chunk in order, then call `end()`. */
export interface EventStreamDecoder {
  /** Decodes one chunk; any size, empty included. */
  feed(chunk: Uint8Array): void;
  /** Ends the stream: a message left incomplete is reported as `truncated`. */
  end(): void;
}

/** Creates a decoder for `application/vnd.amazon.eventstream` bytes. */
export function createEventStreamDecoder(options: EventStreamDecoderOptions): EventStreamDecoder {
  const maxMessageSize = Math.max(options.maxMessageSize ?? 1024 * 1024, OVERHEAD);
  const prelude = new Uint8Array(PRELUDE);
  let preludeFilled = 0;
  let message: Uint8Array | undefined; // the message being gathered, prelude included
  let filled = 0;
  let headersLength = 0;
  let skip = 0; // bytes of an oversized message still to pass over
  let stopped = false;

  function fault(kind: EventStreamFaultKind, text: string): void {
    options.onFault(new EventStreamFault(kind, text));
  }

  /** Checks a complete prelude and sets up the message it announces. */
  function start(bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, PRELUDE);
    const total = view.getUint32(0);
    const headers = view.getUint32(4);
    if (crc32(bytes.subarray(0, 8)) !== view.getUint32(8)) {
      stopped = true;
      fault("prelude_crc", "An event-stream prelude failed its CRC check; the rest of the stream was not read.");
    } else if (total < OVERHEAD || headers > total - OVERHEAD) {
      stopped = true;
      fault("invalid_length", `An event-stream prelude announced ${total} bytes with ${headers} of headers.`);
    } else if (total > maxMessageSize) {
      skip = total - PRELUDE;
      fault("message_too_large", `An event-stream message of ${total} bytes was over the limit and was skipped.`);
    } else {
      message = new Uint8Array(total);
      message.set(bytes.subarray(0, PRELUDE));
      filled = PRELUDE;
      headersLength = headers;
    }
  }

  /** Checks a complete message and hands it on. */
  function finish(bytes: Uint8Array): void {
    const end = bytes.length - 4;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (crc32(bytes.subarray(0, end)) !== view.getUint32(end)) {
      fault("message_crc", "An event-stream message failed its CRC check and was skipped.");
      return;
    }
    const headers = readHeaders(bytes, view, PRELUDE, PRELUDE + headersLength);
    if (headers === undefined) {
      fault("invalid_header", "An event-stream message had a malformed header and was skipped.");
      return;
    }
    options.onMessage({ headers, payload: bytes.slice(PRELUDE + headersLength, end) });
  }

  return {
    feed(chunk) {
      let at = 0;
      while (!stopped && at < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - at);
          skip -= n;
          at += n;
        } else if (message === undefined) {
          if (preludeFilled === 0 && chunk.length - at >= PRELUDE) {
            start(chunk.subarray(at, at + PRELUDE));
            at += PRELUDE;
          } else {
            const n = Math.min(PRELUDE - preludeFilled, chunk.length - at);
            prelude.set(chunk.subarray(at, at + n), preludeFilled);
            preludeFilled += n;
            at += n;
            if (preludeFilled === PRELUDE) {
              preludeFilled = 0;
              start(prelude);
            }
          }
        } else {
          const n = Math.min(message.length - filled, chunk.length - at);
          message.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === message.length) {
            const whole = message;
            message = undefined;
            finish(whole);
          }
        }
      }
    },
    end() {
      if (stopped) return;
      stopped = true;
      if (preludeFilled > 0 || message !== undefined || skip > 0) {
        fault("truncated", "The event stream ended inside a message.");
      }
    },
  };
}

const utf8 = new TextDecoder();

/** The headers in `bytes[from, to)`, or undefined when one is malformed. */
function readHeaders(
  bytes: Uint8Array,
  view: DataView,
  from: number,
  to: number,
): Map<string, EventStreamHeaderValue> | undefined {
  const headers = new Map<string, EventStreamHeaderValue>();
  let at = from;
  while (at < to) {
    const nameLength = bytes[at] as number;
    const typeAt = at + 1 + nameLength;
    if (nameLength === 0 || typeAt >= to) return undefined;
    const name = utf8.decode(bytes.subarray(at + 1, typeAt));
    const valueAt = typeAt + 1;
    let value: EventStreamHeaderValue;
    let next: number;
    switch (bytes[typeAt]) {
      case 0:
      case 1:
        value = bytes[typeAt] === 0;
        next = valueAt;
        break;
      case 2:
        next = valueAt + 1;
        if (next > to) return undefined;
        value = view.getInt8(valueAt);
        break;
      case 3:
        next = valueAt + 2;
        if (next > to) return undefined;
        value = view.getInt16(valueAt);
        break;
      case 4:
        next = valueAt + 4;
        if (next > to) return undefined;
        value = view.getInt32(valueAt);
        break;
      case 5:
      case 8:
        next = valueAt + 8;
        if (next > to) return undefined;
        value = view.getBigInt64(valueAt);
        if (bytes[typeAt] === 8) value = new Date(Number(value));
        break;
      case 6:
      case 7: {
        if (valueAt + 2 > to) return undefined;
        const start = valueAt + 2;
        next = start + view.getUint16(valueAt);
        if (next > to) return undefined;
        value = bytes[typeAt] === 6 ? bytes.slice(start, next) : utf8.decode(bytes.subarray(start, next));
        break;
      }
      case 9:
        next = valueAt + 16;
        if (next > to) return undefined;
        value = uuid(bytes.subarray(valueAt, next));
        break;
      default:
        return undefined;
    }
    headers.set(name, value);
    at = next;
  }
  return headers;
}

/** The canonical 8-4-4-4-12 text of 16 bytes. */
function uuid(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
