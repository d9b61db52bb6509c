/**
 * The app of figure 6, one per process: POSTs to the 50 MB stream (metered
 * or not), reads the first chunk, pauses 1.5 s, reads to the end. Samples
 * `rss` and `arrayBuffers` every 20 ms; reports their peaks above the values
 * just before the request.
 */
import { Stoa } from "../src/index.ts";
import { chatRequest } from "./lib.ts";

const [variant, origin] = process.argv.slice(2) as ["metered" | "plain", string];
const stoa = new Stoa({ apiKey: "k", baseUrl: `${origin}/sink` });
const fetch = variant === "metered" ? stoa.fetch({ provider: "openai", userId: "user_1" }) : globalThis.fetch;

// warm the fetch machinery on a small stream, so the baseline includes it
for (const path of ["burst", "burst"]) {
  const res = await fetch(`${origin}/${path}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify(chatRequest(true)),
  });
  await res.arrayBuffer();
}
await stoa.flush();
(globalThis as { gc?: () => void }).gc?.();
await new Promise((resolve) => setTimeout(resolve, 100));

const base = process.memoryUsage();
let peakRss = base.rss;
let peakBuffers = base.arrayBuffers;
const sample = () => {
  const now = process.memoryUsage();
  peakRss = Math.max(peakRss, now.rss);
  peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
};
const timer = setInterval(sample, 20);

const response = await fetch(`${origin}/big/v1/chat/completions`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(chatRequest(true)),
});
const reader = (response.body as ReadableStream<Uint8Array>).getReader();
let bytes = (await reader.read()).value?.length ?? 0;
await new Promise((resolve) => setTimeout(resolve, 1500));
sample();
const pauseBuffers = peakBuffers; // what was held while the app paused: backpressure at work, or not
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  bytes += value.length;
}
sample();
clearInterval(timer);
await stoa.flush();
const MB = 1024 * 1024;
process.send?.({
  rssMB: (peakRss - base.rss) / MB,
  arrayBuffersMB: (peakBuffers - base.arrayBuffers) / MB,
  pauseArrayBuffersMB: (pauseBuffers - base.arrayBuffers) / MB,
  bytes,
});
