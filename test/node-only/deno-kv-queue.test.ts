/**
 * The Deno KV outbox under the real Deno (node_modules/.bin/deno,
 * `--unstable-kv`, a KV file in a temp directory): events handed to KV's
 * queue while Stoa answers 503 are retried by Deno until Stoa is back, and
 * stored once.
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
  it("queues 5 events in KV while Stoa answers 503, Deno retries, and each is stored once", async () => {
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
      expect(report.errors).toEqual([]);
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
});
