/**
 * `writeWidgets`: read the database, build every widget file, write the ones that changed into
 * the Hugo site. `vigil widgets` and `vigil run` both call it.
 */
import { existsSync, statSync } from "node:fs";
import { DATASETS, datasetPageUrl, DEFAULTS } from "../schemas/config.ts";
import { openDatabase, requireDatabase } from "../pipeline/store/db.ts";
import { VigilError } from "../pipeline/errors.ts";
import { elapsed, type Logger } from "../pipeline/log.ts";
import { planSite } from "./site-plan.ts";
import { carriesFreshnessOnly, hugoBaseUrl, KEPT_FOLDERS, otherLensFolders, OWNED_FOLDERS } from "./site-paths.ts";
import { writeFilesAtomically } from "./files.ts";
import { lensEvents, readWidgetData, type Freshness, type WidgetData } from "./read.ts";
import { DEFAULT_LENS, orderedLenses, type LensName } from "../schemas/lenses.ts";
import type { ChartEvent } from "../schemas/events.ts";

export interface WriteWidgetsOptions {
  /** SQLite database, opened read-only. */
  db: string;
  /** Root of the Hugo site. */
  site: string;
  now: () => Date;
  log: Logger;
  /** Link shown as the source under each chart; by default the dataset page of the last run's portal. */
  sourceUrl?: string;
  /** Write the record as it stood after this successful run (runs.id) instead of as it stands. */
  asOf?: number;
  /** The site's own events (`--events FILE`), drawn with the built-in ones instead of those the database holds. */
  events?: readonly ChartEvent[];
  /** The public record's address (`--records-url`): the memorial links each day to its records there. */
  recordsUrl?: string;
  /** The data is generated (`vigil demo`): every source line and note says so. */
  generated?: boolean;
  /** Which deaths (schemas/lenses.ts), each in its own folders; COVID-19 alone by default. */
  lenses?: readonly LensName[];
}

export interface WidgetsResult {
  /** Whether what the site shows changed: any file beyond the freshness stamps (carriesFreshnessOnly). */
  changed: boolean;
  /** Paths (relative to the site) that were created or replaced. */
  written: string[];
  /** Paths removed from vigil's own folders because nothing produces them any more. */
  removed: string[];
  /** How many files already had the right bytes and were left alone. */
  unchanged: number;
}

export async function writeWidgets(options: WriteWidgetsOptions): Promise<WidgetsResult> {
  const { log } = options;
  requireSite(options.site);
  requireDatabase(options.db);
  let stage = performance.now();
  const lenses = orderedLenses(options.lenses ?? [DEFAULT_LENS]);
  const db = openDatabase(options.db, { readonly: true });
  const read: WidgetData[] = [];
  try {
    for (const lens of lenses) read.push(readWidgetData(db, options.asOf, lens.name));
  } finally {
    db.close();
  }
  const asOf = options.asOf === undefined ? "" : ` as of run ${options.asOf}`;
  for (const data of read) {
    if (options.events) data.events = lensEvents(data.lens, options.events);
    if (data.lens.name !== DEFAULT_LENS && data.freshness.dataset === DATASETS.covid) {
      throw new VigilError(`the ${data.lens.name} lens needs the whole case archive, and the database ${options.db} holds the COVID-19 view, which lists COVID-19 deaths only`, {
        hint: `ingest the archive (--dataset archive), or leave --lens ${data.lens.name} out`,
      });
    }
    if (data.daily.length === 0) {
      throw new VigilError(`the database ${options.db} holds no ${data.lens.deaths} to chart${asOf}`, {
        hint: data.lens.name === DEFAULT_LENS ? "run `vigil ingest` or `vigil backfill` first" : `the ${data.lens.name} lens needs the whole archive: ingest --dataset ${DATASETS.archive} first`,
      });
    }
    log.info("read", `${data.lens.name}: ${data.people.length} deaths over ${data.daily.length} days${asOf}`, {
      lens: data.lens.name,
      deaths: data.people.length,
      days: data.daily.length,
      provisional_from: data.provisional.provisional_from,
      as_of_run: options.asOf,
      ms: elapsed(stage),
    });
  }

  stage = performance.now();
  const { files, charts } = await planSite(read, options.sourceUrl ?? sourceUrlFor(read[0].freshness), {
    baseUrl: hugoBaseUrl(options.site) ?? "/",
    recordsUrl: options.recordsUrl,
    generated: options.generated ?? false,
  });
  log.info("render", `${charts.length} charts, ${files.length} files`, { charts: charts.length, files: files.length, ms: elapsed(stage) });

  stage = performance.now();
  const { written, removed, unchanged } = await writeFilesAtomically(options.site, files, OWNED_FOLDERS, [...KEPT_FOLDERS, ...otherLensFolders(lenses.map((lens) => lens.name))]);
  log.info("emit", `${written.length} written, ${removed.length} removed, ${unchanged} unchanged`, {
    site: options.site,
    written: written.length,
    removed: removed.length,
    unchanged,
    ms: elapsed(stage),
  });
  return { changed: removed.length > 0 || written.some((file) => !carriesFreshnessOnly(file)), written, removed, unchanged };
}

/** The dataset's page on the portal the data came from. */
export function sourceUrlFor(freshness: Pick<Freshness, "portal" | "dataset">): string {
  return datasetPageUrl(freshness.portal ?? DEFAULTS.portal, freshness.dataset ?? DEFAULTS.dataset);
}

export function requireSite(site: string): void {
  if (!existsSync(site) || !statSync(site).isDirectory()) {
    throw new VigilError(`the Hugo site ${site} does not exist`, { hint: "pass --site with the root of your Hugo site (the folder with hugo.toml or config.toml)" });
  }
}
