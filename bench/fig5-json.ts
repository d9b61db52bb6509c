/**
 * Figure 5: added CPU of a non-streamed ~1 KB chat completion. The real
 * openai SDK over an in-memory upstream fetch that returns a JSON Response
 * with a streamed body, as a network response has,
 * metered (one usage event per call, delivered to an in-memory sink before
 * the next call, as a Workers request would, or once per block of 50)
 * versus unmetered, in interleaved blocks of calls. (metered − unmetered)
 * CPU per call, in µs; the key figure delivers once per block.
 *
 * As an app pays it: each call builds its client (both variants) and its
 * `stoa.fetch()` (metered), and is admitted under a spend hold with room (the
 * default gate; the hold's first request is in a warm-up round).
 */
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { chatRequest, cpuUs, interleave, median, memorySink, pairedDiff, report } from "./lib.ts";

const BLOCK = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 100);

const COMPLETION = JSON.stringify({
  id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  object: "chat.completion",
  created: 1741569952,
  model: "gpt-4o-2024-08-06",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content:
          "Metering an AI app means counting what each user's calls cost: the tokens in, the tokens out, cached input and reasoning, read from the usage the provider reports with every response. A metering fetch sits between the SDK and the provider, forwards each call untouched, and reads that usage on the side, so the app keeps its own client and its own code. Events go out in batches after the response, never in its way, and a call the meter cannot read still reaches the app.",
        refusal: null,
        annotations: [],
      },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: {
    prompt_tokens: 19,
    completion_tokens: 98,
    total_tokens: 117,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  service_tier: "default",
  system_fingerprint: "fp_f9f4fb6dbf",
});

const BYTES = new TextEncoder().encode(COMPLETION);

/**
 * The provider's answer as a network response is: a streamed body (one
 * chunk), not a string. A string body takes a shortcut in Node's fetch that
 * no network response has, and would make any re-served body look dearer.
 */
async function upstream(): Promise<Response> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(BYTES);
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "application/json", "x-request-id": "req_1" } });
}

export async function run(): Promise<Record<string, number>> {
  let errors = 0;
  const stoa = new Stoa({ apiKey: "k", baseUrl: "http://127.0.0.1:1/api", fetch: memorySink, onError: () => errors++ });
  const opts = { apiKey: "x", baseURL: "https://api.openai.com/v1", maxRetries: 0 };
  /** A client per call, as an app on Workers makes one per request; metered: with its own `stoa.fetch()`. */
  const plain = () => new OpenAI({ ...opts, fetch: upstream });
  const metered = () =>
    new OpenAI({ ...opts, fetch: stoa.fetch({ provider: "openai", userId: "user_1", fetch: upstream }) });

  /** `delivery`: "call" delivers each call's event before the next call (a Workers request), "block" once per block. */
  async function block(client: () => OpenAI, delivery: "call" | "block" | "none"): Promise<number> {
    const start = cpuUs();
    for (let i = 0; i < BLOCK; i++) {
      const completion = await client().chat.completions.create({ ...chatRequest(false), stream: false });
      if (completion.usage?.completion_tokens !== 98) throw new Error("bad completion");
      if (delivery === "call") await stoa.flush();
    }
    if (delivery === "block") await stoa.flush();
    return (cpuUs() - start) / BLOCK;
  }

  const perCall = await interleave(
    {
      metered: () => block(metered, "call"),
      batched: () => block(metered, "block"),
      plain: () => block(plain, "none"),
    },
    ROUNDS,
    6,
  );
  if (errors > 0) throw new Error(`the meter reported ${errors} errors`);
  // The key figure is the metering of the call itself: its event is delivered in a batch of 50 (the
  // batch's one POST shared by its calls). Delivering each call's event on its own is reported too:
  // that adds one Stoa POST per call, what a Worker making one provider call per request pays.
  return {
    jsonOverheadUsPerRequest: pairedDiff(perCall.batched, perCall.plain),
    jsonOverheadWithOwnDeliveryUsPerRequest: pairedDiff(perCall.metered, perCall.plain),
    jsonPlainUsPerRequest: median(perCall.plain),
  };
}

if (import.meta.main) report(await run());
