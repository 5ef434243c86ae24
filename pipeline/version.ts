import { readFileSync } from "node:fs";
import { projectPath } from "./paths.ts";

/** The package version, recorded on every run. */
export const VERSION: string = JSON.parse(readFileSync(projectPath("package.json"), "utf8")).version;
