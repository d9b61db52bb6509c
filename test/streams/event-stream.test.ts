/**
 * The `vnd.amazon.eventstream` decoder and its CRC-32, against frames built
 * by the test support's own encoder and bit-by-bit CRC: every way a stream
 * can be cut into chunks, every header type, and each fault.
 */
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/streams/crc32.ts";
import {
  createEventStreamDecoder,
  type EventStreamFaultKind,
  type EventStreamHeaderValue,
} from "../../src/streams/event-stream.ts";
import {
  bedrockEvent,
  concatBytes,
  eventStreamFrame,
  headerBytes,
  referenceCrc32,
  stringHeader,
} from "../support/fake-provider-more.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Decoded {
  messages: { headers: Record<string, EventStreamHeaderValue>; payload: string }[];
  faults: EventStreamFaultKind[];
}

function decode(chunks: Uint8Array[], maxMessageSize?: number): Decoded {
  const out: Decoded = { messages: [], faults: [] };
  const stream = createEventStreamDecoder({
    onMessage: (message) =>
      out.messages.push({ headers: Object.fromEntries(message.headers), payload: decoder.decode(message.payload) }),
    onFault: (fault) => out.faults.push(fault.kind),
    ...(maxMessageSize === undefined ? {} : { maxMessageSize }),
  });
  for (const chunk of chunks) stream.feed(chunk);
  stream.end();
  return out;
}

function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(bytes.slice(from, cut));
    from = cut;
  }
  out.push(bytes.slice(from));
  return out;
}

function hex(dump: string): Uint8Array {
  const bytes = dump
    .trim()
    .split("\n")
    .flatMap((line) => line.slice(6, 53).trim().split(/\s+/));
  return new Uint8Array(bytes.map((byte) => Number.parseInt(byte, 16)));
}

/** The 194-byte `metadata` frame of provider-facts-more.md §2.5 (CRCs computed there with Python's zlib). */
const FACTS_FRAME = hex(`
0000  00 00 00 c2 00 00 00 4e 67 93 08 45 0b 3a 65 76  .......Ng..E.:ev
0010  65 6e 74 2d 74 79 70 65 07 00 08 6d 65 74 61 64  ent-type...metad
0020  61 74 61 0d 3a 63 6f 6e 74 65 6e 74 2d 74 79 70  ata.:content-typ
0030  65 07 00 10 61 70 70 6c 69 63 61 74 69 6f 6e 2f  e...application/
0040  6a 73 6f 6e 0d 3a 6d 65 73 73 61 67 65 2d 74 79  json.:message-ty
0050  70 65 07 00 05 65 76 65 6e 74 7b 22 6d 65 74 72  pe...event{"metr
0060  69 63 73 22 3a 7b 22 6c 61 74 65 6e 63 79 4d 73  ics":{"latencyMs
0070  22 3a 32 33 32 7d 2c 22 70 22 3a 22 61 62 63 22  ":232},"p":"abc"
0080  2c 22 75 73 61 67 65 22 3a 7b 22 69 6e 70 75 74  ,"usage":{"input
0090  54 6f 6b 65 6e 73 22 3a 31 34 2c 22 6f 75 74 70  Tokens":14,"outp
00a0  75 74 54 6f 6b 65 6e 73 22 3a 39 2c 22 74 6f 74  utTokens":9,"tot
00b0  61 6c 54 6f 6b 65 6e 73 22 3a 32 33 7d 7d c8 a6  alTokens":23}}..
00c0  11 78                                            .x
`);
const FACTS_PAYLOAD =
  '{"metrics":{"latencyMs":232},"p":"abc","usage":{"inputTokens":14,"outputTokens":9,"totalTokens":23}}';
const EVENT_HEADERS = { ":event-type": "metadata", ":content-type": "application/json", ":message-type": "event" };

const START = { messageStart: { role: "assistant" } };
const DELTA = { contentBlockIndex: 0, delta: { text: "Let me count 🍓" }, p: "abcdefgh" };
const STREAM = concatBytes([
  bedrockEvent("messageStart", START.messageStart),
  bedrockEvent("contentBlockDelta", DELTA),
  FACTS_FRAME,
]);
const EXPECTED: Decoded = {
  messages: [
    { headers: { ...EVENT_HEADERS, ":event-type": "messageStart" }, payload: JSON.stringify(START.messageStart) },
    { headers: { ...EVENT_HEADERS, ":event-type": "contentBlockDelta" }, payload: JSON.stringify(DELTA) },
    { headers: EVENT_HEADERS, payload: FACTS_PAYLOAD },
  ],
  faults: [],
};

