/**
 * OpenRouter: the OpenAI chat shape, plus the cost it reports in `usage.cost`
 * and its generation id.
 */

import { obj, str } from "../util/json.ts";
import { openaiErrorBody, openaiUsage, prepareChat, readChatStream, reportedCost } from "./openai.ts";
import type { Provider, Reading } from "./types.ts";

/** The OpenRouter provider. */
export const openrouter: Provider = {
  id: "openrouter",
  endpoint: (pathname) => (pathname.endsWith("/chat/completions") ? "chat.completions" : undefined),
  // OpenRouter sends usage in every stream (its docs: `include_usage` is deprecated and has no
  // effect), so the app gets that chunk with or without the meter: it is asked for (harmless where
  // it still matters) but never hidden; @openrouter/ai-sdk-provider reads its usage and cost from it
  prepare(facts, text) {
    const prepared = prepareChat(facts, text);
    return prepared && { ...prepared, injectedUsage: false };
  },
  requestId: (headers) => headers.get("x-generation-id") ?? undefined,
  // the body's `gen-…` id is the generation id the header carries
  requestIdFromResponseId: true,
  errorBody: openaiErrorBody,
  readJson(_endpoint, json) {
    const body = obj(json);
    const reading: Reading = { id: str(body.id), model: str(body.model), outputWeight: 0 };
    reading.usage = openaiUsage(body.usage);
    reading.costUsd = reportedCost(body.usage);
    return reading;
  },
  readStream: (facts) => readChatStream(facts, true),
};
