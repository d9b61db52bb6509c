/**
 * `npm run check:package` (CI runs it before `npm test`): the package as a
 * consumer gets it. Packs the tarball (`prepack` builds dist/), lints it with
 * publint and @arethetypeswrong/cli (ESM-only profile), then installs it into a
 * scratch project in a temp dir, offline from the npm cache, where a small Worker
 * type-checks with moduleResolution bundler and nodenext and bundles with
 * `wrangler deploy --dry-run`. Needs no network; the temp dir is removed after.
 * One line per step; exits non-zero on the first failure.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dirname, "..");
const bin = (name: string) => join(repo, "node_modules", ".bin", name);
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, unknown>;
};
const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8")) as {
  packages: Record<string, Record<string, unknown>>;
};

/** A consumer's Worker: the root entry and the Hono helpers, a blocked user handled. */
const WORKER = `import { Hono } from "hono";
import { Stoa, StoaChargeRequiredError, StoaProvider, VERSION, type Usage } from "@onstoa/sdk";
import { meteredFetch, stoa } from "@onstoa/sdk/hono";

const app = new Hono<{ Bindings: { STOA_API_KEY: string } }>();
app.use(stoa());
app.onError((error, c) => {
  if (error instanceof StoaChargeRequiredError) return c.json({ error: error.code, userId: error.userId }, 402);
  return c.json({ error: "internal" }, 500);
});
app.get("/", async (c) => {
  const fetch = meteredFetch(c, { provider: StoaProvider.OpenAI, userId: "user_1" });
  const response = await fetch("https://api.openai.com/v1/models");
  const usage: Usage | undefined = undefined;
  return c.json({ version: VERSION, status: response.status, usage, stoa: c.var.stoa instanceof Stoa });
});

export default app;
`;

/** The consumer's wrangler.toml: no Node compatibility, so the bundle needs none. */
const WRANGLER_TOML = `name = "consumer"
main = "worker.ts"
compatibility_date = "2026-11-01"
compatibility_flags = ["no_nodejs_compat"]
send_metrics = false
`;

const TSCONFIG = (moduleResolution: "bundler" | "nodenext") => ({
  compilerOptions: {
    target: "ES2023",
    lib: ["ES2023", "DOM", "DOM.Iterable"],
    module: moduleResolution === "bundler" ? "ESNext" : "NodeNext",
    moduleResolution,
    types: [],
    strict: true,
    verbatimModuleSyntax: true,
    noEmit: true,
    // our declarations are checked; hono's and jose's too
    skipLibCheck: false,
  },
  files: ["worker.ts"],
});

function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_HIDE_BANNER: "true",
        NO_COLOR: "1",
      },
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    console.error(
      `check-package: \`${[command, ...args].join(" ")}\` failed in ${cwd}\n${stdout ?? ""}${stderr ?? ""}`,
    );
    process.exit(1);
  }
}

function step(label: string, detail: string): void {
  console.log(`check-package: ${label.padEnd(28)} ${detail}`);
}

const scratch = mkdtempSync(join(tmpdir(), "stoa-package-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

// 1. the tarball, from no dist/: prepack builds it (its log line comes before npm's JSON)
rmSync(join(repo, "dist"), { recursive: true, force: true });
const packOutput = run("npm", ["pack", "--json", "--pack-destination", scratch], repo);
const packed = JSON.parse(packOutput.slice(packOutput.search(/^\[/m))) as {
  filename: string;
  files: { path: string }[];
}[];
const tarball = join(scratch, packed[0]?.filename ?? "");
const files = packed[0]?.files.map((f) => f.path) ?? [];
for (const required of ["dist/index.js", "dist/index.d.ts", "dist/hono/index.js", "dist/hono/index.d.ts"]) {
  if (!files.includes(required)) {
    console.error(`check-package: the tarball lacks ${required}`);
    process.exit(1);
  }
}
const dts = files.filter((f) => f.endsWith(".d.ts")).length;
step("npm pack", `${files.length} files (${dts} .d.ts), ${packed[0]?.filename}`);

// 2. the linters, on the tarball
run(bin("publint"), ["run", tarball, "--strict"], repo);
step("publint --strict", "ok");
run(bin("attw"), [tarball, "--profile", "esm-only", "--no-color", "--no-emoji", "--format", "ascii"], repo);
step("attw --profile esm-only", "ok (node16 from ESM, bundler)");

// 3. a consumer's project: the tarball and hono. npm keeps tarballs in its cache but
// not always the registry's metadata, so the project gets a lockfile made from ours
// (versions and integrity) and `npm ci --offline` installs it from the cache alone.
const consumer = join(scratch, "consumer");
mkdirSync(consumer);
const dependencies = { "@onstoa/sdk": `file:${tarball}`, hono: pkg.devDependencies.hono };
const locked = (name: string) => {
  const { dev: _dev, ...entry } = lock.packages[`node_modules/${name}`] ?? {};
  return entry;
};
const lockfile = {
  name: "consumer",
  lockfileVersion: 3,
  requires: true,
  packages: {
    "": { name: "consumer", dependencies },
    "node_modules/@onstoa/sdk": {
      version: pkg.version,
      resolved: `file:${tarball}`,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
    },
    ...Object.fromEntries(["hono", ...Object.keys(pkg.dependencies)].map((n) => [`node_modules/${n}`, locked(n)])),
  },
};
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
writeFileSync(join(consumer, "package.json"), json({ name: "consumer", private: true, type: "module", dependencies }));
writeFileSync(join(consumer, "package-lock.json"), json(lockfile));
writeFileSync(join(consumer, "worker.ts"), WORKER);
writeFileSync(join(consumer, "wrangler.toml"), WRANGLER_TOML);
run("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel", "error"], consumer);
step("npm ci --offline", `the tarball, hono ${pkg.devDependencies.hono}, ${Object.keys(pkg.dependencies).join(", ")}`);

// 4. the consumer type-checks with both resolutions a Worker project uses
for (const resolution of ["bundler", "nodenext"] as const) {
  writeFileSync(join(consumer, `tsconfig.${resolution}.json`), JSON.stringify(TSCONFIG(resolution), null, 2));
  run(bin("tsc"), ["-p", `tsconfig.${resolution}.json`], consumer);
  step(`tsc (${resolution})`, "ok, skipLibCheck off");
}

// 5. wrangler bundles it as a Worker, with no Node compatibility
run(bin("wrangler"), ["deploy", "--dry-run", "--outdir", "out"], consumer);
const bundle = join(consumer, "out", "worker.js");
if (!existsSync(bundle)) {
  console.error("check-package: wrangler wrote no out/worker.js");
  process.exit(1);
}
step("wrangler deploy --dry-run", `out/worker.js, ${(readFileSync(bundle).length / 1024).toFixed(1)} KiB`);
console.log("check-package: ok");
