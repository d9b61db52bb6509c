/**
 * A non-streamed JSON body: read whole by the meter when it arrives at once
 * (metered before the app reads it, handed on as the same bytes), else handed
 * on after 250 ms and served chunk by chunk from what was read. Runs in Node
 * and in workerd.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { StoaProvider, StoaStreamError } from "../../src/index.ts";
import { meterRun } from "../support/meter.ts";

const URL_ = "https://api.openai.com/v1/chat/completions";
const encoder = new TextEncoder();
const COMPLETION = JSON.stringify({
  id: "chatcmpl-json",
  object: "chat.completion",
  model: "gpt-4o-2024-08-06",
  choices: [{ index: 0, message: { role: "assistant", content: "ü".repeat(2000) }, finish_reason: "stop" }],
  usage: { prompt_tokens: 21, completion_tokens: 2000, total_tokens: 2021 },
});
const BYTES = encoder.encode(COMPLETION);
const USAGE = { inputTokens: 21, outputTokens: 2000 };

function post(): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A provider that sends `BYTES` in `parts` chunks, waiting `gapMs` before each after the first, then ends (or fails). */
function upstream(parts: number, gapMs: number, failAfter?: number) {
  const log: string[] = [];
  const fetch = async (): Promise<Response> => {
    let sent = 0;
    const size = Math.ceil(BYTES.length / parts);
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (sent > 0) await sleep(gapMs);
          if (failAfter !== undefined && sent === failAfter) {
            log.push("failed");
            return controller.error(new Error("connection reset"));
          }
          if (sent === parts) {
            log.push("ended");
            return controller.close();
          }
          controller.enqueue(BYTES.slice(sent * size, (sent + 1) * size));
          log.push(`chunk ${++sent}`);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_json" } });
  };
  return { fetch, log };
}

describe("a JSON body", () => {
  it("arriving at once is read whole and metered before the app reads it; the app gets the same bytes", async () => {
    const run = await meterRun("json-whole");
    const provider = upstream(4, 5);
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch });
    const response = await meter(URL_, post());
    expect(provider.log).toEqual(["chunk 1", "chunk 2", "chunk 3", "chunk 4", "ended"]);
    const [event] = await run.events(); // before the app reads a byte
    expect(event).toMatchObject({ id: "openai:chatcmpl-json:req_json", status: "completed", usage: USAGE });
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(BYTES);
    expect(await run.events()).toHaveLength(1);
    expect(run.errors).toEqual([]);
  });

  it("still arriving after 250 ms is handed on then, and served chunk by chunk through the openai SDK", async () => {
    const run = await meterRun("json-slow");
    const provider = upstream(3, 400);
    const client = new OpenAI({
      apiKey: "sk-x",
      maxRetries: 0,
      fetch: async (input, init) => {
        const response = await run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch })(
          input,
          init,
        );
        provider.log.push("response");
        return response;
      },
    });
    const completion = await client.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("ü".repeat(2000));
    // the response came 250 ms in, while the second chunk was awaited (at 400 ms)
    expect(provider.log).toEqual(["chunk 1", "response", "chunk 2", "chunk 3", "ended"]);
    const [event, ...more] = await run.events();
    expect(more).toEqual([]);
    expect(event).toMatchObject({ status: "completed", estimated: false, usage: USAGE });
    expect(run.errors).toEqual([]);
  });

  it("failing while the meter reads it fails the app's read the same way, after the bytes before it", async () => {
    const run = await meterRun("json-fail");
    const provider = upstream(4, 5, 2);
    const meter = run.stoa.fetch({ provider: StoaProvider.OpenAI, userId: "u", fetch: provider.fetch });
    const response = await meter(URL_, post());
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let read = 0;
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        read += value.length;
      }
    })().catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe("connection reset");
    expect(read).toBe(2 * Math.ceil(BYTES.length / 4));
    const [event] = await run.events();
    expect(event).toMatchObject({ status: "aborted", estimated: true, usage: { outputTokens: 0 } });
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(StoaStreamError);
    expect(run.errors[0]?.message).toBe("The response body failed; the event is estimated.");
  });
});
