/**
 * The whole metering loop, offline: a local Stoa API and a local provider on
 * 127.0.0.1, and the real `openai` and `@anthropic-ai/sdk` clients metered by
 * `@onstoa/sdk`. Prints the usage events Stoa stored.
 *
 *   npm run demo
 *
 * (Until the standalone local Stoa server lands, the local Stoa here is the
 * contract fake the test suite uses.)
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Stoa, StoaProvider } from "../src/index.ts";
import { createFakeProvider } from "../test/fakes/provider.ts";
import { createFakeStoa, FAKE_STOA_API_KEY } from "../test/fakes/stoa.ts";
import { serve } from "../test/support/serve.ts";

const provider = await serve(createFakeProvider());
const stoaApi = await serve(createFakeStoa());
const run = "demo";
console.log(`local provider  ${provider.url}\nlocal Stoa API  ${stoaApi.url}/s/${run}\n`);

const stoa = new Stoa({ apiKey: FAKE_STOA_API_KEY, baseUrl: `${stoaApi.url}/s/${run}` });

const openai = new OpenAI({
  apiKey: "sk-local",
  baseURL: `${provider.url}/p/${run}/text=english/v1`,
  fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId: "ada", metadata: { feature: "demo" } }),
});
const claude = stoa.wrap(new Anthropic({ apiKey: "sk-local", baseURL: `${provider.url}/p/${run}/default` }), {
  provider: StoaProvider.Anthropic,
  userId: "grace",
});

const stream = await openai.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Tell me about metering." }],
  stream: true,
});
let words = 0;
for await (const chunk of stream) words += (chunk.choices[0]?.delta.content ?? "").split(" ").length - 1;
console.log(`openai: streamed ~${words} words`);

const message = await claude.messages.create({
  model: "claude-sonnet-5",
  max_tokens: 100,
  messages: [{ role: "user", content: "Say hello" }],
});
console.log(`anthropic: ${message.content[0]?.type === "text" ? message.content[0].text : ""}`);

await stoa.flush();
const events = (await (await fetch(`${stoaApi.url}/s/${run}/__events`)).json()) as Record<string, unknown>[];
console.log("\nusage events stored by Stoa:");
console.table(
  events.map((e) => {
    const usage = e.usage as Record<string, number>;
    return {
      user: e.userId,
      provider: e.provider,
      model: e.model,
      status: e.status,
      input: usage.inputTokens,
      cacheRead: usage.cacheReadTokens,
      cacheWrite: usage.cacheWriteTokens,
      output: usage.outputTokens,
      webSearches: usage.webSearchRequests,
    };
  }),
);
await provider.close();
await stoaApi.close();
