/**
 * What vigil owns inside a Hugo site: where it writes, which files only carry freshness, and how
 * to tell its files from the owner's. The widget writer and `vigil run --commit` both go by this.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../pipeline/errors.ts";
import { DEFAULT_LENS, LENS_NAMES, type LensName } from "../schemas/lenses.ts";

/** Where things go inside the Hugo site (the design's contract). */
export const PATHS = {
  static: "static/vigil",
  /** Copies of the SVGs that shortcodes inline with `resources.Get` (static/ files are not resources). */
  assets: "assets/vigil",
  data: "data/vigil",
  shortcodes: "layouts/shortcodes",
  partials: "layouts/partials",
  /** The public record's snapshots and latest.json (`vigil publish --site`), for the blog to host. */
  publicData: "static/vigil/data",
} as const;

/**
 * Where a lens's files go: COVID-19's where they always were, another lens's (schemas/lenses.ts)
 * under the same names in a folder of its own (static/vigil/heat/, data/vigil/heat/, ...).
 */
export function lensPaths(lens: LensName): { static: string; assets: string; data: string } {
  const under = lens === DEFAULT_LENS ? "" : `/${lens}`;
  return { static: PATHS.static + under, assets: PATHS.assets + under, data: PATHS.data + under };
}

/**
 * Files rewritten by every successful run because they carry "last checked". On their own they are
 * not a change worth a rebuild or a commit; they ride along with the next real one.
 */
export const FRESHNESS_FILES: ReadonlySet<string> = new Set(
  LENS_NAMES.flatMap((lens) => [`${lensPaths(lens).data}/summary.json`, `${lensPaths(lens).data}/charts.json`]),
);

/**
 * Whether a file only carries freshness: one of FRESHNESS_FILES, or a chart's embed page, whose
 * "data as of" changes every night while its chart changes only with its SVG.
 */
export function carriesFreshnessOnly(path: string): boolean {
  return FRESHNESS_FILES.has(path) || /^static\/vigil\/embed\/(?:[a-z]+\/)?[a-z0-9-]+\/index\.html$/.test(path);
}

/** The folders of the lenses a widgets run is not given: kept as they are, never emptied by it. */
export function otherLensFolders(lenses: readonly LensName[]): string[] {
  return LENS_NAMES.filter((lens) => lens !== DEFAULT_LENS && !lenses.includes(lens)).flatMap((lens) => [
    ...Object.values(lensPaths(lens)),
    `${PATHS.static}/embed/${lens}`,
  ]);
}

/**
 * Folders that hold only what vigil writes: anything there that a widgets run does not produce is
 * removed, except in the public record's folder, which `vigil publish` keeps (snapshots readers
 * may still be downloading).
 */
export const OWNED_FOLDERS: readonly string[] = [PATHS.static, PATHS.assets, PATHS.data];
export const KEPT_FOLDERS: readonly string[] = [PATHS.publicData];

/** Shortcodes and partials are recognized by name, since they share folders with the owner's. */
const OWNED_LAYOUT = /^layouts\/(?:.+\/)?vigil[-_.][^/]*$/;

/** Whether a path (relative to the site's root, with forward slashes) is vigil's rather than the owner's. */
export function isVigilPath(path: string): boolean {
  return OWNED_FOLDERS.some((dir) => path === dir || path.startsWith(dir + "/")) || OWNED_LAYOUT.test(path);
}

/** What makes a folder a Hugo site's root: one of these configuration files, or config/_default/. */
export const HUGO_CONFIGS: readonly string[] = ["hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json", "config.toml", "config.yaml", "config.yml", "config.json"];

/** Whether `dir` is the root of a Hugo site. */
export function isHugoSite(dir: string): boolean {
  return HUGO_CONFIGS.some((name) => isFile(join(dir, name))) || isFolder(join(dir, "config", "_default"));
}

/**
 * Refuses a --site that is not the root of a Hugo site, before anything is written: vigil's
 * files in an empty folder, a notes folder or a site's content/ break the site or litter it.
 */
export function checkHugoSite(site: string): void {
  const flag = `--site ${site}`;
  const hint = "give the root of your Hugo site (the folder with hugo.toml or config.toml), with --site or VIGIL_SITE";
  if (!existsSync(site)) throw new UsageError(`${flag} does not exist`, { hint });
  if (!isFolder(site)) {
    const parent = dirname(resolve(site));
    const config = HUGO_CONFIGS.includes(basename(site)) && isHugoSite(parent);
    throw new UsageError(`${flag} is a file, not a folder`, { hint: config ? `give the site's folder: --site ${parent}` : hint });
  }
  if (isHugoSite(site)) return;
  const enclosing = siteAbove(resolve(site));
  throw new UsageError(`${flag} is not a Hugo site: it has no ${HUGO_CONFIGS.slice(0, 2).join(", ")} or the like, nor config/_default/`, {
    hint: enclosing ? `it is inside the Hugo site ${enclosing}: give its root, --site ${enclosing}` : `${hint}; \`hugo new site DIR\` makes one`,
  });
}

/** The nearest folder above `dir` that is a Hugo site, if any. */
function siteAbove(dir: string): string | undefined {
  for (let parent = dirname(dir); parent !== dir; dir = parent, parent = dirname(dir)) if (isHugoSite(parent)) return parent;
  return undefined;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isFolder(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/**
 * The site's baseURL from its Hugo configuration (the first of HUGO_CONFIGS, or config/_default/),
 * ending in "/": the embed code names absolute URLs. Undefined when none is set, or it is relative.
 */
export function hugoBaseUrl(site: string): string | undefined {
  const files = [...HUGO_CONFIGS.map((name) => join(site, name)), ...HUGO_CONFIGS.map((name) => join(site, "config", "_default", name))];
  for (const file of files) {
    if (!isFile(file)) continue;
    const text = readFileSync(file, "utf8");
    // TOML and YAML: a top-level `baseURL = "..."` or `baseURL: ...`; JSON: "baseURL": "..."
    const found = /^\s*"?baseURL"?\s*[=:]\s*["']?([^"'\s,#]+)/im.exec(text)?.[1];
    if (found === undefined) continue;
    // a relative baseURL ("/") names no host: the embed code cannot be absolute
    if (!URL.canParse(found)) return undefined;
    const url = new URL(found).href;
    return url.endsWith("/") ? url : `${url}/`;
  }
  return undefined;
}
