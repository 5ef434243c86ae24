/**
 * What vigil owns inside a Hugo site: where it writes, which files only carry freshness, and how
 * to tell its files from the owner's. The widget writer and `vigil run --commit` both go by this.
 */

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
 * Files rewritten by every successful run because they carry "last checked". On their own they are
 * not a change worth a rebuild or a commit; they ride along with the next real one.
 */
export const FRESHNESS_FILES: ReadonlySet<string> = new Set([`${PATHS.data}/summary.json`, `${PATHS.data}/charts.json`]);

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
