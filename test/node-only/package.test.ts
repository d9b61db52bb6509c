/**
 * The package as it is published: version in step, entry points typed first,
 * a root entry that loads no hono, built on pack, declarations with `.js`
 * specifiers. (`npm run check:package` packs it and installs it as a consumer.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { jsSpecifiers } from "../../scripts/build.ts";
import { VERSION } from "../../src/version.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
  type: string;
  sideEffects: boolean;
  exports: Record<string, Record<string, string> | string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
  files: string[];
  engines: Record<string, string>;
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

  it("builds dist/ on pack and ships dist/ and src/ only (src for the source maps)", () => {
    expect(pkg.scripts.prepack).toBe("npm run build");
    expect(pkg.scripts.build).toBe("node scripts/build.ts");
    expect(pkg.files).toEqual(["dist", "src"]);
    for (const entry of Object.values(pkg.exports)) {
      if (typeof entry === "string") continue;
      expect(Object.keys(entry)).toEqual(["types", "default"]);
      expect(entry.types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
    }
  });

  it("lints the tarball with pinned publint and attw", () => {
    expect(pkg.devDependencies.publint).toBe("0.3.25");
    expect(pkg.devDependencies["@arethetypeswrong/cli"]).toBe("0.18.5");
  });
});

describe("jsSpecifiers (the declarations' relative imports)", () => {
  it("makes every relative .ts specifier .js", () => {
    const dts = [
      'import type { StoaOptions } from "./config.ts";',
      'export { StoaError, type StoaErrorCode } from "../errors.ts";',
      "export * from './providers/index.ts';",
      'export declare function f(): import("./usage.ts").Usage;',
      'import "./side.ts";',
    ].join("\n");
    expect(jsSpecifiers(dts)).toBe(
      [
        'import type { StoaOptions } from "./config.js";',
        'export { StoaError, type StoaErrorCode } from "../errors.js";',
        "export * from './providers/index.js';",
        'export declare function f(): import("./usage.js").Usage;',
        'import "./side.js";',
      ].join("\n"),
    );
  });

  it("leaves packages, .d.ts and non-relative specifiers alone", () => {
    const dts = [
      'import type { Context } from "hono";',
      'import type { JWTPayload } from "jose";',
      'export type { X } from "./x.js";',
      'import type { Y } from "./y.d.ts";',
      'const note = "see ./config.ts";',
    ].join("\n");
    expect(jsSpecifiers(dts)).toBe(dts);
  });
});
