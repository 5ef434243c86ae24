#!/usr/bin/env node
// Runs the build of vigil's TypeScript sources in dist/ (`npm run build`, which `npm ci` runs) while
// it matches the sources; otherwise, or with VIGIL_BUILD=off (stack traces then name the .ts lines),
// the sources themselves through tsx.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { currentBuild } from "./build.js";

const dist = process.env.VIGIL_BUILD === "off" ? undefined : currentBuild();
let main;
if (dist) {
  ({ main } = await import(pathToFileURL(join(dist, "cli.js")).href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../pipeline/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
