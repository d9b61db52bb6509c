/**
 * AWS Bedrock Runtime: Converse and ConverseStream, InvokeModel and
 * InvokeModelWithResponseStream (read as Anthropic's Messages API).
 *
 * The model and the streaming are in the path (`/model/{modelId}/converse-stream`),
 * and the request is SigV4-signed over its body: it is never changed.
 * Streams are binary `application/vnd.amazon.eventstream` messages (see
 * `streams/event-stream.ts`), read by `readBedrockMessages`: ConverseStream's
 * usage is on its `metadata` event; an Invoke stream's `chunk` events carry
 * base64 Anthropic events, read by the Anthropic rules (the
 * `amazon-bedrock-invocationMetrics` copy of the counts is never added).
 * Converse `inputTokens` already excludes the cache.
 */
import { tryParse } from "../streams/json-scan.ts";
import { emptyUsage, type Usage } from "../usage.ts";
import { count, isObj, obj, str } from "../util/json.ts";
import { anthropic, anthropicUsage } from "./anthropic.ts";
import type { MessageReader, Provider, Reading, RequestFacts, StreamReader } from "./types.ts";
import { decodeSegment } from "./url-path.ts";

/** `/model/{modelId}/{operation}`; the id may be an ARN or inference profile, percent-encoded. */
const OPERATION = /\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;

/** Maps a Converse `usage` object; each cache count has two spellings, one is read. */
export function converseUsage(raw: unknown): Usage | undefined {
  if (!isObj(raw)) return undefined;
  const usage = emptyUsage();
  usage.inputTokens = count(raw.inputTokens);
  usage.cacheReadTokens = count(
    "cacheReadInputTokens" in raw ? raw.cacheReadInputTokens : raw.cacheReadInputTokenCount,
  );
  usage.cacheWriteTokens = count(
    "cacheWriteInputTokens" in raw ? raw.cacheWriteInputTokens : raw.cacheWriteInputTokenCount,
  );
  usage.outputTokens = count(raw.outputTokens);
  return usage;
}

const utf8 = new TextDecoder();

/** Weighted characters of a ConverseStream `contentBlockDelta`'s text, reasoning or tool input. */
function deltaWeight(delta: Record<string, unknown>): number {
  let text = "";
  if (typeof delta.text === "string") text = delta.text;
  else if (isObj(delta.toolUse) && typeof delta.toolUse.input === "string") text = delta.toolUse.input;
  else if (isObj(delta.reasoningContent) && typeof delta.reasoningContent.text === "string")
    text = delta.reasoningContent.text;
  let weight = 0;
  for (let i = 0; i < text.length; i++) weight += text.charCodeAt(i) < 128 ? 1 : 3;
  return weight;
}

/** The JSON text of a base64 `chunk` payload's `bytes`, or undefined. */
function chunkText(payload: Record<string, unknown>): string | undefined {
  if (typeof payload.bytes !== "string") return undefined;
  try {
    const binary = atob(payload.bytes);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Starts reading the event-stream messages of a Converse or Invoke stream. */
export function readBedrockMessages(facts: RequestFacts): MessageReader {
  if (facts.endpoint === "invoke") {
    const inner = anthropic.readStream(facts);
    let stopped = false;
    return {
      message(message) {
        if (message.headers.get(":message-type") !== "event" || message.headers.get(":event-type") !== "chunk") return;
        const text = chunkText(obj(tryParse(utf8.decode(message.payload))));
        if (text === undefined) return;
        inner.event(text, text.length, undefined);
        if (text.includes('"message_stop"') && obj(tryParse(text)).type === "message_stop") stopped = true;
      },
      get done() {
        return stopped || inner.done;
      },
      reading: () => inner.reading(),
    };
  }
  const reading: Reading = { outputWeight: 0 };
  let done = false;
  return {
    message(message) {
      if (message.headers.get(":message-type") !== "event") return; // exceptions end the stream unreported
      const type = message.headers.get(":event-type");
      if (type !== "contentBlockDelta" && type !== "metadata") return;
      const payload = obj(tryParse(utf8.decode(message.payload)));
      if (type === "contentBlockDelta") {
        reading.outputWeight += deltaWeight(obj(payload.delta));
      } else {
        reading.usage = converseUsage(payload.usage) ?? reading.usage;
        done = reading.usage !== undefined;
      }
    },
    get done() {
      return done;
    },
    reading: () => reading,
  };
}

/**
 * Reads SSE that a gateway re-encoded from Bedrock's event stream: for Invoke,
 * Anthropic's events; for Converse, each event keyed by its type
 * (`{"metadata":{…}}`), as the AWS SDK yields them.
 */
function readReencodedStream(facts: RequestFacts): StreamReader {
  if (facts.endpoint === "invoke") return anthropic.readStream(facts);
  const reading: Reading = { outputWeight: 0 };
  let done = false;
  return {
    event(data) {
      const event = obj(tryParse(data));
      if (isObj(event.contentBlockDelta)) reading.outputWeight += deltaWeight(obj(event.contentBlockDelta.delta));
      if (isObj(event.metadata)) {
        reading.usage = converseUsage(event.metadata.usage) ?? reading.usage;
        done = reading.usage !== undefined;
      }
      return false;
    },
    get done() {
      return done;
    },
    reading: () => reading,
  };
}

/** The Bedrock provider. */
export const bedrock: Provider = {
  id: "bedrock",
  endpoint(pathname) {
    const operation = pathname.match(OPERATION)?.[2];
    if (operation === undefined) return undefined;
    return operation.startsWith("converse") ? "converse" : "invoke";
  },
  // SigV4 signs the body: never rewritten (no `prepare`)
  describe(pathname) {
    const match = pathname.match(OPERATION);
    if (match === null) return undefined;
    return { requestedModel: decodeSegment(match[1] as string), stream: (match[2] as string).endsWith("stream") };
  },
  errorBody: (type, message) => ({ message, __type: type }),
  requestId: (headers) => headers.get("x-amzn-requestid") ?? undefined,
  readJson(endpoint, json) {
    const body = obj(json);
    if (endpoint === "invoke") {
      // Amazon Nova answers InvokeModel in the Converse shape (camelCase counts); Anthropic models in theirs
      const usage = obj(body.usage);
      if ("inputTokens" in usage || "outputTokens" in usage) return { usage: converseUsage(usage), outputWeight: 0 };
      return { id: str(body.id), model: str(body.model), usage: anthropicUsage(body.usage), outputWeight: 0 };
    }
    return { usage: converseUsage(body.usage), outputWeight: 0 };
  },
  readStream: readReencodedStream,
  readMessages: readBedrockMessages,
};
