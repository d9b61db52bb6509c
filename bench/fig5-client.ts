/**
 * Figure 5's client: one variant in a process of its own (see
 * `clientProcesses`). Each `run` makes a block of 50 non-streamed openai SDK
 * calls and answers the CPU per call (this process, all threads).
 *
 *   node bench/fig5-client.ts <plain|batched|call>
 *
 * `plain`: the SDK's own fetch over the in-memory upstream. `batched`: each
 * call through its own `stoa.fetch()` (admitted under a spend hold with
 * room), the block's events delivered once, in one batch, as the calls'
 * `waitUntil` runs them. `call`: the same, each call's event delivered before
 * the next call (a Worker making one call per request).
 */
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { COMPLETION_JSON, chatRequest, cpuUs, memorySink, serveRounds } from "./lib.ts";

const BLOCK = 50;

const BYTES = new TextEncoder().encode(COMPLETION_JSON);

/**
 * The provider's answer as a network response is in Node's fetch: a byte
 * stream (`type: "bytes"`, as undici makes every response body) giving the
 * JSON in one fresh chunk, not a string. A string body takes a shortcut that
 * no network response has; a default (non-byte) stream left the byte-stream
 * code a re-served body runs colder than it is in an app whose responses all
 * come from the network (stop 6: about 50 µs of the first thousand calls).
 */
async function upstream(): Promise<Response> {
  const body = new ReadableStream({
    type: "bytes",
    pull(controller) {
      controller.enqueue(BYTES.slice()); // a byte stream takes the chunk's buffer: a fresh copy each time
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_1" } });
}

const mode = process.argv[2] as "plain" | "batched" | "call";
let errors = 0;
const stoa = new Stoa({ apiKey: "k", baseUrl: "http://127.0.0.1:1/api", fetch: memorySink, onError: () => errors++ });
const opts = { apiKey: "x", baseURL: "https://api.openai.com/v1", maxRetries: 0 };

/** One block of calls: CPU per call, in µs. */
async function block(): Promise<{ cpu: number; errors: number }> {
  const start = cpuUs();
  const pending: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => void pending.push(promise);
  for (let i = 0; i < BLOCK; i++) {
    // a client per call, as an app on Workers makes one per request; metered: with its own `stoa.fetch()`
    const fetch =
      mode === "plain" ? upstream : stoa.fetch({ provider: "openai", userId: "user_1", fetch: upstream, waitUntil });
    const completion = await new OpenAI({ ...opts, fetch }).chat.completions.create({
      ...chatRequest(false),
      stream: false,
    });
    if (completion.usage?.completion_tokens !== 98) throw new Error("bad completion");
    if (mode === "call") await Promise.all(pending.splice(0));
  }
  // not flush(): it retires the user's spend hold, and the next block would ask for a new one
  await Promise.all(pending);
  return { cpu: (cpuUs() - start) / BLOCK, errors };
}

serveRounds(block);
