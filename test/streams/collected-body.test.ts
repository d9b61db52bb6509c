/**
 * The collected body of a JSON response: what it keeps, and the bounds of
 * the read that goes on after the app cancels it.
 */
import { describe, expect, it } from "vitest";
import { type CollectedBody, collectBody } from "../../src/streams/collected-body.ts";
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
