/**
 * The Bedrock module: Converse JSON, ConverseStream's `metadata` event and
 * Anthropic-on-Bedrock Invoke (JSON and base64 `chunk` events), the stream
 * messages decoded from real event-stream bytes by `streams/event-stream.ts`.
 */
import { describe, expect, it } from "vitest";
import { bedrock, readBedrockMessages } from "../../src/providers/bedrock.ts";
import type { RequestFacts } from "../../src/providers/types.ts";
import { createEventStreamDecoder } from "../../src/streams/event-stream.ts";
import {
  bedrockEvent,
  CONVERSE_JSON,
  CONVERSE_STREAM_EVENTS,
  concatBytes,
  eventStreamFrame,
  INVOKE_STREAM_EVENTS,
  invokeChunk,
} from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";

/** Decodes `bytes` (cut into `size`-byte chunks) and feeds every message to a Bedrock reader. */
function readBytes(facts: RequestFacts, bytes: Uint8Array, size = bytes.length) {
  const reader = readBedrockMessages(facts);
  const faults: string[] = [];
  let doneAt: number | undefined;
  let messages = 0;
  const decoder = createEventStreamDecoder({
    onMessage(message) {
      reader.message(message);
      if (reader.done && doneAt === undefined) doneAt = messages;
      messages++;
    },
    onFault: (fault) => faults.push(fault.kind),
  });
  for (let at = 0; at < bytes.length; at += size) decoder.feed(bytes.subarray(at, at + size));
  decoder.end();
  return { reading: reader.reading(), faults, doneAt, messages };
}

describe("bedrock paths", () => {
  it("meters the four operations, model from the path, streaming from the operation; the body is never rewritten", () => {
    const body = { messages: [{ role: "user", content: [{ text: "hi" }] }] };
    expect(factsFor(bedrock, `/model/${encodeURIComponent(MODEL)}/converse`, body)).toEqual({
      facts: expect.objectContaining({ endpoint: "converse", stream: false, requestedModel: MODEL }),
      sent: undefined,
    });
    expect(factsFor(bedrock, `/model/${encodeURIComponent(ARN)}/converse-stream`, body).facts).toMatchObject({
      endpoint: "converse",
      stream: true,
      requestedModel: ARN,
    });
    expect(factsFor(bedrock, `/model/${MODEL}/invoke`, body).facts).toMatchObject({
      endpoint: "invoke",
      stream: false,
    });
    expect(factsFor(bedrock, `/model/${MODEL}/invoke-with-response-stream`, body)).toEqual({
      facts: expect.objectContaining({ endpoint: "invoke", stream: true, requestedModel: MODEL }),
      sent: undefined,
    });
    expect(bedrock.endpoint(`/model/${MODEL}/count-tokens`)).toBeUndefined();
    expect(bedrock.requestId(new Headers({ "x-amzn-requestid": "7b0a-req" }))).toBe("7b0a-req");
  });
});

describe("bedrock JSON", () => {
  it("reads Converse usage, each cache count read once of its two spellings", () => {
    expect(bedrock.readJson("converse", CONVERSE_JSON)).toEqual({
      usage: usage({ inputTokens: 22, outputTokens: 57 }),
      outputWeight: 0,
    });
    const cached = {
      inputTokens: 5,
      cacheReadInputTokens: 100,
      cacheReadInputTokenCount: 100,
      cacheWriteInputTokens: 20,
      cacheWriteInputTokenCount: 20,
      outputTokens: 9,
      totalTokens: 134,
    };
    expect(bedrock.readJson("converse", { ...CONVERSE_JSON, usage: cached }).usage).toEqual(
      usage({ inputTokens: 5, cacheReadTokens: 100, cacheWriteTokens: 20, outputTokens: 9 }),
    );
    expect(bedrock.readJson("converse", { output: {} }).usage).toBeUndefined();
  });

  it("reads an Anthropic Invoke body as Anthropic", () => {
    const body = {
      id: "msg_bdrk_01",
      type: "message",
      model: "claude-sonnet-4-5-20250929",
      content: [{ type: "text", text: "Hello" }],
      usage: { input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 3, output_tokens: 25 },
    };
    expect(bedrock.readJson("invoke", body)).toEqual({
      id: "msg_bdrk_01",
      model: "claude-sonnet-4-5-20250929",
      usage: usage({ inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 3, outputTokens: 25 }),
      outputWeight: 0,
    });
  });

  it("reads an Amazon Nova Invoke body in its own (Converse) shape, not as Anthropic", () => {
    const nova = {
      output: { message: { role: "assistant", content: [{ text: "Hello" }] } },
      stopReason: "end_turn",
      usage: { inputTokens: 500, outputTokens: 300, totalTokens: 800, cacheReadInputTokenCount: 20 },
    };
    expect(bedrock.readJson("invoke", nova).usage).toEqual(
      usage({ inputTokens: 500, outputTokens: 300, cacheReadTokens: 20 }),
    );
  });
});