describe("crc32", () => {
  it("matches the bit-by-bit reference and the check value", () => {
    expect(crc32(encoder.encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const bytes = new Uint8Array(1000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    for (const length of [0, 1, 3, 8, 255, 1000]) {
      expect(crc32(bytes.subarray(0, length))).toBe(referenceCrc32(bytes.subarray(0, length)));
    }
  });

  it("continues over bytes that follow", () => {
    const bytes = encoder.encode("a longer run of bytes, split in two");
    expect(crc32(bytes.subarray(11), crc32(bytes.subarray(0, 11)))).toBe(crc32(bytes));
  });
});

describe("event-stream decoder", () => {
  it("agrees with the facts' frame, byte for byte", () => {
    expect(eventStreamFrame(EVENT_HEADERS, FACTS_PAYLOAD)).toEqual(FACTS_FRAME);
    expect(decode([FACTS_FRAME])).toEqual({ messages: [EXPECTED.messages[2]], faults: [] });
  });

  it("decodes the same messages at every single split, inside preludes and CRCs too", () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      expect(decode(splitAt(STREAM, cut)), `cut at ${cut}`).toEqual(EXPECTED);
    }
  });

  it("decodes the same messages for every pair of splits around the first frame", () => {
    const first = bedrockEvent("messageStart", START.messageStart).length;
    for (let a = 0; a <= first + 16; a++) {
      for (let b = a; b <= STREAM.length; b += 7) {
        expect(decode(splitAt(STREAM, a, b)), `cuts at ${a}, ${b}`).toEqual(EXPECTED);
      }
    }
  });

  it("decodes byte by byte, with empty chunks between", () => {
    const chunks: Uint8Array[] = [new Uint8Array(0)];
    for (const byte of STREAM) chunks.push(new Uint8Array([byte]), new Uint8Array(0));
    expect(decode(chunks)).toEqual(EXPECTED);
    expect(decode([])).toEqual({ messages: [], faults: [] });
  });

  it("reads every header type", () => {
    const int = (bytes: number[]) => new Uint8Array(bytes);
    const headers = [
      headerBytes("t", 0),
      headerBytes("f", 1),
      headerBytes("byte", 2, int([0xfe])),
      headerBytes("short", 3, int([0x80, 0x01])),
      headerBytes("int", 4, int([0x00, 0x01, 0x00, 0x00])),
      headerBytes("long", 5, int([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe])),
      headerBytes("bytes", 6, int([0x00, 0x02, 0xde, 0xad])),
      stringHeader("str", "héllo"),
      headerBytes("time", 8, int([0, 0, 0x01, 0x9b, 0x6f, 0x94, 0x1c, 0x00])),
      headerBytes("uuid", 9, int([...Array(16).keys()])),
    ];
    const out = decode([eventStreamFrame(headers, "{}")]);
    expect(out.faults).toEqual([]);
    expect(out.messages[0]?.headers).toEqual({
      t: true,
      f: false,
      byte: -2,
      short: -32767,
      int: 65536,
      long: -2n,
      bytes: int([0xde, 0xad]),
      str: "héllo",
      time: new Date(0x019b6f941c00),
      uuid: "00010203-0405-0607-0809-0a0b0c0d0e0f",
    });
  });

  it("reports a corrupt prelude CRC and stops: the framing is lost", () => {
    const bytes = STREAM.slice();
    bytes[9] = (bytes[9] as number) ^ 0x01;
    expect(decode([bytes])).toEqual({ messages: [], faults: ["prelude_crc"] });
  });

  it("reports a corrupt message CRC and skips only that message", () => {
    const second = bedrockEvent("messageStart", START.messageStart).length + 40;
    for (const at of [second, STREAM.length - 1]) {
      const bytes = STREAM.slice();
      bytes[at] = (bytes[at] as number) ^ 0x20;
      const out = decode(splitAt(bytes, 5, second + 1));
      expect(out.faults).toEqual(["message_crc"]);
      expect(out.messages).toHaveLength(2);
    }
  });

  it("reports an impossible length with a valid prelude CRC", () => {
    const prelude = new Uint8Array(12);
    const view = new DataView(prelude.buffer);
    view.setUint32(0, 15);
    view.setUint32(4, 0);
    view.setUint32(8, referenceCrc32(prelude.subarray(0, 8)));
    expect(decode([prelude, STREAM])).toEqual({ messages: [], faults: ["invalid_length"] });
    view.setUint32(0, 40);
    view.setUint32(4, 30);
    view.setUint32(8, referenceCrc32(prelude.subarray(0, 8)));
    expect(decode([prelude, STREAM])).toEqual({ messages: [], faults: ["invalid_length"] });
  });

  it("skips a message over the size limit and reads on", () => {
    const big = bedrockEvent("contentBlockDelta", { delta: { text: "x".repeat(300) } });
    const bytes = concatBytes([FACTS_FRAME, big, FACTS_FRAME]);
    for (const cut of [0, 10, 194, 200, 194 + big.length - 2, 194 + big.length + 3]) {
      const out = decode(splitAt(bytes, cut), 256);
      expect(out.faults).toEqual(["message_too_large"]);
      expect(out.messages.map((m) => m.payload)).toEqual([FACTS_PAYLOAD, FACTS_PAYLOAD]);
    }
  });

  it("reports a header with an unknown type or past its section, and skips that message", () => {
    const unknown = eventStreamFrame([headerBytes("x", 10, new Uint8Array([1]))], "{}");
    const overlong = eventStreamFrame([headerBytes("s", 7, new Uint8Array([0, 9, 0x61]))], "{}");
    const out = decode([unknown, FACTS_FRAME, overlong]);
    expect(out.faults).toEqual(["invalid_header", "invalid_header"]);
    expect(out.messages.map((m) => m.payload)).toEqual([FACTS_PAYLOAD]);
  });

  it("reports a truncated final frame at the end, wherever it was cut", () => {
    for (const keep of [1, 11, 12, 100, FACTS_FRAME.length - 1]) {
      const bytes = concatBytes([FACTS_FRAME, FACTS_FRAME.subarray(0, keep)]);
      expect(decode(splitAt(bytes, 3)), `kept ${keep}`).toEqual({
        messages: [{ headers: EVENT_HEADERS, payload: FACTS_PAYLOAD }],
        faults: ["truncated"],
      });
    }
    const big = bedrockEvent("contentBlockDelta", { delta: { text: "x".repeat(300) } });
    expect(decode([big.subarray(0, 100)], 256).faults).toEqual(["message_too_large", "truncated"]);
  });
});
