/**
 * Ports for the servers an end-to-end test starts as child processes (wrangler
 * under `examples/dev.ts`). A port the OS hands out for `listen(0)` and that is
 * then released can be handed out again at once to another process of the same
 * run (workerd's own loopback sockets, wrangler's inspector), which made the
 * child's bind fail now and then. So these ports come from below the OS's
 * ephemeral range, which `listen(0)` never uses, and are checked free first.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The first port of the OS's ephemeral range (Linux's default when unknown). */
function ephemeralStart(): number {
  try {
    const [start] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const port = Number(start);
    return Number.isInteger(port) && port > 12_000 ? port : 32_768;
  } catch {
    return 32_768;
  }
}

const taken = new Set<number>();

function bindable(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A free port on 127.0.0.1 outside the ephemeral range, never the same twice in a process. */
export async function freePort(): Promise<number> {
  const top = ephemeralStart();
  const bottom = top - 10_000;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom));
    if (taken.has(port)) continue;
    taken.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${bottom} and ${top} after 200 tries`);
}
