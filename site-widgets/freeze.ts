/**
 * Freezing: copy the site's current chart bundles, summary and memorial into a post's page
 * bundle (`content/posts/NAME/vigil/`). The shortcodes prefer that copy, so a published post keeps
 * showing what the data said when it was written, whatever later runs change.
 */
import { existsSync, statSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { renameIntoPlace, writeTemp } from "../pipeline/atomic.ts";
import { chartsManifestSchema, summarySchema } from "../schemas/widgets.ts";
import { checkContract, InternalError, UsageError, VigilError } from "../pipeline/errors.ts";
import type { Logger } from "../pipeline/log.ts";
import { json } from "./site-plan.ts";
import { PATHS } from "./site-paths.ts";

export interface FreezeOptions {
  site: string;
  /** The post's page bundle, relative to the site (content/posts/NAME) or absolute. */
  post: string;
  now: () => Date;
  log: Logger;
}

export const FROZEN_DIR = "vigil";

export async function freezePost(options: FreezeOptions): Promise<{ dir: string; files: string[] }> {
  const site = resolve(options.site);
  const post = isAbsolute(options.post) ? options.post : join(site, options.post);
  const fromContent = relative(join(site, "content"), post);
  if (fromContent === "" || fromContent.startsWith("..") || isAbsolute(fromContent)) {
    throw new UsageError(`--freeze ${options.post} is not a post under ${join(options.site, "content")}`);
  }
  if (!existsSync(post) || !statSync(post).isDirectory()) {
    const hint = existsSync(`${post}.md`)
      ? `make it a page bundle first: move ${options.post}.md to ${options.post}/index.md`
      : "give the folder of a page bundle, e.g. content/posts/NAME (with an index.md)";
    throw new VigilError(`${options.post} is not a page bundle`, { hint });
  }
  if (!(await readdir(post)).some((name) => /^index\.\w+$/.test(name))) {
    throw new VigilError(`${options.post} has no index.md, so Hugo would not treat it as a page bundle`, { hint: "name the post's file index.md" });
  }
  const target = join(post, FROZEN_DIR);
  if (existsSync(target)) {
    throw new VigilError(`${join(options.post, FROZEN_DIR)} already holds a frozen copy`, { hint: "a frozen post never changes; delete that folder first to freeze it again" });
  }

  const manifestPath = join(site, PATHS.data, "charts.json");
  if (!existsSync(manifestPath)) {
    throw new VigilError(`no widgets in ${options.site} to freeze`, { hint: "run `vigil widgets --site` first" });
  }
  const rewrite = "run `vigil widgets --site` again to rewrite vigil's files";
  const manifest = checkContract(chartsManifestSchema, await readJson(manifestPath), manifestPath, rewrite);
  const summaryPath = join(site, PATHS.data, "summary.json");
  const summary = checkContract(summarySchema, await readJson(summaryPath), summaryPath, rewrite);
  const copies: Array<[from: string, to: string]> = [];
  for (const chart of Object.values(manifest.charts)) {
    for (const name of [chart.svg, chart.svg_narrow, chart.spec, chart.csv]) copies.push([join(site, PATHS.static, name), name]);
  }
  for (const year of summary.memorial.years) copies.push([join(site, PATHS.data, "memorial", `${year}.json`), `memorial/${year}.json`]);
  copies.push([join(site, PATHS.data, "summary.json"), "summary.json"]);

  // Staged in a hidden folder and renamed into place: the post gets the whole copy or nothing.
  const staging = join(post, `.vigil-freeze-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    for (const [from, to] of copies) writeTemp(join(staging, to), await readFile(from));
    const frozen = { ...manifest, frozen_at: options.now().toISOString() };
    writeTemp(join(staging, "charts.json"), json(chartsManifestSchema, frozen, join(options.post, FROZEN_DIR, "charts.json")));
    renameIntoPlace(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const files = [...copies.map(([, to]) => to), "charts.json"].map((name) => `${FROZEN_DIR}/${name}`);
  options.log.info("freeze", `froze ${files.length} files into ${options.post}`, { post: options.post, files: files.length });
  return { dir: target, files };
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new InternalError(`${path} is not readable JSON: ${error instanceof Error ? error.message : String(error)}`, {
      hint: "run `vigil widgets --site` again to rewrite vigil's files",
    });
  }
}
