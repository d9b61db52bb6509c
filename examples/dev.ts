/**
 * `npm run dev`: the local Stoa server and the example chat app, each under
 * `wrangler dev` on 127.0.0.1, offline. Prints the URLs once both answer.
 *
 * Ports: STOA_SERVER_PORT (default 8788) and CHAT_PORT (default 8787).
 * With OPENAI_API_KEY or ANTHROPIC_API_KEY set, the chat app talks to the
 * real provider; otherwise to its built-in fake one. Wrangler's telemetry
 * and its Cloudflare look-ups are off. State stays in `.wrangler/state`.
 *
 * `npm run dev -- --check` starts both, waits until they answer, and stops:
 * a smoke test of the set-up.
 */
import { type ChildProcess, spawn } from "node:child_process";

const host = "127.0.0.1";
const serverPort = Number(process.env.STOA_SERVER_PORT ?? 8788);
const chatPort = Number(process.env.CHAT_PORT ?? 8787);
const serverUrl = `http://${host}:${serverPort}`;
const chatUrl = `http://${host}:${chatPort}`;
const check = process.argv.includes("--check");

/** Only what wrangler needs, plus the provider keys: the chat app's env is built from it. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = [
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "TERM",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_MODEL",
    "FAKE_PROVIDER",
  ];
  const env: NodeJS.ProcessEnv = {};
  for (const name of keep) if (process.env[name] !== undefined) env[name] = process.env[name];
  return {
    ...env,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_HIDE_BANNER: "true",
    ...extra,
  };
}

function start(name: string, args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn("wrangler", ["dev", "--ip", host, "--persist-to", ".wrangler/state", ...args], {
    env: childEnv(extraEnv),
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
  start("chat", ["-c", "wrangler.toml", "--port", String(chatPort), "--inspector-port", "0"], {
    // the app's provider keys come from this (filtered) environment, never from a file
    CLOUDFLARE_INCLUDE_PROCESS_ENV: "true",
    STOA_BASE_URL: `${serverUrl}/api`,
    STOA_DASHBOARD_URL: serverUrl,
  }),
);

try {
  await Promise.all([ready(`${serverUrl}/`, 90_000), ready(`${chatUrl}/`, 90_000)]);
} catch (error) {
  console.error(`npm run dev: ${(error as Error).message}`);
  stop(1);
}

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
