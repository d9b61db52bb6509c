/**
 * `npm run dev:hono -- --check`: examples/hono-app.ts and the local Stoa server
 * under wrangler, offline (the built-in fake provider), on free ports with a
 * fresh state folder. The check posts one chat as a new user; the meter's gate
 * asks the local Stoa server, which answers not chargeable, so the app answers
 * 402 with a checkout URL on that server, and dev.ts stops both and exits 0.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { freePort } from "../support/ports.ts";

it("starts the Hono example against the local Stoa server and answers a blocked user with a checkout URL", async () => {
  const [appPort, stoaPort] = [await freePort(), await freePort()];
  const state = await mkdtemp(join(tmpdir(), "stoa-hono-state-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHAT_PORT: String(appPort),
    STOA_SERVER_PORT: String(stoaPort),
    STOA_STATE_DIR: state,
  };
  delete env.OPENAI_API_KEY;
  delete env.OPENAI_BASE_URL;
  try {
    const dev = spawn(process.execPath, ["examples/dev.ts", "--hono", "--check"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    dev.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    dev.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => dev.once("exit", resolve));
    expect(code, output).toBe(0);
    expect(output).toContain(`Hono app            http://127.0.0.1:${appPort}/chat`);
    expect(output).toContain("Provider            the built-in fake provider");
    const answer = /POST \/chat as (dev-check-\d+): (\d+) (.*)\n/.exec(output);
    expect(answer, output).not.toBeNull();
    const [, userId, status, body] = answer as RegExpExecArray;
    expect(status).toBe("402");
    expect(JSON.parse(body as string)).toEqual({
      error: { code: "charge_required", reason: "payment_required", message: "Payment is required to continue." },
      checkoutUrl: expect.stringMatching(new RegExp(`^http://127\\.0\\.0\\.1:${stoaPort}/checkout/ps_[0-9a-f]{32}$`)),
    });
    expect(userId).toMatch(/^dev-check-\d+$/);
  } finally {
    await rm(state, { recursive: true, force: true });
  }
});
