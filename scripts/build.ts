/**
 * `npm run build` (and `prepack`): a clean dist/ from `tsc -p tsconfig.build.json`,
 * then the relative `.ts` specifiers in the emitted declarations made `.js`.
 *
 * tsc's `rewriteRelativeImportExtensions` rewrites the `.js` files only: the
 * `.d.ts` files keep `from "./config.ts"` (microsoft/TypeScript#61037). TypeScript
 * itself resolves that, but editors, older TypeScript and tools that load a
 * declaration as a module do not; `./config.js` is what every one of them resolves.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dist = "dist";

/** `from "./x.ts"`, `import("../y.ts")`, `import "./z.ts"`: relative specifiers only, not `.d.ts`. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"'\n]*?)(?<!\.d)\.ts\2/g;

/** `text` with every relative `.ts` specifier in it ending in `.js`. */
export function jsSpecifiers(text: string): string {
  return text.replace(
    SPECIFIER,
    (_match, head: string, quote: string, path: string) => `${head}${quote}${path}.js${quote}`,
  );
}

function build(): void {
  rmSync(dist, { recursive: true, force: true });
  execFileSync("tsc", ["-p", "tsconfig.build.json"], { stdio: "inherit" });
  let files = 0;
  for (const file of readdirSync(dist, { recursive: true }) as string[]) {
    if (!file.endsWith(".d.ts")) continue;
    const path = join(dist, file);
    const before = readFileSync(path, "utf8");
    const after = jsSpecifiers(before);
    if (after !== before) writeFileSync(path, after);
    files++;
  }
  console.log(`build: dist/ with ${files} declaration files, relative specifiers .js`);
}

if (import.meta.main) build();
