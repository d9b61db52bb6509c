/**
 * A byte-level Server-Sent Events parser for metering.
 *
 * It frames events on the raw bytes (line ends are ASCII, so UTF-8 never needs
 * decoding to find them) and decodes only `data` lines. That keeps byte
 * offsets exact, which lets the caller drop a whole event from what the app
 * reads, and lets it bound memory on a huge event without decoding it.
 *
 * Follows the SSE rules (LF, CRLF and bare CR line ends; a leading BOM; `:`
 * comments; multi-line `data` joined with `\n`), with two metering policies:
 * - an event whose data passes `maxEventBytes` is not held whole: its first
 *   `HEAD` and last `TAIL` bytes are kept (where every provider puts the type
 *   and the usage object) and the callback learns its true size;
 * - at the end of the stream, an event not followed by a blank line is still
 *   dispatched (the SSE spec drops it; providers can end that way, and its
 *   usage is billable).
 */

const LF = 10;
const CR = 13;
const HEAD = 256;
const TAIL = 64 * 1024;

/** Where an event sat in the byte stream, and whether it was cut down. */
export interface SseEventInfo {
  /** Offset of the event's first byte (just after the previous blank line). */
  start: number;
  /** Offset just past the blank line that ended it (the stream length at the end). */
  end: number;
  /** Bytes of `data` the event carried (joined lines), even when truncated. */
  dataBytes: number;
  /** When the data passed `maxEventBytes`: its first bytes; `data` then holds its last bytes. */
  head?: string;
}

/** Receives each event's data. Return `true` to mark the event as dropped (see `SseParser.dropped`). */
export type SseEventHandler = (data: string, info: SseEventInfo) => boolean | undefined;

/** The parser. Feed it every chunk in order, then call `end()`. */
export interface SseParser {
  /** Parses one chunk. */
  feed(chunk: Uint8Array): void;
  /** Ends the stream, dispatching an event left without its blank line. */
  end(): void;
  /** Offset just past the last blank line seen: bytes before it belong to complete events. */
  readonly boundary: number;
  /** `[start, end)` ranges of events the handler dropped, oldest first; the caller may shift them off. */
  readonly dropped: [number, number][];
}

/** Options of `createSseParser`. */
export interface SseParserOptions {
  /** Data bytes of one event kept whole (default 1 MiB). */
  maxEventBytes?: number;
}

