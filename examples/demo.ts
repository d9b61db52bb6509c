/**
 * The whole loop, offline: a local Stoa API and a local provider on
 * 127.0.0.1, and the real `openai` and `@anthropic-ai/sdk` clients metered by
 * `@onstoa/sdk`. A new user is registered, blocked until they pay, pays,
 * and is then metered; the demo prints the usage events Stoa stored.
 *
 *   npm run demo
 *
 * (Until the standalone local Stoa server lands, the local Stoa here is the
 * contract fake the test suite uses; "paying" is its checkout stand-in.)
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { Stoa, StoaChargeRequiredError, StoaProvider } from "../src/index.ts";
import { createFakeProvider } from "../test/fakes/provider.ts";
import { createFakeStoa, FAKE_REGISTRATION_SECRET, FAKE_STOA_API_KEY } from "../test/fakes/stoa.ts";
import { serve } from "../test/support/serve.ts";

const provider = await serve(createFakeProvider());
const stoaApi = await serve(createFakeStoa());
const run = "demo";
const stoaBase = `${stoaApi.url}/s/${run}`;
console.log(`local provider  ${provider.url}\nlocal Stoa API  ${stoaBase}\n`);

const stoa = new Stoa({ apiKey: FAKE_STOA_API_KEY, baseUrl: stoaBase, registrationSecret: FAKE_REGISTRATION_SECRET });
const userId = "ada";

const member = await stoa.registerMember({ userId, email: "ada@example.com", name: "Ada" });
console.log(`registered ${member.userId} as ${member.membershipId} (created: ${member.created})`);

const openai = new OpenAI({
  apiKey: "sk-local",
  baseURL: `${provider.url}/p/${run}/text=english/v1`,
  fetch: stoa.fetch({ provider: StoaProvider.OpenAI, userId, metadata: { feature: "demo" } }),
});
const ask = () =>
  openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Tell me about metering." }],
    stream: true,
  });

try {
  await ask();
} catch (error) {
  if (!(error instanceof StoaChargeRequiredError)) throw error;
  const blocked = StoaChargeRequiredError.from(error);
  console.log(`blocked: ${blocked?.reason}; the provider was not called`);
  const payment = await stoa.createPaymentSession({
    userId,
    email: "ada@example.com",
    returnUrl: "http://localhost:8787/return",
  });
  console.log(`checkout: ${payment.checkoutUrl}`);
  await fetch(`${stoaBase}/__complete/${payment.id}`, { method: "POST" }); // the user pays $10
  const after = await stoa.getPaymentSession(payment.id); // drops the cached "no"
  console.log(`payment ${after.id}: ${after.status}`);
}

let words = 0;
for await (const chunk of await ask()) words += (chunk.choices[0]?.delta.content ?? "").split(" ").length - 1;
console.log(`openai: streamed ~${words} words`);

const claude = stoa.wrap(new Anthropic({ apiKey: "sk-local", baseURL: `${provider.url}/p/${run}/default` }), {
  provider: StoaProvider.Anthropic,
  userId,
});
const message = await claude.messages.create({
  model: "claude-sonnet-5",
  max_tokens: 100,
  messages: [{ role: "user", content: "Say hello" }],
});
console.log(`anthropic: ${message.content[0]?.type === "text" ? message.content[0].text : ""}`);

await stoa.flush();
const events = (await (await fetch(`${stoaBase}/__events`)).json()) as Record<string, unknown>[];
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
