/**
 * The bench worker of figure 3 (bundled by esbuild, run in workerd by
 * Miniflare). `GET /run?variant=…&origin=…` reads one 2,000-chunk chat
 * stream from the fake provider with the openai SDK, its usage event
 * delivered before it answers, and answers `{ chunks, errors }`.
 *
 * Variants: `plain` (global fetch), `metered` (`stoa.fetch()`), and two
 * alternative meter designs built here only, over the same request prep,
 * SSE parser, stream reader and event as the SDK's:
 *   - `transform`: a pass-through `TransformStream` that parses each chunk;
 *   - `tee`: the body `tee()`d, the meter reading its branch chunk by chunk.
 * Neither cuts the injected usage chunk out of what the app reads.
 * And `meteredAppUsage`: `stoa.fetch()` when the app asks for usage itself
 * (no usage chunk to cut out); `hop`: the meter's pull-through `ReadableStream` alone, no parsing, no
 * event: what the stream machinery costs by itself.
 *
 * And `jsonPlain`/`jsonMetered`: 20 non-streamed calls (~1 KB of JSON each),
 * one after another in one request, each event delivered in its `waitUntil`
 * (events of one task share a POST; calls in sequence each send their own).
 *
 * And `shortPlain`/`shortMetered`: the same over a 20-chunk stream, for what
 * each call costs apart from its chunks.
 *
 * Other clients and consumers, each plain and metered:
 *   - `anthropic*`: `@anthropic-ai/sdk` reads a 2,000-delta Messages stream;
 *   - `aiSdk*`: the AI SDK's `streamText` (`@ai-sdk/openai`, chat) reads the openai stream;
 *   - `proxy*`: the worker returns the provider's response (plain) or
 *     `new Response(meteredBody)` (metered) to its client, which reads it;
 *     the event is delivered in the request's `waitUntil`; `status` tells when it is done.
 */

import { createOpenAI } from "@ai-sdk/openai";
import Anthropic from "@anthropic-ai/sdk";
import { streamText } from "ai";
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { buildEvent } from "../src/meter/event.ts";
import { prepareRequest } from "../src/meter/request.ts";
import { openai as openaiProvider } from "../src/providers/openai.ts";
import { createSseParser } from "../src/streams/sse.ts";
import { chatRequest, JSON_CALLS, messagesRequest } from "./events.ts";

type Fetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
interface Ctx {
  waitUntil(promise: Promise<unknown>): void;
}

const USER = "user_1";
let stoa: Stoa | undefined; // one per isolate, as the SDK is meant to be used
const errors: string[] = [];
let reads = 0; // body chunks the alternative meters saw
let deliveries = 0; // deliveries handed to a proxy request's waitUntil, not yet settled

/** An alternative meter: `hop` puts the parser on the body's way and returns the app's body and the meter's end. */
function altFetch(
  origin: string,
  hop: (
    body: ReadableStream<Uint8Array>,
    feed: (chunk: Uint8Array) => void,
    end: () => Promise<void>,
  ) => ReadableStream<Uint8Array>,
): Fetch {
  return async (input, init) => {
    const prepared = await prepareRequest(openaiProvider, input, init);
    if (prepared === undefined) throw new Error("not a metered call");
    const startedAt = Date.now();
    const response = await fetch(prepared.input, prepared.init);
    const reader = openaiProvider.readStream(prepared.facts);
    const parser = createSseParser((data, dataLength, head) => reader.event(data, dataLength, head));
    let parsing = true;
    const feed = (chunk: Uint8Array) => {
      reads++;
      if (!parsing) return;
      parser.feed(chunk);
      if (reader.done) parsing = false;
    };
    const end = async () => {
      if (parsing) parser.end();
      const event = buildEvent(
        {
          provider: openaiProvider,
          userId: USER,
          holdId: undefined,
          metadata: undefined,
          facts: prepared.facts,
          reading: reader.reading(),
          requestId: response.headers.get("x-request-id") ?? undefined,
          startedAt,
          endedAt: Date.now(),
          timeToFirstByteMs: 0,
        },
        (fault) => errors.push(fault.message),
      );
      if (event.status !== "completed") errors.push("no usage");
      const sent = await fetch(`${origin}/sink/v1/usage/events`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer k" },
        body: JSON.stringify({ events: [event] }),
      });
      await sent.text();
    };
    const body = hop(response.body as ReadableStream<Uint8Array>, feed, end);
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

function transformHop(pending: Promise<unknown>[]) {
  return (body: ReadableStream<Uint8Array>, feed: (chunk: Uint8Array) => void, end: () => Promise<void>) =>
    body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          feed(chunk);
          controller.enqueue(chunk);
        },
        flush() {
          pending.push(end());
        },
      }),
    );
}

