/**
 * Figure 7: `src/index.ts` bundled for Workers (esbuild: bundle, minify, esm,
 * code splitting, browser platform with the workerd conditions), gzipped, in
 * KB: the entry chunk and the chunks it imports statically, what loading the
 * package costs. Chunks loaded by `import()` when first needed (providers,
 * metering code, spend holds, jose …) are reported apart. Also checks that
 * no `hono` made it into the bundle.
 */
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { here, report } from "./lib.ts";

export async function run(): Promise<Record<string, number>> {
  const result = await build({
    entryPoints: [here("../src/index.ts")],
    bundle: true,
    minify: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    outdir: here("./.size-out"),
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const outputs = result.metafile.outputs;
  const files = new Map(result.outputFiles.map((file) => [file.path, file.contents]));
  // chunks loaded by import() carry an entryPoint too: take the one of src/index.ts
  const entry = Object.keys(outputs).find((path) => outputs[path]?.entryPoint?.endsWith("src/index.ts"));
  if (entry === undefined) throw new Error("no entry chunk");
  // the entry and every chunk it reaches by static imports
  const loaded = new Set<string>();
  const visit = (path: string) => {
    if (loaded.has(path)) return;
    loaded.add(path);
    for (const imported of outputs[path]?.imports ?? []) if (imported.kind === "import-statement") visit(imported.path);
  };
  visit(entry);
  const bytesOf = (path: string) => files.get(here(`../${path}`)) ?? files.get(path) ?? new Uint8Array();
  let gzip = 0;
  let min = 0;
  let lazyGzip = 0;
  let hono = false;
  for (const path of Object.keys(outputs)) {
    const code = bytesOf(path);
    if (code.length === 0) throw new Error(`no output for ${path}`);
    if (/hono/i.test(new TextDecoder().decode(code))) hono = true;
    if (loaded.has(path)) {
      gzip += gzipSync(code).length;
      min += code.length;
    } else lazyGzip += gzipSync(code).length;
  }
  const inputs = Object.keys(result.metafile.inputs);
  if (inputs.some((input) => /hono/i.test(input))) hono = true;
  return {
    rootEntryGzipKB: gzip / 1024,
    rootEntryMinKB: min / 1024,
    rootEntryLazyGzipKB: lazyGzip / 1024,
    rootEntryHasHono: hono ? 1 : 0,
    rootEntryInputs: inputs.length,
  };
}

if (import.meta.main) report(await run());
