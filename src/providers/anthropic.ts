/**
 * Anthropic: the Messages API. `input_tokens` already excludes the cache;
 * in a stream, `message_delta.usage` carries cumulative totals that overwrite
 * what `message_start` said, field by field.
 */
import { deltaWeight, lastObject, lastObjectValue, tryParse } from "../streams/json-scan.ts";
import { emptyUsage, type Usage } from "../usage.ts";
import { count, isObj, obj, str } from "../util/json.ts";
import type { Provider, Reading, StreamReader } from "./types.ts";

/**
 * The fields of an Anthropic `usage` object that carry a value, as `Usage`
 * fields. A `null` count says nothing: a stream's `message_delta` (and
 * Anthropic-compatible hosts) may send `"input_tokens": null`, which must not
 * wipe out what `message_start` said (the SDK's own `MessageStream` keeps a
 * field unless the new value is non-null).
 */
export function anthropicUsageFields(raw: unknown): Partial<Usage> {
  const usage = obj(raw);
  const fields: Partial<Usage> = {};
  if (usage.input_tokens != null) fields.inputTokens = count(usage.input_tokens);
  if (usage.cache_read_input_tokens != null) fields.cacheReadTokens = count(usage.cache_read_input_tokens);
  if (usage.cache_creation_input_tokens != null) fields.cacheWriteTokens = count(usage.cache_creation_input_tokens);
  if (usage.output_tokens != null) fields.outputTokens = count(usage.output_tokens);
  if (isObj(usage.server_tool_use) && usage.server_tool_use.web_search_requests != null) {
    fields.webSearchRequests = count(usage.server_tool_use.web_search_requests);
  }
  return fields;
}

/** Maps a whole Anthropic `usage` object. */
export function anthropicUsage(raw: unknown): Usage | undefined {
  return isObj(raw) ? { ...emptyUsage(), ...anthropicUsageFields(raw) } : undefined;
}

function readMessagesStream(): StreamReader {
  const reading: Reading = { outputWeight: 0 };
  let started: Partial<Usage> | undefined;
  let final: Partial<Usage> | undefined;
  let done = false;

  function take(event: Record<string, unknown>): void {
    if (event.type === "message_start") {
      const message = obj(event.message);
      reading.id ??= str(message.id);
      reading.model = str(message.model) ?? reading.model;
      started = anthropicUsageFields(message.usage);
    } else if (event.type === "message_delta") {
      final = { ...final, ...anthropicUsageFields(event.usage) };
    }
  }

  return {
    event(data, dataLength, truncatedHead) {
      if (truncatedHead !== undefined) {
        reading.outputWeight += dataLength;
        if (truncatedHead.includes('"message_delta"'))
          take({ type: "message_delta", usage: lastObject(data, '"usage"') });
        return false;
      }
      if (lastObjectValue(data, '"usage"') !== -1) {
        take(obj(tryParse(data)));
        return false;
      }
      if (data.length < 64 && data.indexOf('"message_stop"') !== -1) {
        done = true;
        return false;
      }
      reading.outputWeight += deltaWeight(data);
      return false;
    },
    get done() {
      return done;
    },
    reading() {
      if (final !== undefined) reading.usage = { ...emptyUsage(), ...started, ...final };
      else if (started !== undefined) reading.partial = started;
      return reading;
    },
  };
}

/** The Anthropic provider. */
export const anthropic: Provider = {
  id: "anthropic",
  endpoint: (pathname) => (pathname.endsWith("/messages") ? "messages" : undefined),
  requestId: (headers) => headers.get("request-id") ?? undefined,
  errorBody: (type, message) => ({ type: "error", error: { type, message } }),
  readJson(_endpoint, json) {
    const body = obj(json);
    return { id: str(body.id), model: str(body.model), usage: anthropicUsage(body.usage), outputWeight: 0 };
  },
  readStream: () => readMessagesStream(),
};
