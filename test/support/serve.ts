/**
 * A node:http server that runs a Web `(Request) => Promise<Response>` handler,
 * streaming like a real upstream: each body chunk is written and flushed as
 * it arrives (chunked encoding unless the handler set content-length), a
 * client that goes away cancels the body reader (so the handler's stream
 * `cancel()` runs), and a body stream that errors destroys the socket
 * mid-response (a network cut), 50 ms after the bytes before it were flushed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { concat } from "../../src/streams/bytes.ts";

/** A Web-standard request handler. */
export type WebHandler = (request: Request) => Promise<Response>;

/** A running server; `close()` drops open connections and stops listening. */
export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts `handler` on 127.0.0.1 at a random free port. */
export async function serve(handler: WebHandler): Promise<RunningServer> {
  const server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    void respond(handler, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function respond(handler: WebHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const aborter = new AbortController();
  // `close` on the response fires when the socket goes away or when the
  // response finished; only the first case is a client disconnect.
  res.once("close", () => {
    if (!res.writableFinished) aborter.abort(new Error("client disconnected"));
  });

  let response: Response;
  try {
    response = await handler(await toWebRequest(req, aborter.signal));
  } catch (error) {
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`handler threw: ${error instanceof Error ? error.stack : String(error)}`);
    }
    return;
  }
  if (aborter.signal.aborted) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  await writeWebResponse(response, res, aborter.signal);
}

async function toWebRequest(req: IncomingMessage, signal: AbortSignal): Promise<Request> {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    if (name !== undefined && value !== undefined) headers.append(name, value);
  }
  const method = req.method ?? "GET";
  let body: Uint8Array | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const parts: Uint8Array[] = [];
    for await (const part of req) parts.push(part as Uint8Array);
    body = concat(parts);
  }
  const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
  return new Request(url, { method, headers, body, signal });
}

async function writeWebResponse(response: Response, res: ServerResponse, clientGone: AbortSignal): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);

  if (response.body === null) {
    res.end();
    return;
  }
  res.flushHeaders();

  const reader = response.body.getReader();
  const onGone = (): void => {
    reader.cancel(new Error("client disconnected")).catch(() => {});
  };
  if (clientGone.aborted) {
    onGone();
    return;
  }
  clientGone.addEventListener("abort", onGone, { once: true });
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        // The handler's body errored: cut the connection without the
        // terminating chunk. Let what was written reach the client first: a
        // client that gets data and the reset in one read drops the data
        // still queued in its body stream, so "cut after k events" would
        // deliver fewer than k.
        await flushed(res);
        await new Promise((resolve) => setTimeout(resolve, CUT_GRACE_MS));
        res.destroy();
        return;
      }
      if (chunk.done) break;
      if (res.destroyed) return;
      if (!res.write(chunk.value)) await drained(res);
    }
    res.end();
  } finally {
    clientGone.removeEventListener("abort", onGone);
  }
}

/** How long a cut connection stays open after its last bytes were flushed. */
const CUT_GRACE_MS = 50;

/** Waits (up to 1 s) until the socket handed everything written to the kernel. */
async function flushed(res: ServerResponse): Promise<void> {
  const deadline = Date.now() + 1000;
  while (res.socket && !res.socket.destroyed && res.socket.writableLength > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
