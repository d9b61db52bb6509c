/**
 * The Azure OpenAI module: deployment and v1 paths, `include_usage` added,
 * the content-filter chunk first, the request-id fallback.
 */
import { describe, expect, it } from "vitest";
import { azure } from "../../src/providers/azure.ts";
import { AZURE_CHUNKS, AZURE_USAGE } from "../support/fake-provider-more.ts";
import { factsFor, readEvents, usage } from "./drive.ts";

const DEPLOYMENT_CHAT = "/openai/deployments/my-gpt-4o/chat/completions";
const AZURE_READ = usage({ inputTokens: 16, cacheReadTokens: 4, outputTokens: 9 });

describe("azure", () => {
  it("parses a Responses body whole, for the web searches in its output; chat is skimmed", () => {
    expect(azure.jsonRead?.("responses")).toBe("whole");
    expect(azure.jsonRead?.("chat.completions") ?? "skim").toBe("skim");
    const body = {
      id: "resp_1",
      model: "gpt-4o",
      output: [{ type: "web_search_call" }, { type: "web_search_call" }, { type: "message", content: [] }],
      usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    };
    expect(azure.readJson("responses", body).usage?.webSearchRequests).toBe(2);
  });

  it("meters chat, responses and embeddings on both path styles", () => {
    expect(azure.endpoint(DEPLOYMENT_CHAT)).toBe("chat.completions");
    expect(azure.endpoint("/openai/deployments/emb/embeddings")).toBe("embeddings");
    expect(azure.endpoint("/openai/v1/chat/completions")).toBe("chat.completions");
    expect(azure.endpoint("/openai/v1/responses")).toBe("responses");
    expect(azure.endpoint("/openai/responses")).toBe("responses");
    expect(azure.endpoint("/openai/deployments/d/audio/transcriptions")).toBeUndefined();
  });

  it("adds include_usage to a chat stream; the deployment is the requested model when the body names none", () => {
    const { facts, sent } = factsFor(azure, DEPLOYMENT_CHAT, { messages: [], stream: true });
    expect(facts).toMatchObject({ injectedUsage: true, requestedModel: "my-gpt-4o" });
    expect(JSON.parse(sent ?? "")).toEqual({ stream_options: { include_usage: true }, messages: [], stream: true });
    const v1 = factsFor(azure, "/openai/v1/chat/completions", { model: "gpt-4o", messages: [] });
    expect(v1.facts.requestedModel).toBeUndefined();
    expect(v1.sent).toBeUndefined();
  });

  it("reads a stream that opens with the empty content-filter chunk; hides the usage chunk it asked for", () => {
    const { facts } = factsFor(azure, DEPLOYMENT_CHAT, { messages: [], stream: true });
    const { reading, dropped, doneAt } = readEvents(azure, facts, AZURE_CHUNKS);
    expect(reading).toEqual({
      id: "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j",
      model: "gpt-4o-2024-08-06",
      usage: AZURE_READ,
      outputWeight: 6,
    });
    expect(dropped).toEqual([4]);
    expect(doneAt).toBe(5);
  });

  it("reads a JSON completion and prefers x-request-id over apim-request-id", () => {
    const body = { id: "chatcmpl-1", model: "gpt-4o-2024-08-06", prompt_filter_results: [], usage: AZURE_USAGE };
    expect(azure.readJson("chat.completions", body).usage).toEqual(AZURE_READ);
    expect(azure.requestId(new Headers({ "apim-request-id": "apim-1" }))).toBe("apim-1");
    expect(azure.requestId(new Headers({ "apim-request-id": "apim-1", "x-request-id": "x-1" }))).toBe("x-1");
    expect(azure.requestId(new Headers())).toBeUndefined();
  });
});
