/**
 * A Server-Sent Events parser for metering.
 *
 * It decodes each chunk once and frames events on the text with
 * single-character searches, the cheapest way through a stream in V8. On
 * request it also reports where each event sat in the byte stream, so the
 * caller can cut an event out of the bytes the app reads.
 *
 * Follows the SSE rules (LF, CRLF and bare CR line ends; a leading BOM; `:`
 * comments; multi-line `data` joined with `\n`), with two metering policies:
 * - an event whose data passes `maxEventLength` is not held whole: its first
 *   `HEAD` and last `TAIL` characters are kept (where every provider puts the
 *   type and the usage object) and the callback learns its true length;
 * - at the end of the stream, an event not followed by a blank line is still
 *   dispatched (the SSE spec drops it; providers can end that way, and its
 *   usage is billable).
 */

import { utf8Length } from "./bytes.ts";

const LF = 10;
const BOM = 0xfeff;
const HEAD = 256;
const TAIL = 64 * 1024;

/**
 * Receives each event's data, the data's full length (joined lines, UTF-16
 * units), and, when the data passed `maxEventLength`, its first characters
 * (`data` then holds its last ones). Return `true` to mark the event as
 * dropped (see `SseParser.dropped`).
 */
export type SseEventHandler = (data: string, dataLength: number, head: string | undefined) => boolean | undefined;

/** The parser. Feed it every chunk in order, then call `end()`. */
export interface SseParser {
  /** Parses one chunk. */
  feed(chunk: Uint8Array): void;
  /** Ends the stream, dispatching an event left without its blank line. */
  end(): void;
  /** With `offsets`: the byte offset just past the last blank line seen. */
  readonly boundary: number;
  /** With `offsets`: `[start, end)` byte ranges of events the handler dropped; the caller may shift them off. */
  readonly dropped: [number, number][];
}

/** Options of `createSseParser`. */
export interface SseParserOptions {
  /** Characters of data of one event kept whole (default 1 Mi). */
  maxEventLength?: number;
  /** Track byte offsets of event boundaries (`boundary`, `dropped`); off by default. */
  offsets?: boolean;
}

