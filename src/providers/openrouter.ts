/**
 * OpenRouter: the OpenAI chat shape, plus the cost it reports in `usage.cost`
 * and its generation id.
 */
import { openaiUsage, prepareChat, readChatStream } from "./openai.ts";
import type { Provider, Reading } from "./types.ts";
import { money, obj, str } from "./wire.ts";

/** The OpenRouter provider. */
export const openrouter: Provider = {
  id: "openrouter",
  endpoint: (pathname) => (pathname.endsWith("/chat/completions") ? "chat.completions" : undefined),
  prepare: prepareChat,
  requestId: (headers) => headers.get("x-generation-id") ?? undefined,
  readJson(_endpoint, json) {
    const body = obj(json);
    const reading: Reading = { id: str(body.id), model: str(body.model), outputWeight: 0 };
    reading.usage = openaiUsage(body.usage);
    reading.costUsd = money(obj(body.usage).cost);
    return reading;
  },
  readStream: (facts) => readChatStream(facts, true),
};
