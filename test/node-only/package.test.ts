/**
 * The package as it is published: version in step, entry points typed first,
 * and a root entry that loads no hono.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { VERSION } from "../../src/version.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
  type: string;
  sideEffects: boolean;
  exports: Record<string, Record<string, string> | string>;
  dependencies: Record<string, string>;
};

describe("package.json", () => {
  it("keeps VERSION, ESM, sideEffects and types-first exports", () => {
    expect(VERSION).toBe(pkg.version);
    expect(pkg.type).toBe("module");
    expect(pkg.sideEffects).toBe(false);
    const root = pkg.exports["."] as Record<string, string>;
    expect(Object.keys(root)[0]).toBe("types");
    expect(root.default).toBe("./dist/index.js");
  });

  it("pins runtime dependencies exactly and has no hono among them", () => {
    for (const version of Object.values(pkg.dependencies)) expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(pkg.dependencies)).not.toContain("hono");
  });

  it("has no Node built-ins anywhere in src, and hono only under src/hono", () => {
    const root = new URL("../../src/", import.meta.url);
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const source = readFileSync(new URL(file, root), "utf8");
      expect(source, file).not.toMatch(/from "node:|require\(/);
      if (!file.startsWith("hono")) expect(source, file).not.toMatch(/from "hono/);
    }
  });
});
