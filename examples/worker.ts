/**
 * A Cloudflare Worker that meters each user's OpenAI calls with Stoa.
 *
 * POST /chat  {"message": "…"}  with header `x-user-id`  → the streamed answer as text.
 *
 * Env: STOA_API_KEY, STOA_BASE_URL (optional), OPENAI_API_KEY, OPENAI_BASE_URL (optional).
 */
import OpenAI from "openai";
import { Stoa, StoaProvider } from "../src/index.ts";

/** The bindings this worker reads. */
export interface Env {
  STOA_API_KEY: string;
  STOA_BASE_URL?: string;
  OPENAI_API_KEY: string;
  OPENAI_BASE_URL?: string;
}

let stoa: Stoa | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/chat") return new Response("Not found", { status: 404 });
    const userId = request.headers.get("x-user-id");
    if (!userId) return new Response("x-user-id header required", { status: 400 });
    const { message } = (await request.json()) as { message?: string };

    // one Stoa per isolate; one metering fetch per request, with that request's waitUntil
    stoa ??= new Stoa({ apiKey: env.STOA_API_KEY, ...(env.STOA_BASE_URL ? { baseUrl: env.STOA_BASE_URL } : {}) });
    const openai = new OpenAI({
      apiKey: env.OPENAI_API_KEY,
      ...(env.OPENAI_BASE_URL ? { baseURL: env.OPENAI_BASE_URL } : {}),
      fetch: stoa.fetch({
        provider: StoaProvider.OpenAI,
        userId,
        waitUntil: ctx.waitUntil.bind(ctx),
        metadata: { feature: "chat" },
      }),
    });

    const stream = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: message ?? "Hello" }],
      stream: true,
    });
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for await (const chunk of stream) controller.enqueue(encoder.encode(chunk.choices[0]?.delta.content ?? ""));
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
} satisfies ExportedHandler<Env>;