function teeHop(pending: Promise<unknown>[]) {
  return (body: ReadableStream<Uint8Array>, feed: (chunk: Uint8Array) => void, end: () => Promise<void>) => {
    const [app, meter] = body.tee();
    pending.push(
      (async () => {
        const reader = meter.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          feed(value);
        }
        await end();
      })(),
    );
    return app;
  };
}

/** A pull-through `ReadableStream` (highWaterMark 0) over the upstream body, as `meterBody` is, doing nothing else. */
const hopFetch: Fetch = async (input, init) => {
  const response = await fetch(input, init);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: response.status, headers: response.headers });
};

/** The body read in JS and written into a native `IdentityTransformStream` the app reads: a JS read and a native write per chunk. */
const identityFetch: Fetch = async (input, init) => {
  const response = await fetch(input, init);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const { readable, writable } = new (
    globalThis as unknown as { IdentityTransformStream: typeof TransformStream }
  ).IdentityTransformStream();
  const writer = writable.getWriter();
  (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await writer.write(value);
      }
      await writer.close();
    } catch (error) {
      await reader.cancel(error).catch(() => {});
      await writer.abort(error).catch(() => {});
    }
  })();
  return new Response(readable as ReadableStream<Uint8Array>, { status: response.status, headers: response.headers });
};

/** A pull-through hop that reads with a BYOB reader: one read takes every byte already there. */
const byobFetch: Fetch = async (input, init) => {
  const response = await fetch(input, init);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader({ mode: "byob" });
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read(new Uint8Array(32 * 1024));
        if (done) controller.close();
        else controller.enqueue(value as Uint8Array);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: response.status, headers: response.headers });
};

/** A pull-through hop that also takes, without waiting, chunks the upstream already holds. */
const coalesceFetch: Fetch = async (input, init) => {
  const response = await fetch(input, init);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  let ended = false;
  const NOT_YET = Symbol("not yet");
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const first = await (pending ?? reader.read());
        pending = undefined;
        if (first.done) {
          controller.close();
          return;
        }
        const parts = [first.value];
        let size = first.value.length;
        while (!ended && size < 65536) {
          const next = reader.read();
          const won = await Promise.race([next, Promise.resolve().then(() => Promise.resolve().then(() => NOT_YET))]);
          if (won === NOT_YET) {
            pending = next;
            break;
          }
          const result = won as ReadableStreamReadResult<Uint8Array>;
          if (result.done) {
            ended = true;
            pending = Promise.resolve(result);
            break;
          }
          parts.push(result.value);
          size += result.value.length;
        }
        if (parts.length === 1) controller.enqueue(first.value);
        else {
          const out = new Uint8Array(size);
          let at = 0;
          for (const part of parts) {
            out.set(part, at);
            at += part.length;
          }
          controller.enqueue(out);
        }
        reads++;
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: response.status, headers: response.headers });
};

