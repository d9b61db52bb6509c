/**
 * The node project runs on the Node 22 from node_modules/.bin, not the system
 * Node; and `detectRuntime()` tells Node from runtimes that look like it,
 * with the globals it reads faked (and put back) as they are there.
 */
import { describe, expect, it } from "vitest";
import { detectRuntime, requestsShareIo } from "../../src/runtime.ts";

it("runs on Node 22", () => {
  expect(process.versions.node.split(".")[0]).toBe("22");
  expect(navigator.userAgent).toMatch(/^Node\.js\/22/);
});

/** Marks a global as absent in {@link withGlobals}. */
const ABSENT = Symbol("absent");

/**
 * `read()` with `globals` in place of the real ones (`ABSENT`: deleted), all
 * put back afterwards. Synchronous, so nothing else runs meanwhile.
 */
function withGlobals<T>(globals: Record<string, unknown>, read: () => T): T {
  const saved = Object.keys(globals).map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  try {
    for (const [name, value] of Object.entries(globals)) {
      if (value === ABSENT) Reflect.deleteProperty(globalThis, name);
      else Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    }
    return read();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) Reflect.deleteProperty(globalThis, name);
      else Object.defineProperty(globalThis, name, descriptor);
    }
  }
}

/** What a runtime with `globals` is taken for, and whether its requests would share I/O. */
function detectWith(globals: Record<string, unknown>) {
  return withGlobals(globals, () => ({ runtime: detectRuntime(), sharesIo: requestsShareIo() }));
}

/** A Worker's `WebSocketPair` (only its presence matters). */
class WebSocketPair {}

describe("detectRuntime", () => {
  it("takes Node for Node, whose requests share I/O", () => {
    expect(detectWith({})).toEqual({ runtime: "node", sharesIo: true });
  });

  it("takes a Worker without navigator (no_global_navigator) but with nodejs_compat's process for workerd", () => {
    // here process is Node's own: process.versions.node and process.release.name are set
    expect(detectWith({ navigator: ABSENT, WebSocketPair })).toEqual({ runtime: "workerd", sharesIo: false });
  });

  it("takes a Worker by its navigator.userAgent, with nodejs_compat's process", () => {
    expect(detectWith({ navigator: { userAgent: "Cloudflare-Workers" } })).toEqual({
      runtime: "workerd",
      sharesIo: false,
    });
  });

  it("takes a runtime with a Node-like process it cannot place for unknown, whose requests do not share I/O", () => {
    const process = { versions: { node: "22.0.0" }, env: {} }; // no release.name "node"
    expect(detectWith({ navigator: ABSENT, process })).toEqual({ runtime: "unknown", sharesIo: false });
  });
});
