/**
 * The chat example's fake provider speaks the real wire formats: read through
 * the real `openai` and `@anthropic-ai/sdk` clients, JSON and SSE, with the
 * exact usage `fakeUsage()` computes. Also which provider the env selects.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { createFakeProvider, fakeAnswer, fakePieces, fakeUsage } from "../../examples/chat/fake-provider.ts";
import { type AnswerPart, chatProvider } from "../../examples/chat/provider.ts";
import { StoaProvider } from "../../src/index.ts";

const QUESTION = "What does metering cost, and who pays for the <tokens> & the stream?";
const MESSAGES = [{ role: "user", content: QUESTION }];
const BASE = "https://fake-provider.invalid";

function openai() {
  return new OpenAI({
    apiKey: "sk-fake",
    baseURL: `${BASE}/v1`,
    maxRetries: 0,
    fetch: createFakeProvider({ delayMs: 0 }),
  });
}

function anthropic() {
  return new Anthropic({ apiKey: "sk-fake", baseURL: BASE, maxRetries: 0, fetch: createFakeProvider({ delayMs: 0 }) });
}

describe("fakeAnswer() and fakeUsage()", () => {
  it("are pure: the same messages give the same answer and numbers", () => {
    expect(fakeAnswer(MESSAGES)).toBe(fakeAnswer([{ role: "user", content: QUESTION }]));
    expect(fakeAnswer(MESSAGES)).toMatch(
      /^You asked: “What does metering cost, and who pays for…” \(13 words, 68 characters, digest 559ccb98\)\. /,
    );
    expect(fakeAnswer([{ role: "user", content: "other" }])).not.toBe(fakeAnswer(MESSAGES));
    // 3 + (4 + ceil(68 bytes / 4)); one output token per streamed word
    expect(fakeUsage(MESSAGES)).toEqual({ inputTokens: 24, outputTokens: 70 });
    expect(fakePieces(fakeAnswer(MESSAGES))).toHaveLength(70);
    expect(fakePieces(fakeAnswer(MESSAGES)).join("")).toBe(fakeAnswer(MESSAGES));
    expect(fakeUsage([{ role: "user", content: "héllo" }]).inputTokens).toBe(3 + 4 + 2); // 6 UTF-8 bytes
  });
});

describe("the fake provider through the openai client", () => {
  it("answers a chat completion as JSON with the usage and x-request-id", async () => {
    const { data, response, request_id } = await openai()
      .chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: QUESTION }] })
      .withResponse();
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(request_id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(data.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(data.model).toBe("gpt-4o-mini");
    expect(data.choices[0]?.message.content).toBe(fakeAnswer(MESSAGES));
    const usage = fakeUsage(MESSAGES);
    expect(data.usage).toMatchObject({
      prompt_tokens: usage.inputTokens,
      completion_tokens: usage.outputTokens,
      total_tokens: usage.inputTokens + usage.outputTokens,
    });
  });

  it("streams word by word, and sends the usage chunk only with include_usage", async () => {
    const stream = await openai().chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: QUESTION }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    const usages: unknown[] = [];
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      const content = chunk.choices[0]?.delta.content;
      if (content) deltas.push(content);
      if (chunk.usage) {
        expect(chunk.choices).toEqual([]);
        usages.push(chunk.usage);
      }
    }
    expect(deltas).toEqual(fakePieces(fakeAnswer(MESSAGES)));
    const usage = fakeUsage(MESSAGES);
    expect(usages).toEqual([
      expect.objectContaining({ prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens }),
    ]);
    expect(ids.size).toBe(1);

    const bare = await openai().chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: QUESTION }],
      stream: true,
    });
    let text = "";
    for await (const chunk of bare) {
      expect(chunk.usage).toBeUndefined();
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe(fakeAnswer(MESSAGES));
  });

  it("gives every response a fresh id, so equal questions are two billable responses", async () => {
    const client = openai();
    const one = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    const two = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    expect(one.id).not.toBe(two.id);
  });

  it("answers an unknown path 404 and a body without messages 400, in OpenAI's envelope", async () => {
    const fake = createFakeProvider({ delayMs: 0 });
    const missing = await fake(`${BASE}/v1/embeddings`, { method: "POST", body: "{}" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { type: "not_found_error" } });
    const bad = openai().chat.completions.create({ model: "m", messages: [] });
    await expect(bad).rejects.toMatchObject({ status: 400 });
  });
});

describe("the fake provider through the @anthropic-ai/sdk client", () => {
  it("answers a message as JSON with the usage and request-id", async () => {
    const { data, request_id } = await anthropic()
      .messages.create({ model: "claude-sonnet-5", max_tokens: 100, messages: [{ role: "user", content: QUESTION }] })
      .withResponse();
    expect(request_id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(data.id).toMatch(/^msg_/);
    expect(data.content).toEqual([{ type: "text", text: fakeAnswer(MESSAGES) }]);
    const usage = fakeUsage(MESSAGES);
    expect(data.usage).toMatchObject({ input_tokens: usage.inputTokens, output_tokens: usage.outputTokens });
  });

  it("streams message_start … message_delta with the usage", async () => {
    const stream = await anthropic().messages.create({
      model: "claude-sonnet-5",
      max_tokens: 100,
      messages: [{ role: "user", content: QUESTION }],
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    let input: number | undefined;
    let output: number | undefined;
    for await (const event of stream) {
      if (!types.includes(event.type)) types.push(event.type);
      if (event.type === "message_start") input = event.message.usage.input_tokens;
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
      if (event.type === "message_delta") output = event.usage.output_tokens;
    }
    expect(types).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(text).toBe(fakeAnswer(MESSAGES));
    expect({ input, output }).toEqual({
      input: fakeUsage(MESSAGES).inputTokens,
      output: fakeUsage(MESSAGES).outputTokens,
    });
    // the system prompt counts as a message
    const withSystem = await anthropic().messages.create({
      model: "m",
      max_tokens: 10,
      system: "Be brief.",
      messages: [{ role: "user", content: QUESTION }],
    });
    expect(withSystem.usage.input_tokens).toBe(
      fakeUsage([{ role: "system", content: "Be brief." }, ...MESSAGES]).inputTokens,
    );
  });
});

describe("chatProvider()", () => {
  it("picks OpenAI with OPENAI_API_KEY, else Anthropic with ANTHROPIC_API_KEY, else the fake", () => {
    expect(chatProvider({ OPENAI_API_KEY: "sk", ANTHROPIC_API_KEY: "sk" })).toMatchObject({
      name: "openai",
      model: "gpt-4o-mini",
      meter: StoaProvider.OpenAI,
    });
    expect(chatProvider({ OPENAI_API_KEY: "sk" }).upstream).toBeUndefined();
    expect(chatProvider({ OPENAI_API_KEY: "sk", OPENAI_MODEL: "gpt-4.1" }).model).toBe("gpt-4.1");
    expect(chatProvider({ ANTHROPIC_API_KEY: "sk" })).toMatchObject({
      name: "anthropic",
      model: "claude-sonnet-5",
      meter: StoaProvider.Anthropic,
    });
    expect(chatProvider({ ANTHROPIC_API_KEY: "sk", ANTHROPIC_MODEL: "claude-haiku-4-5" }).model).toBe(
      "claude-haiku-4-5",
    );
    const fake = chatProvider({ OPENAI_API_KEY: "" });
    expect(fake).toMatchObject({ name: "fake", model: "gpt-4o-mini", meter: StoaProvider.OpenAI });
    expect(typeof fake.upstream).toBe("function");
  });

  it("in fake mode, answers through the openai client with the exact usage", async () => {
    const fake = chatProvider({});
    // no meter here: the upstream itself stands in for the metering fetch
    const parts = await fake.answer(QUESTION, fake.upstream as NonNullable<typeof fake.upstream>);
    const seen: AnswerPart[] = [];
    for await (const part of parts) seen.push(part);
    expect(seen.filter((p) => p.type === "text").map((p) => (p.type === "text" ? p.text : ""))).toEqual(
      fakePieces(fakeAnswer(MESSAGES)),
    );
    expect(seen.at(-1)).toEqual({ type: "usage", ...fakeUsage(MESSAGES) });
  });
});
