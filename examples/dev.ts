/**
 * `npm run dev`: the local Stoa server and the example chat app, each under
 * `wrangler dev` on 127.0.0.1, offline. Prints the URLs once both answer.
 *
 * Ports: STOA_SERVER_PORT (default 8788) and CHAT_PORT (default 8787).
 * With OPENAI_API_KEY or ANTHROPIC_API_KEY set, the chat app talks to the
 * real provider; otherwise to its built-in fake one. Wrangler's telemetry
 * and its Cloudflare look-ups are off. State stays in `.wrangler/state/<worker>`
 * (STOA_STATE_DIR to put it elsewhere).
 *
 * `npm run dev -- --check` starts both, waits until they answer, and stops:
 * a smoke test of the set-up.
 *
 * `npm run dev:hono` (`--hono`) runs examples/hono-app.ts in the chat app's
 * place (examples/hono-app.wrangler.toml); with `--check` it also posts one
 * chat as a new user and prints the answer (a 402 with a checkout URL).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const host = "127.0.0.1";
const serverPort = Number(process.env.STOA_SERVER_PORT ?? 8788);
const chatPort = Number(process.env.CHAT_PORT ?? 8787);
const serverUrl = `http://${host}:${serverPort}`;
const chatUrl = `http://${host}:${chatPort}`;
const check = process.argv.includes("--check");
const hono = process.argv.includes("--hono");
const stateDir = process.env.STOA_STATE_DIR ?? ".wrangler/state";

/** Wrangler's own environment: telemetry and Cloudflare look-ups off. */
const wranglerEnv: NodeJS.ProcessEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/**
 * The chat app's values beyond wrangler.toml, as an env file only this user
 * can read, removed on exit: the provider keys never go on a command line.
 */
function chatEnvFile(): string {
  const names = hono
    ? ["OPENAI_API_KEY", "OPENAI_BASE_URL"]
    : ["OPENAI_API_KEY", "OPENAI_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_MODEL", "FAKE_PROVIDER"];
  const values: Record<string, string> = { STOA_BASE_URL: `${serverUrl}/api`, STOA_DASHBOARD_URL: serverUrl };
  for (const name of names) if (process.env[name]) values[name] = process.env[name] as string;
  const file = join(".wrangler", `chat-${process.pid}.env`);
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(
    file,
    Object.entries(values)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}\n`)
      .join(""),
    { mode: 0o600 },
  );
  process.on("exit", () => rmSync(file, { force: true }));
  return file;
}

function start(name: string, args: string[]): ChildProcess {
  // each worker keeps its own folder: two workerd processes on one folder race for its SQLite files
  const child = spawn("wrangler", ["dev", "--ip", host, "--persist-to", join(stateDir, name), ...args], {
    env: wranglerEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => `[${name}] ${line}\n`)
      .join("");
  child.stdout?.on("data", (chunk: Buffer) => process.stdout.write(prefix(chunk)));
  child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[${name}] wrangler exited (${signal ?? code}); stopping.`);
      stop(1);
    }
  });
  return child;
}

async function ready(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.status < 500) return;
    } catch {}
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

let stopping = false;
const children: ChildProcess[] = [];
function stop(code: number): void {
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
  if (children.every((c) => c.exitCode !== null)) process.exit(code);
  Promise.all(children.map((c) => new Promise((resolve) => c.once("exit", resolve)))).then(() => process.exit(code));
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

children.push(
  start("stoa", ["-c", "examples/stoa-server/wrangler.toml", "--port", String(serverPort), "--inspector-port", "0"]),
  start(hono ? "hono" : "chat", [
    "-c",
    hono ? "examples/hono-app.wrangler.toml" : "wrangler.toml",
    "--port",
    String(chatPort),
    "--inspector-port",
    "0",
    "--env-file",
    chatEnvFile(),
    // the hono app saw [vars]' STOA_BASE_URL over the env file's; a --var wins, so STOA_SERVER_PORT reaches it
    ...(hono ? ["--var", `STOA_BASE_URL:${serverUrl}/api`] : []),
  ]),
);

try {
  await Promise.all([ready(`${serverUrl}/`, 90_000), ready(`${chatUrl}/`, 90_000)]);
} catch (error) {
  console.error(`npm run dev: ${(error as Error).message}`);
  stop(1);
}

if (hono) {
  console.log(`
  Hono app            ${chatUrl}/chat   (POST, header x-user-id)
  Stoa usage pages    ${serverUrl}/
  Stoa API            ${serverUrl}/api   (key sk_test_local)
  Provider            ${process.env.OPENAI_API_KEY ? "OpenAI (OPENAI_API_KEY)" : "the built-in fake provider"}

  curl -i -X POST -H 'x-user-id: alice' -d '{"message":"Hi"}' ${chatUrl}/chat
  A new user is blocked: 402 with a checkoutUrl; pay there, and the return replays the chat.
  Ctrl-C stops both.
`);
  if (check) {
    // one chat as a fresh user: the app, the meter's gate and the Stoa server answer end to end
    const userId = `dev-check-${process.pid}`;
    const response = await fetch(`${chatUrl}/chat`, {
      method: "POST",
      headers: { "x-user-id": userId, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ message: "Hello from --check" }),
    });
    const body = await response.text();
    console.log(`POST /chat as ${userId}: ${response.status} ${body}`);
    // a fresh user has not paid: the gate blocks the call and the app answers with the local checkout
    const blocked = response.status === 402 && body.includes(`"checkoutUrl":"${serverUrl}/checkout/`);
    if (!blocked) console.error("npm run dev:hono --check: expected a 402 with a checkoutUrl on the local Stoa server");
    stop(blocked ? 0 : 1);
  }
} else {
  const provider = process.env.OPENAI_API_KEY
    ? "OpenAI (OPENAI_API_KEY)"
    : process.env.ANTHROPIC_API_KEY
      ? "Anthropic (ANTHROPIC_API_KEY)"
      : "the built-in fake provider";
  console.log(`
  Chat app            ${chatUrl}/
  Stoa usage pages    ${serverUrl}/
  Stoa API            ${serverUrl}/api   (key sk_test_local)
  Provider            ${provider}

  Sign in with any name, chat, pay at the local checkout, and watch the usage page.
  Ctrl-C stops both.
`);
  if (check) stop(0);
}
