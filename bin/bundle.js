/**
 * vigil's sources bundled into plain JavaScript (esbuild, the compiler tsx itself uses), so that a
 * command starts without compiling or resolving TypeScript: `vigil status` in about half the time,
 * and a backfill's parsing worker without a TypeScript loader of its own.
 *
 * The bundle lives in dist/<key>/, where the key names the sources it was built from (their paths
 * and modification times). `npm ci` builds it (the `prepare` script); bin/vigil.js builds it again
 * whenever a source has changed since, and runs the sources through tsx when it cannot (a read-only
 * install with stale sources, say). Each module keeps its own import.meta.url, so files found next
 * to the sources (package.json, datasette/metadata.yml, the fixture site) are found as before.
 *
 * Run as a script (`node bin/bundle.js`) it builds the bundle and prints where.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = join(ROOT, "dist");
const SOURCE_DIRS = ["pipeline", "schemas", "site-widgets", "datasette", "fixtures"];
const ENTRIES = { cli: "pipeline/cli.ts", "csv-worker": "pipeline/csv-worker.ts" };
/** Bundles kept, the newest included: a command still running from an older one may load more of it. */
const KEEP = 3;

/** The sources' key: what the bundle is built from, and when each was last changed. */
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

/** Every module keeps the URL of its source file, not the bundle's. */
const sourceUrls = {
  name: "source-urls",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8").replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
      loader: "ts",
    }));
  },
};

/**
 * The directory of an up-to-date bundle, built now if need be; undefined when none can be had.
 * `quiet` (the default) swallows build failures: the caller then runs the sources through tsx.
 */
export async function ensureBundle({ quiet = true } = {}) {
  try {
    const dir = join(DIST, sourceKey());
    if (existsSync(join(dir, "cli.js"))) return dir;
    const { build } = await import("esbuild");
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    await build({
      absWorkingDir: ROOT,
      entryPoints: ENTRIES,
      outdir: building,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      plugins: [sourceUrls],
      logLevel: "silent",
    });
    try {
      renameSync(building, dir);
    } catch (error) {
      // another vigil built the same bundle first: use that one
      rmSync(building, { recursive: true, force: true });
      if (!existsSync(join(dir, "cli.js"))) throw error;
    }
    try {
      prune(dir);
    } catch {
      // old bundles left behind cost disk space, nothing else
    }
    return dir;
  } catch (error) {
    if (!quiet) throw error;
    return undefined;
  }
}

/** Removes all but the newest few bundles, and builds abandoned half-way (older than ten minutes). */
function prune(current) {
  const others = readdirSync(DIST)
    .filter((name) => join(DIST, name) !== current)
    .map((name) => ({ path: join(DIST, name), mtime: statSync(join(DIST, name)).mtimeMs, building: name.includes(".building-") }))
    .sort((a, b) => b.mtime - a.mtime);
  const stale = others.filter((o) => o.building && Date.now() - o.mtime > 10 * 60_000);
  const old = others.filter((o) => !o.building).slice(KEEP - 1);
  for (const { path } of [...stale, ...old]) rmSync(path, { recursive: true, force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = await ensureBundle({ quiet: false });
  process.stdout.write(`vigil: bundled into ${relative(ROOT, dir)}\n`);
}