describe("bedrock event streams", () => {
  const converse = factsFor(bedrock, `/model/${MODEL}/converse-stream`).facts;
  const invoke = factsFor(bedrock, `/model/${MODEL}/invoke-with-response-stream`).facts;
  const converseBytes = concatBytes(CONVERSE_STREAM_EVENTS.map(([type, payload]) => bedrockEvent(type, payload)));
  const invokeBytes = concatBytes(INVOKE_STREAM_EVENTS.map(invokeChunk));

  it("takes ConverseStream usage from the metadata event, for every chunk size", () => {
    for (const size of [1, 2, 3, 7, 12, 13, 64, converseBytes.length]) {
      const { reading, faults, doneAt } = readBytes(converse, converseBytes, size);
      expect(faults).toEqual([]);
      expect(doneAt).toBe(5);
      expect(reading).toEqual({ usage: usage({ inputTokens: 22, outputTokens: 55 }), outputWeight: 13 });
    }
  });

  it("a ConverseStream cut before metadata, or ended by an exception, reports no usage", () => {
    const cut = readBytes(converse, converseBytes.subarray(0, converseBytes.length - 30));
    expect(cut.faults).toEqual(["truncated"]);
    expect(cut.reading).toEqual({ outputWeight: 13 });
    const exception = eventStreamFrame(
      { ":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception" },
      '{"message":"Too many requests"}',
    );
    const failed = readBytes(converse, concatBytes([converseBytes.subarray(0, 500), exception]));
    expect(failed.reading.usage).toBeUndefined();
  });

  it("reads an Invoke stream's base64 Anthropic events, never adding invocationMetrics", () => {
    for (const size of [1, 5, 100, invokeBytes.length]) {
      const { reading, faults, doneAt, messages } = readBytes(invoke, invokeBytes, size);
      expect(faults).toEqual([]);
      expect(messages).toBe(6);
      expect(doneAt).toBe(5);
      expect(reading.usage).toEqual(
        usage({ inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 3, outputTokens: 25 }),
      );
      expect(reading.id).toBe("msg_bdrk_01");
      expect(reading.model).toBe("claude-sonnet-4-5-20250929");
    }
  });

  it("an Invoke stream cut after message_start keeps its input counts as partial", () => {
    const bytes = concatBytes(INVOKE_STREAM_EVENTS.slice(0, 3).map(invokeChunk));
    const { reading, doneAt } = readBytes(invoke, bytes);
    expect(doneAt).toBeUndefined();
    expect(reading.usage).toBeUndefined();
    expect(reading.partial).toEqual({ inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 3, outputTokens: 1 });
  });

  it("reads SSE a gateway re-encoded: Converse events keyed by type, Invoke as Anthropic", () => {
    const keyed = CONVERSE_STREAM_EVENTS.map(([type, payload]) => JSON.stringify({ [type]: payload }));
    const converseRead = readEvents(bedrock, converse, keyed);
    expect(converseRead.reading.usage).toEqual(usage({ inputTokens: 22, outputTokens: 55 }));
    expect(converseRead.doneAt).toBe(5);
    const anthropicRead = readEvents(
      bedrock,
      invoke,
      INVOKE_STREAM_EVENTS.map((event) => JSON.stringify(event)),
    );
    expect(anthropicRead.reading.usage).toEqual(
      usage({ inputTokens: 10, cacheReadTokens: 5, cacheWriteTokens: 3, outputTokens: 25 }),
    );
  });
});
