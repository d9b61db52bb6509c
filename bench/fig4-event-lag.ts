/**
 * Figure 4: per-event lag. The provider (child process) sends one event
 * every 2 ms with its send time inside; the app (openai SDK) records receive
 * time minus send time for each. Median of metered minus median of
 * unmetered, over interleaved streams. Both processes read the same clock
 * (`performance.timeOrigin + now()`); a constant offset between them cancels
 * in the difference.
 */
import OpenAI from "openai";
import { Stoa } from "../src/index.ts";
import { chatRequest, interleave, median, provider, quantile, report } from "./lib.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

export async function run(): Promise<Record<string, number>> {
  const server = await provider();
  let errors = 0;
  const stoa = new Stoa({ apiKey: "k", baseUrl: `${server.origin}/sink`, onError: () => errors++ });
  const base = new OpenAI({ apiKey: "x", baseURL: `${server.origin}/paced/v1`, maxRetries: 0 });
  const lags: Record<string, number[]> = { metered: [], plain: [] };
  let measuring = false;

  async function round(variant: "metered" | "plain"): Promise<number> {
    const client =
      variant === "plain"
        ? base.withOptions({ maxRetries: 0 })
        : base.withOptions({ fetch: stoa.fetch({ provider: "openai", userId: "user_1" }) });
    const stream = await client.chat.completions.create({ ...chatRequest(true), stream: true });
    for await (const chunk of stream) {
      const sent = Number(chunk.choices[0]?.delta.content);
      if (measuring && Number.isFinite(sent)) lags[variant]?.push(performance.timeOrigin + performance.now() - sent);
    }
    await stoa.flush();
    return 0;
  }

  await interleave({ metered: () => round("metered"), plain: () => round("plain") }, 1, 0); // warm-up
  measuring = true;
  await interleave({ metered: () => round("metered"), plain: () => round("plain") }, ROUNDS, 0);
  server.close();
  if (errors > 0) throw new Error(`the meter reported ${errors} errors`);
  const { metered, plain } = lags as { metered: number[]; plain: number[] };
  return {
    eventLagP50AddedMs: median(metered) - median(plain),
    lagP50PlainMs: median(plain),
    lagP99PlainMs: quantile(plain, 0.99),
    lagP99MeteredMs: quantile(metered, 0.99),
    lagEvents: Math.min(metered.length, plain.length),
  };
}

if (import.meta.main) report(await run());
