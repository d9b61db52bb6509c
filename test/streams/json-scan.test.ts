/**
 * The scanners the hot path uses instead of parsing every event.
 */
import { describe, expect, it } from "vitest";
import {
  deltaWeight,
  lastObject,
  lastObjectValue,
  skim,
  sliceObject,
  topLevelObjectValue,
} from "../../src/streams/json-scan.ts";

describe("deltaWeight", () => {
  it("weighs chat, Responses and Anthropic deltas: ASCII 1, other units 3, escapes as what they stand for", () => {
    expect(deltaWeight('{"choices":[{"index":0,"delta":{"content":"Hello"}}]}')).toBe(5);
    expect(deltaWeight('{"type":"response.output_text.delta","delta":"Hi \\"you\\"\\n"}')).toBe(9);
    expect(deltaWeight('{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo"}}')).toBe(
      7,
    );
    expect(deltaWeight('{"delta":{"content":"\\u00e9\\u0041"}}')).toBe(4);
  });

  it("counts tool-call arguments and reasoning, not roles, ids or names", () => {
    const chunk =
      '{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":"}}]}}]}';
    expect(deltaWeight(chunk)).toBe(8);
    expect(deltaWeight('{"choices":[{"index":0,"delta":{"reasoning_content":"think","refusal":"no"}}]}')).toBe(7);
    expect(
      deltaWeight('{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{\\"a\\":1"}}'),
    ).toBe(6);
  });

  it("counts every choice of a multi-choice chunk, index 10 included", () => {
    const choices = [0, 1, 10].map((i) => `{"index":${i},"delta":{"content":"abcd"}}`).join(",");
    expect(deltaWeight(`{"choices":[${choices}]}`)).toBe(12);
  });

  it("is 0 when there is no delta", () => {
    expect(deltaWeight('{"type":"message_stop"}')).toBe(0);
    expect(deltaWeight('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}')).toBe(0);
  });
});

describe("lastObjectValue and lastObject", () => {
  it("finds the last usage object, skips a null one and a string label", () => {
    expect(lastObjectValue('{"usage":null}', '"usage"')).toBe(-1);
    const text = '{"response":{"usage":{"input_tokens":3}},"metadata":{"usage":"label"}}';
    expect(lastObject(text, '"usage"')).toEqual({ input_tokens: 3 });
    expect(lastObject('{"usage" : { "a" : 1 } }', '"usage"')).toEqual({ a: 1 });
  });

  it("slices a balanced object with braces inside strings", () => {
    expect(sliceObject('x{"a":"}{","b":[1,{"c":2}]}y', 1)).toBe('{"a":"}{","b":[1,{"c":2}]}');
    expect(sliceObject('{"a":1', 0)).toBeUndefined();
  });
});

describe("skim reads the top-level usage", () => {
  const groq =
    '{"id":"chatcmpl-1","model":"llama","usage":{"prompt_tokens":45},"x_groq":{"id":"req_1","usage":{"sram_cached_tokens":32}}}';

  it("passes over a nested usage that comes after the top-level one (Groq's x_groq.usage)", () => {
    expect(skim(groq, groq)).toEqual({ id: "chatcmpl-1", model: "llama", usage: { prompt_tokens: 45 } });
  });

  it("finds it from the tail of a long body, strings with escaped quotes and braces skipped", () => {
    const tail = 'ls \\"} {[","x":"a\\\\","usage":{"n":1},"meta":{"usage":{"n":2},"s":"}\\"{"}}';
    expect(topLevelObjectValue(tail, "usage")).toBe(tail.indexOf('{"n":1}'));
    expect(skim('{"id":"a"', tail)?.usage).toEqual({ n: 1 });
  });

  it("finds none when only a nested usage exists, or the top-level one is null", () => {
    const nested = '{"id":"a","x_groq":{"usage":{"n":2}}}';
    expect(skim(nested, nested)).toBeUndefined();
    const nulled = '{"id":"a","usage":null,"x_groq":{"usage":{"n":2}}}';
    expect(skim(nulled, nulled)).toBeUndefined();
  });

  it("finds none in a tail that starts inside the usage object", () => {
    expect(topLevelObjectValue('"n":1},"x":{"usage":{"n":2}}}', "usage")).toBe(-1);
  });
});

describe("skim tolerates blanks and reads the keys a provider names", () => {
  it("reads a body with blank lines before it, a newline after it and blanks around its colons", () => {
    const body = { id: "chatcmpl-1", object: "chat.completion", model: "gpt-4o", usage: { prompt_tokens: 3 } };
    const pretty = `\n\n${JSON.stringify(body, null, 2)}\n`;
    expect(skim(pretty, pretty)).toEqual({ id: "chatcmpl-1", model: "gpt-4o", usage: { prompt_tokens: 3 } });
    const spaced = '\r\n { "id" :\t"chatcmpl-2" , "model" : "m" , "usage" : { "prompt_tokens" : 4 } } \n';
    expect(skim(spaced, spaced)).toEqual({ id: "chatcmpl-2", model: "m", usage: { prompt_tokens: 4 } });
  });

  it('passes over a string value that reads like the key (a role of "model")', () => {
    const text = '{"id": "chatcmpl-3", "choices": [{"message": {"role": "model"}}], "model" : "m", "usage": {"n": 1}}';
    expect(skim(text, text)).toEqual({ id: "chatcmpl-3", model: "m", usage: { n: 1 } });
  });

  it("reads Gemini's responseId, modelVersion and usageMetadata from the end of a long body", () => {
    const keys = { id: "responseId", model: "modelVersion", usage: "usageMetadata" };
    const head = '{\n  "candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBO';
    const tail =
      'AAAA"}}], "role": "model"}, "finishReason": "STOP", "index": 0}],\n  "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290},\n  "modelVersion": "gemini-2.5-flash-image",\n  "responseId": "r-1"\n}\n';
    expect(skim(head, tail, keys)).toEqual({
      responseId: "r-1",
      modelVersion: "gemini-2.5-flash-image",
      usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 1290 },
    });
    // a nested key of the same name in the end is not the body's
    const nested = '"x", "inner": {"responseId": "nested"}, "usageMetadata": {"promptTokenCount": 1}}';
    expect(skim(head, nested, keys)).toEqual({
      responseId: undefined,
      modelVersion: undefined,
      usageMetadata: { promptTokenCount: 1 },
    });
  });

  it("still finds nothing in a body that is not one object", () => {
    expect(skim(' [{"usage":{"n":1}}] ', ' [{"usage":{"n":1}}] ')).toBeUndefined();
    expect(skim("<html>", '"usage":{"n":1}}</html>')).toBeUndefined();
  });
});
