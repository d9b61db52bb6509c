/**
 * Figure 8: CPU of delivering usage events as it happens under load: many
 * calls end together (50 concurrent non-streamed openai SDK calls over an
 * in-memory upstream, each with its own `stoa.fetch()`), and their events
 * leave in one batch, one loopback `POST /v1/usage/events` to the Stoa fake
 * in the provider child process. The CPU from the end of the calls to the
 * end of `stoa.flush()`, per event. Checks that the block made one POST.
 * The same for 500 calls, the contract's largest batch (what a busy isolate
 * sends), and for 50 calls delivered to an in-memory Stoa (the SDK's own
 * part: batching and serialising, without the runtime's HTTP client). And
 * the 50 calls as 50 requests, each with a `waitUntil` of its own: in Node
 * their events share the POST all the same (`shareLanes`).
 */
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { chatRequest, cpuUs, interleave, median, memorySink, provider, report } from "./lib.ts";

const CALLS = 50;
const BUSY_CALLS = 500;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const COMPLETION = JSON.stringify({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion",
  created: 1741569952,
  model: "gpt-4o-2024-08-06",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello." }, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 19, completion_tokens: 98, total_tokens: 117 },
});

async function upstream(): Promise<Response> {
  const bytes = new TextEncoder().encode(COMPLETION);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_1" } });
}

export async function run(): Promise<Record<string, number>> {
  const server = await provider();
  let errors = 0;
  let posts = 0;
  const stoaFetch = (input: RequestInfo | URL, init?: RequestInit) => {
    if (init?.method === "POST") posts++;
    return fetch(input, init);
  };
  const onError = (e: Error) => {
    errors++;
    if (errors < 3) console.error(e);
  };
  const stoa = new Stoa({ apiKey: "k", baseUrl: `${server.origin}/sink`, fetch: stoaFetch, onError });
  // the same delivery to an in-memory Stoa: the SDK's own part, without the runtime's HTTP client
  const inMemory = new Stoa({ apiKey: "k", baseUrl: "http://127.0.0.1:1/api", fetch: memorySink, onError });
  const opts = { apiKey: "x", baseURL: "https://api.openai.com/v1", maxRetries: 0 };
  const postsPerBlock: number[] = [];

  /** `calls` concurrent calls; with `requests`, each with a `waitUntil` of its own (a request each), awaited instead of `flush()`. */
  async function block(calls: number, stoa: Stoa, requests = false): Promise<number> {
    const before = posts;
    const kept: Promise<unknown>[] = [];
    const waitUntil = requests ? () => (promise: Promise<unknown>) => void kept.push(promise) : () => undefined;
    await Promise.all(
      Array.from({ length: calls }, async () => {
        const client = new OpenAI({
          ...opts,
          // no gate: this figure is the delivery alone (figures 2, 5 and 10 count the gate)
          fetch: stoa.fetch({
            provider: "openai",
            userId: "user_1",
            fetch: upstream,
            checkChargeability: false,
            waitUntil: waitUntil(),
          }),
        });
        const completion = await client.chat.completions.create({ ...chatRequest(false), stream: false });
        if (completion.usage?.completion_tokens !== 98) throw new Error("bad completion");
      }),
    );
    const start = cpuUs();
    if (requests) await Promise.all(kept);
    else await stoa.flush();
    const cpu = cpuUs() - start;
    if (stoa !== inMemory) postsPerBlock.push(posts - before);
    return cpu / calls;
  }

  const samples = await interleave(
    {
      delivery: () => block(CALLS, stoa),
      busy: () => block(BUSY_CALLS, stoa),
      requests: () => block(CALLS, stoa, true),
      own: () => block(CALLS, inMemory),
    },
    ROUNDS,
    4,
  );
  server.close();
  if (errors > 0) throw new Error(`the meter reported ${errors} errors`);
  const batches = median(postsPerBlock);
  if (batches !== 1) throw new Error(`a block of ${CALLS} or ${BUSY_CALLS} calls made ${batches} POSTs, not one batch`);
  return {
    deliveryCpuUsPerEvent: median(samples.delivery),
    deliveryCpuUsPerEventBatch500: median(samples.busy),
    deliveryOwnCpuUsPerEvent: median(samples.own),
    deliveryCpuUsPerEventRequests: median(samples.requests),
    deliveryPostsPerBlock: batches,
  };
}

if (import.meta.main) report(await run());
