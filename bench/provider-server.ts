/**
 * The fake OpenAI and Stoa API, run as a child process (`fork`) so that its
 * CPU is never counted as the client's. Tells its parent its port over IPC.
 *
 *   POST /burst/v1/chat/completions  2,000 chunks as fast as the client reads them
 *   POST /short/v1/chat/completions  20 chunks, as fast (a short answer: what each call costs)
 *   POST /json/v1/chat/completions   a non-streamed completion (~1 KB of JSON)
 *   POST /events/v1/chat/completions 2,000 chunks, one event per write, each write
 *                                    flushed on its own (a turn of the event loop
 *                                    between writes), as a real provider sends them
 *   POST /anthropic/v1/messages      an Anthropic stream of 2,000 text deltas, as fast as read
 *   POST /paced/v1/chat/completions  300 events, one every 2 ms, each carrying its send time
 *   POST /big/v1/chat/completions    50 MB of events as fast as the client reads them
 *   POST /sink/v1/usage/events       the Stoa API: {"accepted":N,"duplicates":0,"rejected":[]}
 *   GET  /sink/v1/members/:id/chargeability   the pre-flight: chargeable, cached 10 minutes
 *   GET  /sink/v1/prices             the price table; POST …/holds and …/release: granted, released
 *
 * Every stream is byte-identical whatever the request asked (usage always
 * sent), so metered and unmetered clients read the same bytes.
 */
import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import {
  anthropicStream,
  CHARGEABLE,
  COMPLETION_JSON,
  chatStream,
  contentEvent,
  DONE_EVENT,
  holdAnswer,
  PRICE_TABLE,
  USAGE_EVENT,
} from "./lib.ts";

const BURST = chatStream(2000).map((event) => Buffer.from(event));
const SHORT = chatStream(20).map((event) => Buffer.from(event));
const ANTHROPIC = anthropicStream(2000).map((event) => Buffer.from(event));
const PACED_EVENTS = 300;
const PACED_EVERY_MS = 2;
const BIG_BYTES = 50 * 1024 * 1024;
const BIG_BLOCK = Buffer.from(chatStream(250).slice(0, 249).join("")); // ~64 KB of whole events

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-request-id": "req_bench" };

async function write(res: ServerResponse, chunk: Buffer | string): Promise<void> {
  if (!res.write(chunk)) await once(res, "drain");
}

async function burst(res: ServerResponse): Promise<void> {
  for (const chunk of BURST) await write(res, chunk);
}

/** One event per write, the next written after a turn of the event loop: each leaves in its own packet. */
async function events(res: ServerResponse): Promise<void> {
  for (const chunk of BURST) {
    await write(res, chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function short(res: ServerResponse): Promise<void> {
  for (const chunk of SHORT) await write(res, chunk);
}

async function anthropic(res: ServerResponse): Promise<void> {
  for (const chunk of ANTHROPIC) await write(res, chunk);
}

async function paced(res: ServerResponse): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < PACED_EVENTS; i++) {
    const wait = start + i * PACED_EVERY_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await write(res, contentEvent(String(performance.timeOrigin + performance.now())));
  }
  await write(res, USAGE_EVENT);
  await write(res, DONE_EVENT);
}

async function big(res: ServerResponse): Promise<void> {
  for (let sent = 0; sent < BIG_BYTES; sent += BIG_BLOCK.length) await write(res, BIG_BLOCK);
  await write(res, USAGE_EVENT);
  await write(res, DONE_EVENT);
}

const streams: Record<string, (res: ServerResponse) => Promise<void>> = { burst, short, events, paced, big, anthropic };

const server = createServer(async (req, res) => {
  let body = "";
  for await (const part of req) body += part;
  const [, name, ...rest] = (req.url ?? "/").split("?")[0]?.split("/") ?? [];
  const path = rest.join("/");
  try {
    if (name === "sink" && path === "v1/usage/events") {
      const events = (JSON.parse(body) as { events: unknown[] }).events.length;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"accepted":${events},"duplicates":0,"rejected":[]}`);
      return;
    }
    if (name === "sink" && path === "v1/prices") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(PRICE_TABLE);
      return;
    }
    if (name === "sink" && (path.endsWith("/holds") || path.endsWith("/release"))) {
      res.writeHead(201, { "content-type": "application/json" });
      res.end(holdAnswer(path, body));
      return;
    }
    if (name === "sink" && path.endsWith("/chargeability")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(CHARGEABLE);
      return;
    }
    if (name === "json" && path === "v1/chat/completions") {
      res.writeHead(200, { "content-type": "application/json", "x-request-id": "req_json" });
      res.end(COMPLETION_JSON);
      return;
    }
    const stream = name === undefined ? undefined : streams[name];
    if (stream !== undefined && path === (name === "anthropic" ? "v1/messages" : "v1/chat/completions")) {
      res.writeHead(200, SSE_HEADERS);
      await stream(res);
      res.end();
      return;
    }
    res.writeHead(404).end(`no fake at ${req.url}`);
  } catch {
    res.destroy(); // the client went away
  }
});

server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  process.send?.({ port });
});
process.on("disconnect", () => process.exit(0));
