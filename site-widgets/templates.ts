/** The files vigil copies into a site as they are: shortcodes, the head partial, the upgrade script, the stylesheet, the vega bundles. */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { projectPath } from "../pipeline/paths.ts";
import { PATHS } from "./site-paths.ts";
import { DEFAULT_LENS, LENS_NAMES } from "../schemas/lenses.ts";
import { InternalError } from "../pipeline/errors.ts";

/** A file of the site, by its path relative to the site root. */
export interface SiteFile {
  path: string;
  content: string | Uint8Array;
}

const here = (name: string) => projectPath("site-widgets", name);

/** The lens partial's default lens and the others, as schemas/lenses.ts has them. */
const LENS_LINE = /\{\{- \$default := "[a-z]+" \}\}\{\{ \$others := slice[^}]*-\}\}/;

/** A template with the lenses written in (the lens partial; any other is returned as it is). */
function withLenses(template: string): string {
  if (!template.includes("$others := slice")) return template;
  if (!LENS_LINE.test(template)) throw new InternalError("vigil-lens.html: the lenses are not where templates.ts writes them");
  const others = LENS_NAMES.filter((lens) => lens !== DEFAULT_LENS).map((lens) => JSON.stringify(lens));
  return template.replace(LENS_LINE, `{{- $default := ${JSON.stringify(DEFAULT_LENS)} }}{{ $others := slice ${others.join(" ")} -}}`);
}

export async function siteTemplates(): Promise<SiteFile[]> {
  const own: Array<[string, string]> = [
    ["shortcodes/vigil-chart.html", `${PATHS.shortcodes}/vigil-chart.html`],
    ["shortcodes/vigil-memorial.html", `${PATHS.shortcodes}/vigil-memorial.html`],
    ["shortcodes/vigil-stat.html", `${PATHS.shortcodes}/vigil-stat.html`],
    ["shortcodes/vigil-head.html", `${PATHS.partials}/vigil-head.html`],
    ["shortcodes/vigil-lens.html", `${PATHS.partials}/vigil-lens.html`],
    ["browser/upgrade.js", `${PATHS.static}/upgrade.js`],
    ["browser/embed.js", `${PATHS.static}/embed.js`],
    ["browser/embed-frame.js", `${PATHS.static}/embed-frame.js`],
    ["browser/vigil.css", `${PATHS.static}/vigil.css`],
  ];
  const files: SiteFile[] = await Promise.all(own.map(async ([from, to]) => ({ path: to, content: withLenses(await readFile(here(from), "utf8")) })));
  const require = createRequire(import.meta.url);
  const bundles: Array<[string, string]> = [
    ["vega", "vega.min.js"],
    ["vega-lite", "vega-lite.min.js"],
    ["vega-embed", "vega-embed.min.js"],
  ];
  for (const [pkg, file] of bundles) {
    // Each package's entry point sits in its build/ folder, beside the minified browser bundle.
    const content = await readFile(join(dirname(require.resolve(pkg)), file));
    files.push({ path: `${PATHS.static}/${file}`, content });
  }
  return files;
}
