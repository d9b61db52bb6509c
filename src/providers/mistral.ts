/**
 * Mistral: OpenAI-shaped chat completions and embeddings. Usage always comes
 * on a stream's finish chunk, unasked. The cached count has three spellings
 * (`prompt_tokens_details`, the misspelt `prompt_token_details`,
 * `num_cached_tokens`): one is read, never their sum. `prompt_audio_seconds`
 * is seconds, not tokens, and is left out.
 */

import { isObj, obj, str } from "../util/json.ts";
import { type ChatDialect, openai, openaiErrorBody, openaiUsage, readChatStream } from "./openai.ts";
import type { Provider, Reading } from "./types.ts";

/** Maps a Mistral `usage` object: OpenAI's rules with the first cached-count spelling present. */
export function mistralUsage(raw: unknown): ReturnType<typeof openaiUsage> {
  if (!isObj(raw)) return undefined;
  const details = obj(raw.prompt_tokens_details);
  if ("cached_tokens" in details) return openaiUsage(raw);
  const misspelt = obj(raw.prompt_token_details);
  const cached = "cached_tokens" in misspelt ? misspelt.cached_tokens : raw.num_cached_tokens;
  return openaiUsage({ ...raw, prompt_tokens_details: { ...details, cached_tokens: cached } });
}

const MISTRAL: ChatDialect = { usage: (chunk) => mistralUsage(chunk.usage) };

/** The Mistral provider. */
export const mistral: Provider = {
  id: "mistral",
  errorBody: openaiErrorBody,
  endpoint(pathname) {
    if (pathname.endsWith("/chat/completions")) return "chat.completions";
    if (pathname.endsWith("/embeddings")) return "embeddings";
    return undefined;
  },
  requestId: (headers) => headers.get("x-request-id") ?? undefined,
  readJson(endpoint, json) {
    if (endpoint === "embeddings") return openai.readJson(endpoint, json);
    const body = obj(json);
    const reading: Reading = { id: str(body.id), model: str(body.model), outputWeight: 0 };
    reading.usage = mistralUsage(body.usage);
    return reading;
  },
  readStream: (facts) => readChatStream(facts, MISTRAL),
};
