/**
 * Groq: OpenAI-shaped chat completions. A stream's finish chunk carries the
 * same usage twice, top-level `usage` and `x_groq.usage`: the top-level one is
 * read, `x_groq.usage` only when it is all there is. In a JSON body
 * `x_groq.usage` is a different object (cache and hardware stats), never usage.
 * Usage arrives unasked, so no `include_usage` is added.
 */

import { obj } from "../util/json.ts";
import { type ChatDialect, openai, openaiErrorBody, openaiUsage, readChatStream } from "./openai.ts";
import type { Provider } from "./types.ts";

const GROQ_STREAM: ChatDialect = {
  usage: (chunk) => openaiUsage(chunk.usage) ?? openaiUsage(obj(chunk.x_groq).usage),
};

/** The Groq provider. */
export const groq: Provider = {
  id: "groq",
  errorBody: openaiErrorBody,
  endpoint: (pathname) => (pathname.endsWith("/chat/completions") ? "chat.completions" : undefined),
  requestId: (headers) => headers.get("x-request-id") ?? undefined,
  readJson: (endpoint, json) => openai.readJson(endpoint, json),
  readStream: (facts) => readChatStream(facts, GROQ_STREAM),
};