export default {
  async fetch(request: Request, _env: unknown, ctx: Ctx): Promise<Response> {
    const url = new URL(request.url);
    const variant = url.searchParams.get("variant");
    const origin = url.searchParams.get("origin") ?? "";
    stoa ??= new Stoa({ apiKey: "k", baseUrl: `${origin}/sink`, onError: (error) => errors.push(error.message) });
    const pending: Promise<unknown>[] = [];
    // as a Worker does: the event leaves in this request's waitUntil (no flush, which would
    // retire the user's spend hold: the next call would ask for a new one); the round waits for it
    const waitUntil = (promise: Promise<unknown>) => {
      pending.push(promise);
      ctx.waitUntil(promise);
    };
    let fetch: Fetch | undefined;
    if (variant === "metered" || variant === "meteredAppUsage" || variant === "shortMetered")
      fetch = stoa.fetch({ provider: "openai", userId: USER, waitUntil });
    else if (variant === "transform") fetch = altFetch(origin, transformHop(pending));
    else if (variant === "tee") fetch = altFetch(origin, teeHop(pending));
    else if (variant === "hop") fetch = hopFetch;
    else if (variant === "identity") fetch = identityFetch;
    else if (variant === "byob") fetch = byobFetch;
    else if (variant === "coalesce") fetch = coalesceFetch;

    if (variant === "proxyPlain" || variant === "proxyMetered") {
      // the event leaves in this request's waitUntil (I/O of another request would hang), counted for `/status`
      const waitUntil = (promise: Promise<unknown>) => {
        deliveries++;
        ctx.waitUntil(promise.finally(() => deliveries--));
      };
      const proxied =
        variant === "proxyPlain" ? globalThis.fetch : stoa.fetch({ provider: "openai", userId: USER, waitUntil });
      const upstream = await proxied(`${origin}/burst/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x" },
        body: JSON.stringify({ ...chatRequest(true), stream: true }),
      });
      return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    }
    if (variant === "status") {
      const body = { chunks: deliveries, reads: 0, errors: [...errors] };
      if (deliveries === 0) errors.length = 0;
      return Response.json(body);
    }
    if (variant === "jsonPlain" || variant === "jsonMetered") {
      // JSON_CALLS non-streamed calls in one request, one after another, their events leaving in its waitUntil
      let chunks = 0;
      for (let i = 0; i < JSON_CALLS; i++) {
        const openai = new OpenAI({
          apiKey: "x",
          baseURL: `${origin}/json/v1`,
          maxRetries: 0,
          ...(variant === "jsonMetered" ? { fetch: stoa.fetch({ provider: "openai", userId: USER, waitUntil }) } : {}),
        });
        const completion = await openai.chat.completions.create({ ...chatRequest(false), stream: false });
        if (completion.usage?.completion_tokens === 98) chunks++;
      }
      await Promise.all(pending);
      const body = { chunks, reads: 0, errors: [...errors] };
      errors.length = 0;
      return Response.json(body);
    }
    if (variant === "anthropicPlain" || variant === "anthropicMetered") {
      const anthropic = new Anthropic({
        apiKey: "x",
        baseURL: `${origin}/anthropic`,
        maxRetries: 0,
        ...(variant === "anthropicMetered"
          ? { fetch: stoa.fetch({ provider: "anthropic", userId: USER, waitUntil }) }
          : {}),
      });
      const stream = await anthropic.messages.create({ ...messagesRequest(), stream: true });
      let chunks = 0;
      for await (const event of stream) if (event.type === "content_block_delta") chunks++;
      await Promise.all(pending);
      const body = { chunks, reads: 0, errors: [...errors] };
      errors.length = 0;
      return Response.json(body);
    }
    if (variant === "aiSdkPlain" || variant === "aiSdkMetered") {
      const openai = createOpenAI({
        apiKey: "x",
        baseURL: `${origin}/burst/v1`,
        ...(variant === "aiSdkMetered" ? { fetch: stoa.fetch({ provider: "openai", userId: USER, waitUntil }) } : {}),
      });
      const result = streamText({ model: openai.chat("gpt-4o"), prompt: "Say something long.", maxRetries: 0 });
      let chunks = 0;
      for await (const part of result.textStream) if (part.length > 0) chunks++;
      await Promise.all(pending);
      const body = { chunks, reads: 0, errors: [...errors] };
      errors.length = 0;
      return Response.json(body);
    }
    if (variant !== "plain" && variant !== "shortPlain" && fetch === undefined)
      return new Response(`unknown variant ${variant}`, { status: 400 });

    const client = new OpenAI({
      apiKey: "x",
      baseURL: `${origin}/${variant?.startsWith("short") ? "short" : "burst"}/v1`,
      maxRetries: 0,
      ...(fetch ? { fetch } : {}),
    });
    // `meteredAppUsage`: the app asks for usage itself, so the meter need not cut the usage chunk out
    const usage = variant === "meteredAppUsage" ? { stream_options: { include_usage: true } } : {};
    const stream = await client.chat.completions.create({ ...chatRequest(true), ...usage, stream: true });
    let chunks = 0;
    for await (const chunk of stream) if (chunk.choices.length > 0) chunks++;
    await Promise.all(pending);
    const body = { chunks, reads, errors: [...errors] };
    errors.length = 0;
    reads = 0;
    return Response.json(body);
  },
};
