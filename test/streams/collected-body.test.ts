/**
 * The collected body of a JSON response: what it keeps, and the bounds of
 * the read that goes on after the app cancels it.
 */
import { describe, expect, it, vi } from "vitest";
import { type CollectedBody, collectBody, collectSource } from "../../src/streams/collected-body.ts";
import { servedBody } from "../../src/streams/served-body.ts";
import { guardSource } from "../../src/streams/unread-body.ts";
import { newRunId, providerBase, providerRequests } from "../support/provider.ts";

const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }] };

/** A JSON chat completion from the fake provider that stalls (see its `stall` option). */
async function stalledBody(runId: string, spaces: number): Promise<ReadableStream<Uint8Array>> {
  const response = await fetch(`${providerBase(runId, { stall: spaces }).openai}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(CHAT),
  });
  return response.body as ReadableStream<Uint8Array>;
}

/** Collects `source`, reads one chunk as the app, cancels, and waits for the background read. */
async function cancelAfterOneChunk(
  source: ReadableStream<Uint8Array>,
  options: { drainMs?: number; drainBytes?: number; maxBytes?: number },
): Promise<CollectedBody> {
  let work: Promise<unknown> | undefined;
  let collected: CollectedBody | undefined;
  const body = collectBody(source, {
    ...options,
    onDone: (value) => {
      collected = value;
    },
    keepAlive: (promise) => {
      work = promise;
    },
  });
  const reader = body.getReader();
  await reader.read();
  await reader.cancel();
  await work;
  return collected as CollectedBody;
}

describe("collectBody after a cancel", () => {
  it("stops a background read that never ends at its time bound and cancels the upstream", async () => {
    const runId = newRunId("collect-time");
    const collected = await cancelAfterOneChunk(await stalledBody(runId, 0), { drainMs: 50 });
    expect(collected).toEqual({ ok: false, total: 16, stopped: "time" });
    const [request] = await providerRequests(runId);
    expect(request?.outcome).toBe("cancelled");
  });

  it("stops a background read past its byte bound and cancels the upstream", async () => {
    const runId = newRunId("collect-bytes");
    const collected = await cancelAfterOneChunk(await stalledBody(runId, 10_000_000), { drainBytes: 100_000 });
    expect(collected.ok).toBe(false);
    expect(!collected.ok && collected.stopped).toBe("bytes");
    expect(collected.total).toBeGreaterThan(100_000);
    expect(collected.total).toBeLessThan(10_000_000);
    const [request] = await providerRequests(runId);
    expect(request?.outcome).toBe("cancelled");
  });
});

describe("collectBody cancelled while the app's own read waits", () => {
  it("ends as stopped, not as a complete body, when that read ends because the meter cancelled the upstream", async () => {
    const runId = newRunId("collect-inflight");
    let work: Promise<unknown> | undefined;
    const done: CollectedBody[] = [];
    const body = collectBody(await stalledBody(runId, 0), {
      drainMs: 50,
      onDone: (value) => done.push(value),
      keepAlive: (promise) => {
        work = promise;
      },
    });
    const reader = body.getReader();
    expect((await reader.read()).value).toHaveLength(16);
    const waiting = reader.read(); // the body stalls: this read waits
    await reader.cancel();
    expect(await waiting).toEqual({ done: true, value: undefined });
    await work;
    expect(done).toEqual([{ ok: false, total: 16, stopped: "time" }]);
    const [request] = await providerRequests(runId);
    expect(request?.outcome).toBe("cancelled");
  });
});

/** A JSON body that sends its first 18 bytes, then nothing, ever; `cancelled` is its cancel's reason. */
function stalledSource() {
  const state = { cancelled: undefined as unknown };
  let sent = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent) return new Promise<void>(() => {});
        sent = true;
        controller.enqueue(new TextEncoder().encode('{"id":"x","usage":'));
      },
      cancel(reason) {
        state.cancelled = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

describe("collectSource under the unread guard", () => {
  it("ends when the guard's read-ahead passes its bound: the guard's stop starts no second read", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const { stream, state } = stalledSource();
      const done: CollectedBody[] = [];
      const work: Promise<unknown>[] = [];
      const collected = collectSource(stream.getReader(), {
        drainMs: 20_000,
        onDone: (value) => done.push(value),
        keepAlive: (promise) => work.push(promise),
      });
      servedBody(
        guardSource(collected, {
          idleMs: 5_000,
          maxBytes: 4 * 1024 * 1024,
          drainMs: 20_000,
          keepAlive: (promise) => work.push(promise),
        }),
      );
      // 5 s unread, then 20 s of read-ahead on a body that stalls after its first 18 bytes
      await vi.advanceTimersByTimeAsync(24_999);
      expect(done).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toEqual([{ ok: false, total: 18, stopped: "time", unread: true }]);
      expect(state.cancelled).toBeInstanceOf(Error);
      await Promise.all(work);
      expect(work).toHaveLength(1); // the guard's; no background read of the body's own
    } finally {
      vi.useRealTimers();
    }
  });
});

/** A source of `count` chunks of `size` bytes, each byte its offset mod 251. */
function numbered(count: number, size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent === count) return controller.close();
        const chunk = new Uint8Array(size);
        for (let i = 0; i < size; i++) chunk[i] = (sent * size + i) % 251;
        sent++;
        controller.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
}

describe("collectBody over its cap", () => {
  for (const [count, size] of [
    [1, 5 * 1024 * 1024],
    [5, 1024 * 1024],
    [80, 65_000],
  ] as const) {
    it(`keeps copies of the first and last 64 KiB, not views that pin more (${count} × ${size} bytes)`, async () => {
      let collected: CollectedBody | undefined;
      const body = collectBody(numbered(count, size), {
        onDone: (value) => {
          collected = value;
        },
      });
      const reader = body.getReader();
      while (!(await reader.read()).done);
      const total = count * size;
      if (collected === undefined || !collected.ok || collected.head === undefined) throw new Error("no head and tail");
      expect(collected.total).toBe(total);
      expect(collected.head.length).toBe(65_536);
      expect(collected.tail.length).toBe(65_536);
      // the bytes retained: each one's own buffer, no larger than itself
      expect(collected.head.buffer.byteLength).toBe(65_536);
      expect(collected.tail.buffer.byteLength).toBe(65_536);
      expect(collected.head[65_535]).toBe(65_535 % 251);
      expect(collected.tail[0]).toBe((total - 65_536) % 251);
      expect(collected.tail[65_535]).toBe((total - 1) % 251);
    });
  }
});
