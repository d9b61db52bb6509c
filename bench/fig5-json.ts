/**
 * Figure 5: added CPU of a non-streamed ~1 KB chat completion. The real
 * openai SDK over an in-memory upstream fetch that returns a JSON Response
 * with a byte-stream body, as a network response has in Node's fetch,
 * metered (one usage event per call, delivered to an in-memory sink before
 * the next call, as a Workers request would, or once per block of 50)
 * versus unmetered, in interleaved blocks of calls, each variant in client
 * processes of its own (`fig5-client.ts`, three per variant taking turns).
 * (metered − unmetered) CPU per call, in µs; the key figure delivers once
 * per block.
 *
 * As an app pays it: each call builds its client (both variants) and its
 * `stoa.fetch()` (metered), and is admitted under a spend hold with room (the
 * default gate; the hold's first request is in a warm-up round).
 *
 * The key figure is read over each process's first ~1,000 calls. Beside it,
 * `jsonOverheadWarmUsPerRequest`: the same pair once each process has made
 * ~5,000 more calls (V8 has then optimised the meter's code).
 */
import { clientProcesses, interleave, median, pairedDiff, report } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
/** Blocks each client process runs after the main rounds before the warm figure is read (~5,000 more calls each). */
const WARM_BLOCKS = Number(process.env.BENCH_WARM_BLOCKS ?? 100);
/** Rounds of the warm figure. */
const WARM_ROUNDS = 30;
/** Client processes per variant. */
const PROCESSES = 3;

type Block = { cpu: number; errors: number };

export async function run(): Promise<Record<string, number>> {
  const start = (mode: string) => clientProcesses<Block>("./fig5-client.ts", [mode], PROCESSES);
  const [batched, call, plain] = await Promise.all([start("batched"), start("call"), start("plain")]);
  let errors = 0;
  const round = (client: Awaited<ReturnType<typeof clientProcesses<Block>>>) => async () => {
    const result = await client.run();
    errors = Math.max(errors, result.errors);
    return result.cpu;
  };
  const perCall = await interleave({ batched: round(batched), call: round(call), plain: round(plain) }, ROUNDS, 6);
  // the same pair in processes that have made thousands of calls: V8 has optimised the meter's code by
  // then, while in the first thousand calls much of it still runs in the interpreter
  for (let block = 0; block < WARM_BLOCKS * PROCESSES; block++) await Promise.all([batched.run(), plain.run()]);
  const warm = await interleave({ batched: round(batched), plain: round(plain) }, WARM_ROUNDS, 2);
  for (const client of [batched, call, plain]) client.close();
  if (errors > 0) throw new Error(`the meter reported ${errors} errors`);
  // The key figure is the metering of the call itself: its event is delivered in a batch of 50 (the
  // batch's one POST shared by its calls). Delivering each call's event on its own is reported too:
  // that adds one Stoa POST per call, what a Worker making one provider call per request pays.
  return {
    jsonOverheadUsPerRequest: pairedDiff(perCall.batched, perCall.plain),
    jsonOverheadWithOwnDeliveryUsPerRequest: pairedDiff(perCall.call, perCall.plain),
    jsonPlainUsPerRequest: median(perCall.plain),
    jsonOverheadWarmUsPerRequest: pairedDiff(warm.batched, warm.plain),
  };
}

if (import.meta.main) report(await run());
