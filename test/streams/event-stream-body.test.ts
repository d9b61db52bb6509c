/**
 * The metered binary body (src/streams/event-stream-body.ts): every byte
 * reaches the app untouched whatever the chunking, the decoder sees every
 * message on the side, and faults, ends and cancels are told exactly once.
 */
import { describe, expect, it } from "vitest";
import type { EventStreamMessage } from "../../src/streams/event-stream.ts";
import { type EventStreamBodyOptions, meterEventStreamSource } from "../../src/streams/event-stream-body.ts";
import { servedBody } from "../../src/streams/served-body.ts";

/** The metered event-stream body as the app gets it: the source, served. */
const meterEventStreamBody = (upstream: ReadableStream<Uint8Array>, options: EventStreamBodyOptions) =>
  servedBody(meterEventStreamSource(upstream.getReader(), options));

import type { BodyOutcome } from "../../src/streams/metered-body.ts";
import { bedrockEvent, CONVERSE_STREAM_EVENTS, concatBytes } from "../support/fake-provider-more.ts";

const FRAMES = CONVERSE_STREAM_EVENTS.map(([type, payload]) => bedrockEvent(type, payload));
const BYTES = concatBytes(FRAMES);

function source(chunks: Uint8Array[], fail?: Error): ReadableStream<Uint8Array> & { cancelled?: unknown } {
  let at = 0;
  const stream: ReadableStream<Uint8Array> & { cancelled?: unknown } = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[at++];
      if (chunk !== undefined) controller.enqueue(chunk);
      else if (fail !== undefined) controller.error(fail);
      else controller.close();
    },
    cancel(reason) {
      stream.cancelled = reason;
    },
  });
  return stream;
}

function watch(chunks: Uint8Array[], options: { doneAfter?: string; fail?: Error } = {}) {
  const types: string[] = [];
  const faults: unknown[] = [];
  const ends: [BodyOutcome, unknown][] = [];
  const upstream = source(chunks, options.fail);
  const body = meterEventStreamBody(upstream, {
    onMessage(message: EventStreamMessage) {
      types.push(String(message.headers.get(":event-type")));
    },
    afterChunk: () => options.doneAfter !== undefined && types.includes(options.doneAfter),
    onEnd: (outcome, error) => ends.push([outcome, error]),
    onFault: (error) => faults.push(error),
  });
  return { body, types, faults, ends, upstream };
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

const TYPES = CONVERSE_STREAM_EVENTS.map(([type]) => type);

describe("the metered event-stream body", () => {
  it("passes every byte and decodes every message, split at every boundary (inside preludes and CRCs)", async () => {
    for (let cut = 1; cut < BYTES.length; cut++) {
      const w = watch([BYTES.subarray(0, cut), BYTES.subarray(cut)]);
      expect(await readAll(w.body)).toEqual(BYTES);
      expect(w.types).toEqual(TYPES);
      expect(w.faults).toEqual([]);
      expect(w.ends).toEqual([["end", undefined]]);
    }
  });

  it("passes every byte one at a time", async () => {
    const w = watch(Array.from(BYTES, (byte) => new Uint8Array([byte])));
    expect(await readAll(w.body)).toEqual(BYTES);
    expect(w.types).toEqual(TYPES);
    expect(w.ends).toEqual([["end", undefined]]);
  });

  it("skips a message with a corrupt CRC, tells it, and still passes its bytes", async () => {
    const bytes = BYTES.slice();
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff; // the metadata frame's message CRC
    const w = watch([bytes.subarray(0, 300), bytes.subarray(300)]);
    expect(await readAll(w.body)).toEqual(bytes);
    expect(w.types).toEqual(TYPES.slice(0, -1));
    expect(w.faults).toMatchObject([{ kind: "message_crc" }]);
    expect(w.ends).toEqual([["end", undefined]]);
  });

  it("tells a body that ends inside a frame, after passing its bytes", async () => {
    const bytes = BYTES.subarray(0, BYTES.length - 30);
    const w = watch([bytes]);
    expect(await readAll(w.body)).toEqual(bytes);
    expect(w.types).toEqual(TYPES.slice(0, -1));
    expect(w.faults).toMatchObject([{ kind: "truncated" }]);
    expect(w.ends).toEqual([["end", undefined]]);
  });

  it("stops decoding once the meter has what it needs, and keeps passing bytes", async () => {
    const w = watch(
      FRAMES.map((frame) => frame),
      { doneAfter: "contentBlockDelta" },
    );
    expect(await readAll(w.body)).toEqual(BYTES);
    expect(w.types).toEqual(["messageStart", "contentBlockDelta"]);
    expect(w.ends).toEqual([["end", undefined]]);
  });

  it("ends as an error when the upstream fails, after the bytes before it", async () => {
    const cut = new Error("network cut");
    const w = watch([BYTES.subarray(0, 200)], { fail: cut });
    const reader = w.body.getReader();
    expect((await reader.read()).value).toEqual(BYTES.subarray(0, 200));
    await expect(reader.read()).rejects.toBe(cut);
    expect(w.types).toEqual(["messageStart"]);
    expect(w.faults).toEqual([]);
    expect(w.ends).toEqual([["error", cut]]);
  });

  it("ends as a cancel when the app cancels, and cancels the upstream", async () => {
    const w = watch(FRAMES);
    const reader = w.body.getReader();
    await reader.read();
    await reader.cancel("enough");
    expect(w.ends).toEqual([["cancel", "enough"]]);
    expect(w.upstream.cancelled).toBe("enough");
    expect(w.types).toEqual(["messageStart"]);
  });

  it("reports a message handler that throws and keeps passing bytes", async () => {
    const faults: unknown[] = [];
    const boom = new Error("boom");
    const body = meterEventStreamBody(source([BYTES]), {
      onMessage() {
        throw boom;
      },
      afterChunk: () => false,
      onEnd() {},
      onFault: (error) => faults.push(error),
    });
    expect(await readAll(body)).toEqual(BYTES);
    expect(faults).toEqual([boom]);
  });
});
