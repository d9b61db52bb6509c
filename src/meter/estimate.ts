/**
 * Estimates for responses that ended before the provider reported usage.
 * They count characters, not tokens: an ASCII character weighs 1, other
 * characters 3, and a token is taken as 4 weight units. On English prose this
 * lands within a few percent of OpenAI's o200k tokenizer (see the tests).
 */
import type { Usage } from "../usage.ts";

/** Weight units per estimated token. */
const WEIGHT_PER_TOKEN = 4;

/** Tokens for a content weight (see `stringValueWeight`). */
export function tokensFromWeight(weight: number): number {
  return Math.ceil(weight / WEIGHT_PER_TOKEN);
}

/** Request keys whose string values are not prompt text. */
const NOT_PROMPT = new Set(["model", "role", "type", "id", "tool_call_id", "name", "media_type", "detail", "stop"]);

/**
 * Estimates the input tokens of a JSON request body from the text it carries
 * (messages, system prompt, tool definitions). Inline binary data (base64
 * images, `data:` URLs) is skipped: it is not billed as text.
 */
export function estimateInputTokens(body: unknown): number {
  return tokensFromWeight(textWeightOf(body));
}

/** The summed `textWeight` of the text strings in a JSON value (see `estimateInputTokens`). */
export function textWeightOf(body: unknown): number {
  let weight = 0;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
    } else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (typeof item === "string") {
          if (!NOT_PROMPT.has(key) && key !== "data" && !item.startsWith("data:")) weight += textWeight(item);
        } else if (typeof item === "object" && item !== null) {
          stack.push(item);
        }
      }
    } else if (typeof value === "string") {
      weight += textWeight(value);
    }
  }
  return weight;
}

/** Weight of decoded text, on the same scale as `stringValueWeight`. */
export function textWeight(text: string): number {
  let weight = 0;
  for (let i = 0; i < text.length; i++) weight += text.charCodeAt(i) < 128 ? 1 : 3;
  return weight;
}

/**
 * The usage of a response whose final usage is missing (an aborted response)
 * or partly malformed: what the provider did report well-formed, and
 * estimates for the rest (input from the request, output from the content
 * seen, never below a reported partial count).
 */
export function estimateUsage(partial: Partial<Usage> | undefined, requestBody: unknown, outputWeight: number): Usage {
  const reportedInput =
    partial !== undefined &&
    (partial.inputTokens !== undefined ||
      partial.cacheReadTokens !== undefined ||
      partial.cacheWriteTokens !== undefined);
  return {
    inputTokens: reportedInput ? (partial?.inputTokens ?? 0) : estimateInputTokens(requestBody),
    cacheReadTokens: partial?.cacheReadTokens ?? 0,
    cacheWriteTokens: partial?.cacheWriteTokens ?? 0,
    audioInputTokens: partial?.audioInputTokens ?? 0,
    outputTokens: Math.max(partial?.outputTokens ?? 0, tokensFromWeight(outputWeight)),
    audioOutputTokens: partial?.audioOutputTokens ?? 0,
    reasoningTokens: partial?.reasoningTokens ?? 0,
    webSearchRequests: partial?.webSearchRequests ?? 0,
  };
}
