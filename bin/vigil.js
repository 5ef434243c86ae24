#!/usr/bin/env node
// Runs the bundle of vigil's TypeScript sources (bin/bundle.js), built again first if a source has
// changed; when no bundle can be built, or with VIGIL_BUNDLE=off (stack traces then name the .ts
// lines), the sources themselves through tsx. No build step either way.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBundle } from "./bundle.js";

const bundle = process.env.VIGIL_BUNDLE === "off" ? undefined : await ensureBundle();
let main;
if (bundle) {
  // the backfill's parsing workers start from the bundle too (pipeline/csv-pool.ts)
  globalThis[Symbol.for("vigil.bundle")] = bundle;
  ({ main } = await import(pathToFileURL(join(bundle, "cli.js")).href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../pipeline/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
