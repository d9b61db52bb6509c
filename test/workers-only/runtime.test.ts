/** The workers project really runs inside workerd, and `detectRuntime()` knows it, with or without `navigator`. */
import { expect, it } from "vitest";
import { detectRuntime, requestsShareIo } from "../../src/runtime.ts";

it("runs in workerd", () => {
  expect(navigator.userAgent).toBe("Cloudflare-Workers");
  expect(detectRuntime()).toBe("workerd");
  expect(requestsShareIo()).toBe(false);
});

it("takes workerd for workerd without navigator (no_global_navigator), though Node's process is there too", () => {
  // the pool runs with Node's APIs (nodejs_compat_v2, see vitest.config.ts): process says "node"
  expect((globalThis as { process?: { release?: { name?: string } } }).process?.release?.name).toBe("node");
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  expect(descriptor?.configurable).toBe(true);
  try {
    Reflect.deleteProperty(globalThis, "navigator");
    expect(typeof navigator).toBe("undefined");
    expect(detectRuntime()).toBe("workerd");
    expect(requestsShareIo()).toBe(false);
  } finally {
    Object.defineProperty(globalThis, "navigator", descriptor as PropertyDescriptor);
  }
  expect(navigator.userAgent).toBe("Cloudflare-Workers");
});
