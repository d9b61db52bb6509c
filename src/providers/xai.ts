/**
 * xAI: chat completions and the Responses API, OpenAI-shaped, plus the cost
 * xAI bills in `usage.cost_in_usd_ticks` (10^10 ticks to the dollar). Chat
 * counts reasoning outside `completion_tokens`, so it is added back into
 * `outputTokens`; Responses' `output_tokens` already includes it. Chat
 * streams get `include_usage` (honoured: a final `choices: []` chunk).
 */
import { lastObject } from "../streams/json-scan.ts";
import type { Usage } from "../usage.ts";
import { isObj, money, obj, str } from "../util/json.ts";
import { type ChatDialect, openai, openaiErrorBody, openaiUsage, prepareChat, readChatStream } from "./openai.ts";
import type { Provider, Reading } from "./types.ts";

/** Ticks in one US dollar. */
const TICKS_PER_USD = 1e10;

/** Maps an xAI chat `usage` object: OpenAI's rules, with reasoning added into `outputTokens`. */
export function xaiChatUsage(raw: unknown): Usage | undefined {
  const usage = openaiUsage(raw);
  if (usage !== undefined) usage.outputTokens += usage.reasoningTokens;
  return usage;
}

/** The cost of an xAI `usage` object in USD, or undefined. */
export function xaiCost(raw: unknown): number | undefined {
  const ticks = money(obj(raw).cost_in_usd_ticks);
  return ticks === undefined ? undefined : ticks / TICKS_PER_USD;
}

const XAI_CHAT: ChatDialect = {
  usage: (chunk) => xaiChatUsage(chunk.usage),
  costUsd: (chunk) => xaiCost(chunk.usage),
};

/** The xAI provider. */
export const xai: Provider = {
  id: "xai",
  errorBody: openaiErrorBody,
  endpoint(pathname) {
    if (pathname.endsWith("/chat/completions")) return "chat.completions";
    if (pathname.endsWith("/responses")) return "responses";
    return undefined;
  },
  prepare: prepareChat,
  requestId: (headers) => headers.get("x-request-id") ?? undefined,
  // a Responses body is parsed whole, for the web searches in its `output`
  jsonRead: (endpoint) => (endpoint === "responses" ? "whole" : "skim"),
  readJson(endpoint, json) {
    const body = obj(json);
    if (endpoint === "responses") {
      const reading = openai.readJson(endpoint, json);
      reading.costUsd = xaiCost(body.usage);
      return reading;
    }
    const reading: Reading = { id: str(body.id), model: str(body.model), outputWeight: 0 };
    reading.usage = xaiChatUsage(body.usage);
    reading.costUsd = xaiCost(body.usage);
    return reading;
  },
  readStream(facts) {
    if (facts.endpoint !== "responses") return readChatStream(facts, XAI_CHAT);
    // OpenAI's Responses reader, plus the cost on the terminal event's usage
    const inner = openai.readStream(facts);
    let costUsd: number | undefined;
    return {
      event(data, dataLength, truncatedHead) {
        const drop = inner.event(data, dataLength, truncatedHead);
        if (data.lastIndexOf('"cost_in_usd_ticks"') !== -1) {
          const usage = lastObject(data, '"usage"');
          if (isObj(usage)) costUsd = xaiCost(usage) ?? costUsd;
        }
        return drop;
      },
      get done() {
        return inner.done;
      },
      reading() {
        const reading = inner.reading();
        if (reading.usage !== undefined && costUsd !== undefined) reading.costUsd = costUsd;
        return reading;
      },
    };
  },
};