/** Creates an SSE parser that calls `onEvent` for each event with data. */
export function createSseParser(onEvent: SseEventHandler, options: SseParserOptions = {}): SseParser {
  const maxEventLength = Math.max(options.maxEventLength ?? 1024 * 1024, HEAD + TAIL);
  const offsets = options.offsets === true;
  // the parser's own decoder, made when a chunk first ends inside a character (a decoder is dear to
  // make in workerd); whole chunks go through the shared one, which never holds state
  let decoder: TextDecoder | undefined;
  let decoding = false; // `decoder` holds part of a UTF-8 sequence

  let first = true; // the stream's first character may be a BOM
  let skipLF = false; // the previous chunk ended in CR: a leading LF belongs to it

  // an incomplete line carried between chunks; past the cap only its head and tail
  let pending = "";
  let pendingHead: string | undefined;
  let pendingLength = 0;

  // the current event
  let data: string | undefined;
  let dataLength = 0;
  let head: string | undefined;

  // byte offsets (with `offsets`)
  let fed = 0; // bytes fed so far
  let carry = 0; // bytes of an incomplete UTF-8 sequence the decoder holds
  let carryLength = 0; // the length of that sequence
  let textStart = 0; // byte offset of the current text's first character
  let textAscii = true; // every character of the current text is one byte
  let text = "";
  let boundary = 0;
  const dropped: [number, number][] = [];
  let lastDropEnd = -1;

  function byteOffset(index: number): number {
    return textAscii ? textStart + index : textStart + utf8Length(text, index);
  }

  function appendData(value: string, length: number, valueHead?: string): void {
    if (data === undefined) {
      data = value;
      dataLength = length;
      if (valueHead !== undefined) head = valueHead;
    } else {
      if (valueHead !== undefined && head === undefined) head = data.slice(0, HEAD);
      data = `${data}\n${value}`;
      dataLength += length + 1;
    }
    if (dataLength > maxEventLength) {
      if (head === undefined) head = data.slice(0, HEAD);
      if (data.length > TAIL) data = data.slice(-TAIL);
    }
  }

  /** A blank line ends the event; `end` is the text index just past it. */
  function dispatch(end: number): void {
    const at = offsets ? byteOffset(end) : 0;
    if (data !== undefined) {
      const value = data;
      const length = dataLength;
      const valueHead = head;
      data = undefined;
      dataLength = 0;
      head = undefined;
      if (onEvent(value, length, valueHead) === true && offsets) {
        dropped.push([boundary, at]);
        lastDropEnd = at;
      }
    }
    boundary = at;
  }

  /** One complete line, `line[from, to)`, that ends at text index `end`. */
  function line(source: string, from: number, to: number, end: number): void {
    if (first) {
      first = false;
      if (source.charCodeAt(from) === BOM) from++;
    }
    if (from === to) {
      dispatch(end);
      return;
    }
    if (
      source.charCodeAt(from) === 100 &&
      source.charCodeAt(from + 4) === 58 &&
      source.charCodeAt(from + 1) === 97 &&
      source.charCodeAt(from + 2) === 116 &&
      source.charCodeAt(from + 3) === 97
    ) {
      const start = source.charCodeAt(from + 5) === 32 ? from + 6 : from + 5;
      appendData(source.slice(start, to), to - start);
    } else if (to - from === 4 && source.startsWith("data", from)) {
      appendData("", 0); // a field name without a colon has an empty value
    }
  }

  /** The pending line ends with `text[0, to)`. */
  function finishPending(to: number, end: number): void {
    if (pendingHead === undefined) {
      const whole = pending + text.slice(0, to);
      pending = "";
      pendingLength = 0;
      line(whole, 0, whole.length, end);
      return;
    }
    // an over-long line: its head, and the last TAIL characters
    const tail = (pending + text.slice(0, to)).slice(-TAIL);
    const total = pendingLength + to;
    const lineHead = pendingHead;
    pending = "";
    pendingHead = undefined;
    pendingLength = 0;
    let from = 0;
    if (first) {
      first = false;
      if (lineHead.charCodeAt(0) === BOM) from = 1;
    }
    if (lineHead.startsWith("data:", from)) {
      const start = lineHead.charCodeAt(from + 5) === 32 ? from + 6 : from + 5;
      appendData(tail, total - start, lineHead.slice(start));
    }
  }

  /** Keeps `text[from, …)` as the start of the next line, bounding a never-ending one. */
  function keep(from: number): void {
    const rest = from === 0 ? text : text.slice(from);
    pendingLength += rest.length;
    if (pendingHead === undefined && pendingLength <= maxEventLength) {
      pending += rest;
      return;
    }
    if (pendingHead === undefined) pendingHead = (pending + rest).slice(0, HEAD);
    pending = (pending + rest).slice(-TAIL);
  }

  function feed(chunk: Uint8Array): void {
    // an empty chunk carries nothing: above all it must not end a CR's wait for its LF
    if (chunk.length === 0) return;
    // a chunk that ends in ASCII ends a character: decode it whole, which is cheaper than streaming
    const ascii = (chunk[chunk.length - 1] ?? 0) < 0x80;
    if (!decoding && ascii) text = WHOLE.decode(chunk);
    else {
      decoder ??= newDecoder();
      text = decoder.decode(chunk, { stream: true });
    }
    decoding = !ascii;
    if (offsets) {
      textStart = fed - carry;
      fed += chunk.length;
      if (carry > 0 && carry + chunk.length < carryLength) {
        carry += chunk.length; // a character arriving a byte at a time: still unfinished
      } else {
        carry = incompleteTail(chunk);
        if (carry > 0) carryLength = sequenceLength(chunk[chunk.length - carry] as number);
      }
      textAscii = text.length === fed - carry - textStart;
    }
    const t = text;
    const length = t.length;
    let pos = 0;
    if (skipLF) {
      skipLF = false;
      if (text.charCodeAt(0) === LF) {
        // the LF of a CRLF split across chunks belongs to the line before
        pos = 1;
        if (boundary === textStart) {
          // the LF ends a dropped event: drop it with it (the caller may have taken the range already)
          if (lastDropEnd === boundary) dropped.push([boundary, boundary + 1]);
          boundary = textStart + 1;
        }
      }
    }
    // most streams have no CR at all: then one LF search per line does
    let cr = t.includes("\r", pos) ? t.indexOf("\r", pos) : -1;
    while (pos < length) {
      let eol = t.indexOf("\n", pos);
      let next: number;
      if (cr !== -1 && cr < pos) cr = t.indexOf("\r", pos);
      if (cr !== -1 && (eol === -1 || cr < eol)) {
        eol = cr;
        if (cr + 1 < length) {
          next = t.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
        } else {
          next = length;
          skipLF = true;
        }
      } else if (eol !== -1) {
        next = eol + 1;
      } else {
        keep(pos);
        return;
      }
      if (pendingLength > 0) finishPending(eol, next);
      else line(t, pos, eol, next);
      pos = next;
    }
  }

  function end(): void {
    text = decoding && decoder !== undefined ? decoder.decode() : ""; // an unfinished UTF-8 sequence becomes U+FFFD
    if (text.length > 0) keep(0);
    text = "";
    textStart = fed;
    textAscii = true;
    if (pendingLength > 0) finishPending(0, 0);
    if (data !== undefined) dispatch(0);
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

/** A decoder that keeps a BOM in the text, so that every character stands for its own bytes. */
function newDecoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
}

/** Decodes whole chunks (never with `stream`, so it holds no state between calls): shared by every parser. */
const WHOLE = newDecoder();

/**
 * Bytes at the end of `chunk` that start a UTF-8 sequence it does not finish
 * (0 when the chunk runs out before a lead byte: it finished the sequence held
 * before it, see `feed`).
 */
function incompleteTail(chunk: Uint8Array): number {
  const n = chunk.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const byte = chunk[n - back] as number;
    if (byte < 0x80) return 0; // ASCII: complete
    if (byte >= 0xc0) return sequenceLength(byte) > back ? back : 0; // a lead byte
    // a continuation byte: look further back
  }
  return 0;
}

/** Bytes of the UTF-8 sequence that `lead` starts. */
function sequenceLength(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
}
