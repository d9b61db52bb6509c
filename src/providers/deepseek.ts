/**
 * DeepSeek: OpenAI-shaped chat completions with its own cache counts.
 * `prompt_tokens` = `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens`;
 * `prompt_tokens_details.cached_tokens` repeats the hit count and is not read
 * beside it. `completion_tokens` includes reasoning. Streams get
 * `include_usage` (DeepSeek honours it; usage then rides the finish chunk).
 */

import type { Usage } from "../usage.ts";
import { count, isObj, obj, str } from "../util/json.ts";
import { type ChatDialect, openaiErrorBody, openaiUsage, prepareChat, readChatStream } from "./openai.ts";
import type { Provider, Reading } from "./types.ts";

/** Maps a DeepSeek `usage` object; without hit/miss counts, as OpenAI's. */
export function deepseekUsage(raw: unknown): Usage | undefined {
  if (!isObj(raw)) return undefined;
  if (!("prompt_cache_hit_tokens" in raw) && !("prompt_cache_miss_tokens" in raw)) return openaiUsage(raw);
  const usage = openaiUsage(raw) as Usage;
  const hit = count(raw.prompt_cache_hit_tokens);
  usage.cacheReadTokens = hit;
  usage.inputTokens =
    "prompt_cache_miss_tokens" in raw
      ? count(raw.prompt_cache_miss_tokens)
      : Math.max(0, count(raw.prompt_tokens) - hit);
  usage.cacheWriteTokens = 0;
  usage.audioInputTokens = 0;
  return usage;
}

const DEEPSEEK: ChatDialect = { usage: (chunk) => deepseekUsage(chunk.usage) };

/** The DeepSeek provider. */
export const deepseek: Provider = {
  id: "deepseek",
  errorBody: openaiErrorBody,
  endpoint: (pathname) => (pathname.endsWith("/chat/completions") ? "chat.completions" : undefined),
  prepare: prepareChat,
  requestId: (headers) => headers.get("x-request-id") ?? undefined,
  readJson(_endpoint, json) {
    const body = obj(json);
    const reading: Reading = { id: str(body.id), model: str(body.model), outputWeight: 0 };
    reading.usage = deepseekUsage(body.usage);
    return reading;
  },
  readStream: (facts) => readChatStream(facts, DEEPSEEK),
};
