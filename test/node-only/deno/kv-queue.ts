// Run by test/node-only/deno-kv-queue.test.ts under the real Deno: the Deno KV outbox end to end.
// argv: <kv path> <Stoa base URL> <api key> <count>. Prints one JSON line of what happened.
import { denoKvOutbox, Stoa } from "../../../src/index.ts";

declare const Deno: {
  args: string[];
  openKv(path: string): Promise<{
    atomic(): never;
    listenQueue(handler: (value: unknown) => Promise<void>): Promise<void>;
    list(selector: { prefix: string[] }): AsyncIterable<{ key: unknown[]; value: unknown }>;
    close(): void;
  }>;
  exit(code: number): never;
};

const [path, baseUrl, apiKey, count] = Deno.args as [string, string, string, string];
const kv = await Deno.openKv(path);
const errors: string[] = [];
let resolveDone!: () => void;
const done = { promise: new Promise<void>((resolve) => (resolveDone = resolve)), resolve: () => resolveDone() };
const stoa = new Stoa({
  apiKey,
  baseUrl,
  retryBudgetMs: 500,
  outbox: denoKvOutbox(kv, { backoffSchedule: [200, 200, 200, 200, 200] }),
  onError: (error) => {
    errors.push(error.message);
    // each failed attempt is reported, and Deno retries it: wait on; anything else, stop waiting
    if (!/Deno will retry the message/.test(error.message)) done.resolve();
  },
});
let handled = 0;
let stored = 0;
let thrown = 0;
let foreign = 0;
kv.listenQueue(async (value) => {
  try {
    if (await stoa.handleDenoQueue(value)) {
      handled++;
      // the message format, read only here: its events' JSON as text
      const body = (typeof value === "string" ? JSON.parse(value) : value) as { events: unknown[] };
      stored += body.events.length;
    } else foreign++;
  } catch (error) {
    thrown++;
    throw error;
  } finally {
    if (stored >= Number(count)) done.resolve();
  }
});
// the events of one metered request, handed to the queue through the outbox's public path:
// a fetch whose provider answer carries usage
const fetch = stoa.fetch({
  provider: "openai",
  userId: "user_deno_kv",
  checkChargeability: false,
  fetch: async () =>
    Response.json({
      id: `chatcmpl-${crypto.randomUUID()}`,
      model: "gpt-4o-mini",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    }),
});
for (let i = 0; i < Number(count); i++) {
  const response = await fetch("https://api.openai.com/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
  await response.json();
}
await stoa.flush(); // resolves once the events are committed to KV
await done.promise;
console.log(JSON.stringify({ handled, stored, thrown, foreign, errors }));
kv.close();
Deno.exit(0);
