/**
 * The Deno example under the real Deno (node_modules/.bin/deno, no network,
 * no lockfile): it meters a streamed chat, answers a user who cannot be charged
 * 402 JSON with a checkout URL, and a SIGTERM or SIGINT (how Deno
 * Deploy stops an instance) drains the server and flushes the usage event
 * before the process exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { VERSION } from "../../src/index.ts";
import { OPENAI_CHAT_USAGE, STOA_KEY } from "../support/meter.ts";
import { type FakeOptions, newRunId, providerBase } from "../support/provider.ts";
import { configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DENO = `${ROOT}node_modules/.bin/deno`;
/** Deno's start-up (first run compiles src/), its requests and its shutdown, on a busy machine. */
const TIMEOUT = 60_000;

const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** A running `deno run examples/deno.ts`. */
interface DenoServer {
  /** The URL it printed (`http://127.0.0.1:<port>/`). */
  url: string;
  /** How it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(name: "SIGTERM" | "SIGINT"): void;
  /** Everything it printed so far. */
  output(): string;
}

async function startDeno(runId: string, opts?: FakeOptions): Promise<DenoServer> {
  const child = spawn(DENO, ["run", "--no-lock", "--allow-net=127.0.0.1", "--allow-env", "examples/deno.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(process.env.DENO_DIR ? { DENO_DIR: process.env.DENO_DIR } : {}),
      DENO_NO_UPDATE_CHECK: "1",
      DENO_NO_PROMPT: "1",
      NO_COLOR: "1",
      STOA_API_KEY: STOA_KEY,
      STOA_BASE_URL: stoaBase(runId),
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: providerBase(runId, opts).openai,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    output += text;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const match = /^Listening on (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(output);
      if (match?.[1] === undefined) return;
      child.stdout.off("data", onData);
      resolve(match[1]);
    };
    child.stdout.on("data", onData);
    child.once("error", reject);
    void exited.then(({ code, signal }) =>
      reject(new Error(`deno exited (${code ?? signal}) before listening:\n${output}`)),
    );
  });
  return {
    url,
    exited,
    signal: (name) => child.kill(name),
    output: () => output,
  };
}

function chat(server: DenoServer, userId: string): Promise<Response> {
  return fetch(new URL("chat", server.url), {
    method: "POST",
    headers: { "x-user-id": userId, "content-type": "application/json" },
    body: JSON.stringify({ message: "hi" }),
  });
}

const usagePosts = async (runId: string) =>
  (await stoaReceived(runId)).filter((r) => r.method === "POST" && r.path === "/v1/usage/events");

describe("the example Deno server", () => {
  it(
    "streams the answer, and on SIGTERM flushes the event still waiting to be retried, then exits 0",
    async () => {
      const runId = newRunId("deno-term");
      // the first delivery gets a 503 with retry-after 1 s: the event is still pending when SIGTERM comes
      await configureStoa(runId, {
        members: { user_d: { paid: true, balanceUsd: 10 } },
        failures: [503],
        retryAfter: 1,
      });
      const server = await startDeno(runId);
      // a user who cannot be charged yet: a payment session and 402 JSON, not a 500
      const blocked = await chat(server, "user_new");
      expect(blocked.status).toBe(402);
      const body = (await blocked.json()) as { error: Record<string, string>; checkoutUrl: string };
      expect(body.error).toEqual({
        code: "charge_required",
        reason: "payment_required",
        message: "Payment is required to continue.",
      });
      expect(body.checkoutUrl).toMatch(/\/checkout\/ps_[0-9a-f]{32}$/);
      const sessions = (await stoaReceived(runId)).filter((r) => r.path === "/v1/payment-sessions");
      expect(sessions.map((r) => r.body)).toEqual([{ userId: "user_new", returnUrl: server.url }]);

      const response = await chat(server, "user_d");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await response.text()).toBe("Hello!");
      server.signal("SIGTERM");

      expect(await server.exited, server.output()).toEqual({ code: 0, signal: null });
      const events = await stoaEvents(runId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        id: `openai:chatcmpl-${runId}-1:req_${runId}_1`,
        userId: "user_d",
        stream: true,
        status: "completed",
        estimated: false,
        usage: OPENAI_CHAT_USAGE,
        metadata: { feature: "chat" },
      });
      const posts = await usagePosts(runId);
      expect(posts).toHaveLength(2); // the 503, then the retry the flush waited for
      for (const post of posts) expect(post.headers["x-stoa-sdk"]).toBe(`stoa-ts/${VERSION} (deno)`);
    },
    TIMEOUT,
  );

  it(
    "on SIGINT (Deno Deploy's stop signal) lets an open stream finish, flushes its event (retried too), then exits 0",
    async () => {
      const runId = newRunId("deno-int");
      await configureStoa(runId, {
        members: { user_i: { paid: true, balanceUsd: 10 } },
        failures: [503],
        retryAfter: 1,
      });
      const server = await startDeno(runId, { delay: 200 });
      const response = await chat(server, "user_i");
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      const first = await reader.read();
      let text = decoder.decode(first.value, { stream: true });
      expect(text).toBe("Hello");
      server.signal("SIGINT"); // mid-stream: "!" and the usage are still to come
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      expect(text).toBe("Hello!");

      expect(await server.exited, server.output()).toEqual({ code: 0, signal: null });
      const events = await stoaEvents(runId);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ userId: "user_i", status: "completed", usage: OPENAI_CHAT_USAGE });
      expect(await usagePosts(runId)).toHaveLength(2);
    },
    TIMEOUT,
  );
});
