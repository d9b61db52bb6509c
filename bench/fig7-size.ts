/**
 * Figure 7: `src/index.ts` bundled for Workers (esbuild: bundle, minify, esm,
 * browser platform with the workerd conditions), gzipped, in KB. Also checks
 * that no `hono` made it into the bundle.
 */
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { here, report } from "./lib.ts";

export async function run(): Promise<Record<string, number>> {
  const result = await build({
    entryPoints: [here("../src/index.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const inputs = Object.keys(result.metafile.inputs);
  const hono = /hono/i.test(new TextDecoder().decode(code)) || inputs.some((input) => /hono/i.test(input));
  return {
    rootEntryGzipKB: gzipSync(code).length / 1024,
    rootEntryMinKB: code.length / 1024,
    rootEntryHasHono: hono ? 1 : 0,
    rootEntryInputs: inputs.length,
  };
}

if (import.meta.main) report(await run());
