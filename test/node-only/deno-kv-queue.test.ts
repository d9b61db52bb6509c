/**
 * The Deno KV outbox under the real Deno (node_modules/.bin/deno,
 * `--unstable-kv`, a KV file in a temp directory): events handed to KV's
 * queue while Stoa answers 503 are retried by Deno until Stoa is back
 * (`onError` told of each failed attempt), and stored once; `denoKvOutbox()` refuses the options `kv.enqueue` refuses.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { STOA_KEY } from "../support/meter.ts";
import { newRunId } from "../support/provider.ts";
import { configureStoa, stoaBase, stoaEvents, stoaReceived } from "../support/stoa.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DENO = `${ROOT}node_modules/.bin/deno`;

function runDeno(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      DENO,
      [
        "run",
        "--no-lock",
        "--unstable-kv",
        "--allow-net=127.0.0.1",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        ...args,
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" } },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

describe("Deno KV outbox", () => {
  it("queues 5 events in KV while Stoa answers 503, Deno retries, onError hears of each failure, and each is stored once", async () => {
    const runId = newRunId("denokv");
    // Stoa is down for 1.5 s: the consumer's first attempt (a 500 ms budget) fails for sure,
    // Deno retries after 200 ms each time, and a later attempt stores the events
    await configureStoa(runId, { outageMs: 1_500 });
    const dir = mkdtempSync(join(tmpdir(), "stoa-kv-"));
    try {
      const { code, out, err } = await runDeno([
        "test/node-only/deno/kv-queue.ts",
        join(dir, "kv.sqlite3"),
        stoaBase(runId),
        STOA_KEY,
        "5",
      ]);
      // Deno logs each throw of the handler: the retries it then made
      expect(err).toMatch(
        /Exception in queue handler StoaDeliveryError: \d usage event\(s\) were not delivered to Stoa/,
      );
      expect(code).toBe(0);
      const report = JSON.parse(out.trim().split("\n").at(-1) as string) as Record<string, unknown>;
      expect(report.foreign).toBe(0);
      // onError heard of each failed attempt (Deno gives no attempt count), and of nothing else
      expect(report.errors).toHaveLength(report.thrown as number);
      for (const message of report.errors as string[]) {
        expect(message).toMatch(
          /^\d usage event\(s\) were not delivered to Stoa \(.+\); Deno will retry the message, and after its last retry keeps it under denoKvOutbox\(\)'s deadLetterPrefix/,
        );
      }
      // one message per request: each request's events go to the queue as it ends
      expect(report.stored).toBe(5);
      expect(report.handled).toBeGreaterThanOrEqual(1);
      expect(report.thrown).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const events = await stoaEvents(runId);
    expect(events).toHaveLength(5);
    expect(new Set(events.map((e) => e.id)).size).toBe(5);
    const posts = (await stoaReceived(runId)).filter((r) => r.path === "/v1/usage/events");
    expect(posts.length).toBeGreaterThanOrEqual(3);
    expect(posts.every((p) => (p.body as { events: unknown[] }).events.length >= 1)).toBe(true);
  }, 60_000);

  it("denoKvOutbox() refuses at once each backoffSchedule and deadLetterPrefix that Deno's kv.enqueue refuses", async () => {
    const { code, out, err } = await runDeno(["test/node-only/deno/kv-options.ts"]);
    expect(err).toBe("");
    expect(code).toBe(0);
    const ok = { stoa: "ok", deno: "ok" };
    const refused = { stoa: "StoaConfigError", deno: "TypeError" };
    expect(JSON.parse(out.trim())).toEqual({
      "backoffSchedule 5 delays": ok,
      "backoffSchedule 6 delays": refused,
      "backoffSchedule empty": ok,
      "backoffSchedule 0 and 1 hour": ok,
      "backoffSchedule 1 hour + 1 ms": refused,
      "backoffSchedule negative": refused,
      "backoffSchedule NaN": refused,
      "backoffSchedule Infinity": refused,
      "backoffSchedule string": refused,
      // Deno truncates a fraction; the outbox asks for whole milliseconds
      "backoffSchedule fraction": { stoa: "StoaConfigError", deno: "ok" },
      "deadLetterPrefix every key part": ok,
      "deadLetterPrefix empty prefix": ok,
      "deadLetterPrefix null": refused,
      "deadLetterPrefix object": refused,
      "deadLetterPrefix ArrayBuffer": refused,
    });
  }, 30_000);
});
