import { readFileSync } from "node:fs";

/** The package version, recorded on every run. */
export const VERSION: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
