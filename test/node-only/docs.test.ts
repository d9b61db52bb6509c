/**
 * Every TypeScript block of README.md and docs/**\/*.md type-checks: each
 * ```ts block becomes its own module in `.docs-check/` (gitignored), after
 * the prelude of the `<!-- docs-check … -->` comment just before it (the
 * declarations the block assumes: `declare const userId: string;`), and
 * `tsc --noEmit` checks them with the repo's settings, `@onstoa/sdk` and
 * `@onstoa/sdk/hono` mapped to src/. A block that is not TypeScript
 * (shell, TOML, output) is not fenced as `ts`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = join(ROOT, ".docs-check");

/** One ```ts block: where it is, and the module made of it. */
interface Block {
  page: string;
  line: number;
  source: string;
}

/** README.md and every page under docs/, repo-relative. */
function pages(): string[] {
  const found = ["README.md", "CONTRIBUTING.md"];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) found.push(path);
    }
  };
  walk("docs");
  return found.sort();
}

/** The ```ts blocks of `page`, each with the prelude of the comment right before it. */
function blocksOf(page: string): Block[] {
  const lines = readFileSync(join(ROOT, page), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] ?? "")) continue;
    const end = lines.indexOf("```", i + 1);
    if (end < 0) throw new Error(`${page}:${i + 1}: unclosed code block`);
    let prelude = "";
    let before = i - 1;
    while (before >= 0 && lines[before]?.trim() === "") before--;
    if (lines[before]?.trim() === "-->") {
      const start = lines.lastIndexOf("<!-- docs-check", before);
      if (start >= 0 && lines.slice(start, before).every((l) => !l.includes("```"))) {
        prelude = lines.slice(start + 1, before).join("\n");
      }
    }
    blocks.push({
      page,
      line: i + 1,
      source: `${prelude}\n// ---- ${page}:${i + 1}\n${lines.slice(i + 1, end).join("\n")}\nexport {};\n`,
    });
    i = end;
  }
  return blocks;
}

/** The module file name of a block: its page and line, so tsc's errors say where. */
const fileOf = (block: Block): string => `${block.page.replace(/[/.]/g, "_")}_L${block.line}.ts`;

describe("the docs' code blocks", () => {
  const blocks = pages().flatMap(blocksOf);

  it("are there: the README's and every page's", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(15);
    expect(new Set(blocks.map((b) => b.page))).toContain("README.md");
  });

  it("type-check with the project's settings (tsc --noEmit)", () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    for (const block of blocks) writeFileSync(join(OUT, fileOf(block)), block.source);
    const base = relative(OUT, ROOT).replaceAll("\\", "/");
    writeFileSync(
      join(OUT, "tsconfig.json"),
      JSON.stringify(
        {
          extends: `${base}/tsconfig.json`,
          compilerOptions: {
            paths: {
              "@onstoa/sdk": [`${base}/src/index.ts`],
              "@onstoa/sdk/hono": [`${base}/src/hono/index.ts`],
            },
          },
          include: ["*.ts", `${base}/types`],
          exclude: [],
        },
        null,
        2,
      ),
    );
    const tsc = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "-p", join(OUT, "tsconfig.json")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe("");
    expect(tsc.status).toBe(0);
  }, 120_000);

  it("link only to files that exist", () => {
    const broken: string[] = [];
    for (const page of pages()) {
      const text = readFileSync(join(ROOT, page), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target) || target.startsWith("#")) continue;
        const path = join(ROOT, dirname(page), target.split("#")[0] ?? "");
        if (!existsSync(path)) broken.push(`${page}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("run the Deno example with the permissions its header names", () => {
    const header = /^ \* {3}(deno run .*)$/m.exec(readFileSync(join(ROOT, "examples/deno.ts"), "utf8"))?.[1];
    expect(header).toBe("deno run --allow-net --allow-env examples/deno.ts");
    const page = readFileSync(join(ROOT, "docs/runtimes/deno.md"), "utf8");
    expect(page).toContain(`\`${header}\``);
    expect(page.match(/deno run [^`]*/g)).toEqual([header]);
  });
});
