/**
 * The guard of a body the app may never read: the meter reads it itself after
 * an idle bound, keeps its bytes for a late reader, and bounds that read.
 */
import { describe, expect, it } from "vitest";
import { StoaStreamError } from "../../src/index.ts";
import { guardUnread } from "../../src/streams/unread-body.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A source of `parts`, each a macrotask after the one before; `pulls` counts its reads, `cancelled` its cancel. */
function source(parts: string[], endless = false) {
  const state = { pulls: 0, cancelled: undefined as unknown, closed: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        const part = parts[state.pulls++];
        if (part !== undefined) controller.enqueue(encoder.encode(part));
        else if (endless) controller.enqueue(encoder.encode("x".repeat(1000)));
        else {
          state.closed = true;
          controller.close();
        }
      },
      cancel(reason) {
        state.cancelled = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

function guard(stream: ReadableStream<Uint8Array>, options: { idleMs?: number; maxBytes?: number; drainMs?: number }) {
  const work: Promise<void>[] = [];
  const body = guardUnread(stream, {
    idleMs: options.idleMs ?? 10,
    maxBytes: options.maxBytes ?? 1_000_000,
    drainMs: options.drainMs ?? 60_000,
    keepAlive: (promise) => work.push(promise),
  });
  return { body, work };
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}

const PARTS = ["data: a\n\n", "data: é", "🎉\n\n", "data: [DONE]\n\n"];

describe("guardUnread", () => {
  it("reads a body the app leaves unread to its end, and a late reader gets every byte", async () => {
    const { stream, state } = source(PARTS);
    const { body, work } = guard(stream, {});
    expect(work).toHaveLength(1);
    await work[0];
    expect(state.closed).toBe(true);
    expect(await readAll(body)).toBe(PARTS.join(""));
  });

  it("reads nothing ahead of an app that reads at once", async () => {
    const { stream, state } = source(PARTS);
    const { body, work } = guard(stream, { idleMs: 60_000 });
    const reader = body.getReader();
    const first = await reader.read();
    await work[0];
    expect(decoder.decode(first.value)).toBe(PARTS[0]);
    expect(state.pulls).toBe(1);
    reader.releaseLock();
    expect(await readAll(body)).toBe(PARTS.slice(1).join(""));
  });

  it("hands over to an app that comes back while the meter reads, in order", async () => {
    const { stream } = source(PARTS, true);
    const { body, work } = guard(stream, { idleMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reader = body.getReader();
    let text = "";
    while (text.length < 5000) text += decoder.decode((await reader.read()).value);
    await work[0];
    await reader.cancel();
    expect(text.startsWith(`${PARTS.join("")}${"x".repeat(1000)}`)).toBe(true);
    expect(text.slice(PARTS.join("").length)).toBe("x".repeat(text.length - PARTS.join("").length));
  });

  it("cancels the body past its byte bound, drops what it kept, and fails a late read", async () => {
    const { stream, state } = source([], true);
    const { body, work } = guard(stream, { maxBytes: 10_000 });
    await work[0];
    expect(state.pulls).toBe(11);
    expect(state.cancelled).toBeInstanceOf(StoaStreamError);
    await expect(body.getReader().read()).rejects.toThrow("passed its 10000 bytes bound");
  });

  it("cancels the body past its time bound", async () => {
    const never = { cancelled: undefined as unknown };
    const stream = new ReadableStream<Uint8Array>({
      pull: () => new Promise<void>(() => {}),
      cancel(reason) {
        never.cancelled = reason;
      },
    });
    const { body, work } = guard(stream, { drainMs: 20 });
    await work[0];
    expect(never.cancelled).toBeInstanceOf(StoaStreamError);
    await expect(body.getReader().read()).rejects.toThrow("passed its 0.02 s bound");
  });

  it("settles its keep-alive when the app cancels an unread body", async () => {
    const { stream, state } = source(PARTS);
    const { body, work } = guard(stream, { idleMs: 60_000 });
    await body.cancel("app");
    await work[0];
    expect(state.cancelled).toBe("app");
    expect(state.pulls).toBe(0);
  });
});
