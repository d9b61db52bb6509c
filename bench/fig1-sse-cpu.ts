/**
 * Figure 1: metering CPU per SSE event, in memory, Node.
 *
 * A 2,000-event OpenAI chat stream (one event per chunk, usage chunk last)
 * is read through `stoa.fetch()` (request prep, `meterBody`, the openai
 * stream reader, event delivery to an in-memory sink) and, as the baseline,
 * through a plain pass-through `TransformStream` over the same upstream fetch.
 * (metered − baseline) CPU / 2,000, medians of interleaved rounds.
 */
import { Stoa } from "../src/index.ts";
import { chatRequest, chatStream, cpuUs, drain, interleave, median, memorySink, pairedDiff, report } from "./lib.ts";

const EVENTS = 2000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 150);
const CHUNKS = chatStream(EVENTS).map((event) => new TextEncoder().encode(event));
const URL_ = "https://api.openai.com/v1/chat/completions";

function body(): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = CHUNKS[i++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
}

async function upstream(): Promise<Response> {
  return new Response(body(), { headers: { "content-type": "text/event-stream", "x-request-id": "req_1" } });
}

const init = (app: object): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(app),
});

/** `filter`: the app did not ask for usage, so the meter injects it and cuts the usage chunk out (the default). */
function meteredRound(stoa: Stoa, appAsksUsage: boolean): () => Promise<number> {
  const app = appAsksUsage ? { ...chatRequest(true), stream_options: { include_usage: true } } : chatRequest(true);
  return async () => {
    const start = cpuUs();
    const fetch = stoa.fetch({ provider: "openai", userId: "user_1", fetch: upstream });
    const response = await fetch(URL_, init(app));
    await drain(response.body as ReadableStream<Uint8Array>);
    await stoa.flush();
    return cpuUs() - start;
  };
}

async function plainRound(): Promise<number> {
  const start = cpuUs();
  const response = await upstream();
  await drain((response.body as ReadableStream<Uint8Array>).pipeThrough(new TransformStream()));
  return cpuUs() - start;
}

/** The meter's shape without the meter: a pull-through `ReadableStream` (highWaterMark 0) over the upstream reader. */
async function pullThroughRound(): Promise<number> {
  const start = cpuUs();
  const response = await upstream();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const hop = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
    },
    { highWaterMark: 0 },
  );
  await drain(new Response(hop).body as ReadableStream<Uint8Array>);
  return cpuUs() - start;
}

async function rawRound(): Promise<number> {
  const start = cpuUs();
  const response = await upstream();
  await drain(response.body as ReadableStream<Uint8Array>);
  return cpuUs() - start;
}

export async function run(): Promise<Record<string, number>> {
  let errors = 0;
  const stoa = new Stoa({ apiKey: "k", baseUrl: "http://127.0.0.1:1/api", fetch: memorySink, onError: () => errors++ });
  const samples = await interleave(
    {
      metered: meteredRound(stoa, false),
      meteredNoFilter: meteredRound(stoa, true),
      plain: plainRound,
      pullThrough: pullThroughRound,
      raw: rawRound,
    },
    ROUNDS,
    20,
  );
  if (errors > 0) throw new Error(`the meter reported ${errors} errors`);
  const perEvent = (a: number[], b: number[]) => pairedDiff(a, b) / EVENTS;
  return {
    sseMeteringUsPerEvent: perEvent(samples.metered, samples.plain),
    noFilterUsPerEvent: perEvent(samples.meteredNoFilter, samples.plain),
    pullThroughHopUsPerEvent: perEvent(samples.pullThrough, samples.raw),
    passThroughUsPerEvent: perEvent(samples.plain, samples.raw),
    plainUsPerEvent: median(samples.plain) / EVENTS,
  };
}

if (import.meta.main) report(await run());