/** Creates a byte-level SSE parser that calls `onEvent` for each event with data. */
export function createSseParser(onEvent: SseEventHandler, options: SseParserOptions = {}): SseParser {
  const maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
  const decoder = new TextDecoder();

  let offset = 0; // stream offset of the current chunk's first byte
  let boundary = 0;
  let eventStart = 0;
  let skipLF = false; // the previous chunk ended in CR: a leading LF belongs to it
  let first = true; // the first line may start with a BOM

  // a line split across chunks; past the cap only its head and a tail are kept
  let parts: Uint8Array[] = [];
  let partsLength = 0;
  let skipped = 0; // bytes dropped from the middle of that line

  // the current event's data
  let data: string | undefined;
  let dataBytes = 0;
  let head: string | undefined;

  const dropped: [number, number][] = [];

  function appendData(value: string, bytes: number, valueHead?: string): void {
    dataBytes += data === undefined ? bytes : bytes + 1;
    if (valueHead !== undefined && head === undefined) head = data === undefined ? valueHead : data.slice(0, HEAD);
    data = data === undefined ? value : `${data}\n${value}`;
    if (dataBytes > maxEventBytes) {
      if (head === undefined) head = data.slice(0, HEAD);
      if (data.length > TAIL) data = data.slice(-TAIL);
    }
  }

  function dispatch(end: number): void {
    if (data !== undefined) {
      const info: SseEventInfo = { start: eventStart, end, dataBytes };
      if (head !== undefined) info.head = head;
      const value = data;
      data = undefined;
      dataBytes = 0;
      head = undefined;
      if (onEvent(value, info) === true) dropped.push([info.start, end]);
    }
    boundary = end;
    eventStart = end;
  }

  /** Handles one complete line, `bytes[from, to)`, whose line end finishes at stream offset `end`. */
  function line(bytes: Uint8Array, from: number, to: number, end: number): void {
    if (first) {
      first = false;
      if (bytes[from] === 0xef && bytes[from + 1] === 0xbb && bytes[from + 2] === 0xbf) from += 3;
    }
    if (from === to) {
      dispatch(end);
      return;
    }
    const start = dataValueStart(bytes, from, to);
    if (start !== -1) appendData(decoder.decode(bytes.subarray(start, to)), to - start);
  }

  /** Handles an over-long line of `total` bytes of which `kept` holds the first HEAD and the last TAIL. */
  function longLine(kept: Uint8Array, total: number): void {
    let from = 0;
    if (first) {
      first = false;
      if (kept[0] === 0xef && kept[1] === 0xbb && kept[2] === 0xbf) from = 3;
    }
    const start = dataValueStart(kept, from, HEAD);
    if (start === -1) return;
    const valueHead = decoder.decode(kept.subarray(start, HEAD));
    appendData(decoder.decode(kept.subarray(HEAD)), total - start, valueHead);
  }

  /** Finishes the pending line with `rest`, the part of it in the current chunk. */
  function finishPending(rest: Uint8Array, end: number): void {
    const whole = concat([...parts, rest], partsLength + rest.length);
    const total = whole.length + skipped;
    parts = [];
    partsLength = 0;
    if (skipped === 0 && whole.length <= Math.max(maxEventBytes, HEAD + TAIL)) {
      line(whole, 0, whole.length, end);
    } else {
      skipped = 0;
      longLine(headAndTail(whole), total);
    }
  }

  /** Keeps `chunk[from, …)` as the start of the next line, bounding what a never-ending line holds. */
  function keep(chunk: Uint8Array, from: number): void {
    parts.push(chunk.slice(from));
    partsLength += chunk.length - from;
    if (partsLength > (skipped > 0 ? HEAD + 2 * TAIL : Math.max(maxEventBytes, HEAD + 2 * TAIL))) {
      const whole = concat(parts, partsLength);
      const kept = headAndTail(whole);
      skipped += whole.length - kept.length;
      parts = [kept];
      partsLength = kept.length;
    }
  }

  function feed(chunk: Uint8Array): void {
    const length = chunk.length;
    let pos = 0;
    if (skipLF) {
      skipLF = false;
      if (length > 0 && chunk[0] === LF) {
        // the LF of a CRLF split across chunks: it belongs to the line before
        pos = 1;
        if (boundary === offset) boundary = eventStart = offset + 1;
        const last = dropped[dropped.length - 1];
        if (last !== undefined && last[1] === offset) last[1] = offset + 1;
      }
    }
    let cr = chunk.indexOf(CR, pos);
    while (pos < length) {
      const lf = chunk.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos);
      let eol: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        eol = cr;
        if (cr + 1 < length) {
          next = chunk[cr + 1] === LF ? cr + 2 : cr + 1;
        } else {
          next = length;
          skipLF = true;
        }
      } else if (lf !== -1) {
        eol = lf;
        next = lf + 1;
      } else {
        keep(chunk, pos);
        break;
      }
      if (partsLength > 0) finishPending(chunk.subarray(pos, eol), offset + next);
      else line(chunk, pos, eol, offset + next);
      pos = next;
    }
    offset += length;
  }

  function end(): void {
    if (partsLength > 0) finishPending(new Uint8Array(0), offset);
    if (data !== undefined) dispatch(offset);
  }

  return {
    feed,
    end,
    get boundary() {
      return boundary;
    },
    dropped,
  };
}

/** Where the value of a `data:` line starts, or -1 for any other line. */
function dataValueStart(bytes: Uint8Array, from: number, to: number): number {
  if (
    to - from < 5 ||
    bytes[from] !== 100 ||
    bytes[from + 1] !== 97 ||
    bytes[from + 2] !== 116 ||
    bytes[from + 3] !== 97 ||
    bytes[from + 4] !== 58
  ) {
    return -1;
  }
  return bytes[from + 5] === 32 ? from + 6 : from + 5;
}

function headAndTail(whole: Uint8Array): Uint8Array {
  if (whole.length <= HEAD + TAIL) return whole;
  const kept = new Uint8Array(HEAD + TAIL);
  kept.set(whole.subarray(0, HEAD));
  kept.set(whole.subarray(whole.length - TAIL), HEAD);
  return kept;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0]?.length === length) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
