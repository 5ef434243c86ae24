/**
 * `npm run build` (run by `npm ci` and `npm install` through `prepare`): vigil's TypeScript sources
 * bundled into plain JavaScript in dist/ with esbuild, so that a command starts without compiling
 * or resolving TypeScript, and a backfill's parsing worker without a TypeScript loader.
 *
 * dist/build.json records the sources' key (their paths and modification times). bin/vigil.js runs
 * dist/ only while that key still matches, and the sources through tsx otherwise: an edited source
 * is never shadowed by an older build, and nothing is built behind the user's back.
 *
 * The bundle's files sit one folder below the project's root, as the sources' modules do, so paths
 * found from a module's own URL (pipeline/paths.ts) are the same in both.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DIST = join(ROOT, "dist");
const SOURCE_DIRS = ["pipeline", "schemas", "site-widgets", "datasette", "fixtures"];
const ENTRIES = { cli: "pipeline/cli/main.ts", worker: "pipeline/backfill/csv/worker.ts" };
/** Packages left in node_modules: native (better-sqlite3), loaded only to draw charts, or only for development. */
const EXTERNAL = ["better-sqlite3", "vega", "vega-lite", "vega-embed", "@observablehq/plot", "linkedom", "esbuild", "tsx", "cli-progress"];

/** The sources' key: what a build is made from, and when each was last changed. */
export function sourceKey(root = ROOT) {
  const hash = createHash("sha1");
  const add = (path) => hash.update(`${relative(root, path)} ${statSync(path).mtimeMs}\n`);
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules") walk(path);
      } else if (entry.name.endsWith(".ts")) {
        add(path);
      }
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) walk(join(root, dir));
  for (const file of ["package.json", "package-lock.json"]) if (existsSync(join(root, file))) add(join(root, file));
  add(fileURLToPath(import.meta.url));
  return hash.digest("hex").slice(0, 16);
}

/** dist/ when it was built from the sources as they are now; undefined otherwise. */
export function currentBuild(dist = DIST) {
  try {
    const { key } = JSON.parse(readFileSync(join(dist, "build.json"), "utf8"));
    return key === sourceKey() && existsSync(join(dist, "cli.js")) ? dist : undefined;
  } catch {
    return undefined;
  }
}

/**
 * zod's messages in every other language (`z.locales`, some 50 modules that vigil never uses) left
 * out: every command and every parsing worker loads zod, and they were half of its bundle.
 */
const ZOD_WITHOUT_LOCALES = {
  name: "zod-without-locales",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (args.importer.includes(`${"node_modules"}/zod/`) ? { path: args.importer, namespace: "zod-locales" } : undefined));
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

/** Builds dist/ afresh: into a new folder first, then swapped in whole. */
export async function build() {
  const { build: esbuild } = await import("esbuild");
  const key = sourceKey();
  const building = `${DIST}.building-${process.pid}`;
  const old = `${DIST}.old-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  await esbuild({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: building,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // The small pure-JavaScript packages every command loads (undici, zod, ...) are bundled in: one
    // file read instead of hundreds, which halves the start-up of a command. Native and large,
    // rarely loaded ones stay in node_modules.
    external: EXTERNAL,
    // bundled CommonJS packages (undici) require() Node's own modules
    banner: { js: 'import { createRequire as vigilCreateRequire } from "node:module"; const require = vigilCreateRequire(import.meta.url);' },
    logLevel: "warning",
    plugins: [ZOD_WITHOUT_LOCALES],
  });
  writeFileSync(join(building, "build.json"), JSON.stringify({ key }) + "\n");
  if (existsSync(DIST)) renameSync(DIST, old);
  renameSync(building, DIST);
  rmSync(old, { recursive: true, force: true });
  return DIST;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const dir = await build();
  process.stdout.write(`vigil: built ${relative(ROOT, dir)}/ in ${Math.round(performance.now() - started)} ms\n`);
}
