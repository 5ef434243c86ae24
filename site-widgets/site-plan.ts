/**
 * The plan of the site: every file `vigil widgets` owns, computed and checked against its schema
 * before a single byte is written, so a failure leaves the site as it was.
 */
import type { z } from "zod";
import { chartsManifestSchema, memorialYearSchema, summarySchema, vegaLiteSpecSchema, type ChartId, type ChartsManifest, type MemorialYear } from "../schemas/widgets.ts";
import { EVENT_COLUMNS } from "../schemas/events.ts";
import { COLUMN_LABELS, firstSentence, SVG_NARROW, toCsv, type BuiltChart, type ChartDraft } from "./chart.ts";
import { checkContract, InternalError } from "../pipeline/errors.ts";
import { draftCharts } from "./chart-registry.ts";
import { memorialYears } from "./memorial.ts";
import type { Freshness, WidgetData } from "./read.ts";
import { escapeXml as escape, renderSvg } from "./render-svg.ts";
import { embedCode, embedFiles } from "./embed.ts";
import { lensPaths, PATHS } from "./site-paths.ts";
import { DEFAULT_LENS, type LensName } from "../schemas/lenses.ts";
import { buildSummary, dataAsOf, SOURCE_NAME } from "./summary.ts";
import { GENERATED_NOTE, GENERATED_SOURCE } from "./notes.ts";
import { siteTemplates, type SiteFile } from "./templates.ts";

export type { SiteFile };

/** The dated events the time charts mark, in static/vigil/ beside the charts' own CSVs. */
export const EVENTS_FILE = "events.csv";

export const chartFiles = (id: ChartId) => ({ svg: `${id}.svg`, svg_narrow: `${id}.narrow.svg`, spec: `${id}.vl.json`, csv: `${id}.csv` });

export type { BuiltChart };

export async function buildChart(draft: ChartDraft): Promise<BuiltChart> {
  return { draft, svg: await renderSvg(draft), narrowSvg: await renderSvg(draft, SVG_NARROW), spec: json(vegaLiteSpecSchema, draft.spec, `${PATHS.static}/${chartFiles(draft.id).spec}`), csv: toCsv(draft.columns, draft.rows) };
}

/** What the site's files say beyond the data: where the site and its public record live, whether the data is made up. */
export interface SiteOptions {
  /** The site's base URL (Hugo's baseURL, ending in "/"), which the embed code names; "/" without one. */
  baseUrl: string;
  /** The public record's address (`--records-url`), where the memorial links each day's records. */
  recordsUrl?: string;
  /** Generated data (`vigil demo`): every source line and note says so. */
  generated: boolean;
}

const DEFAULT_SITE: SiteOptions = { baseUrl: "/", generated: false };

export function buildManifest(charts: readonly ChartDraft[], freshness: Freshness, sourceUrl: string, site: SiteOptions = DEFAULT_SITE, lens: LensName = DEFAULT_LENS): ChartsManifest {
  const { baseUrl, generated } = site;
  return {
    schema_version: 1,
    source_name: generated ? GENERATED_SOURCE : SOURCE_NAME,
    source_url: sourceUrl,
    data_as_of_text: dataAsOf(freshness),
    data_last_changed: freshness.data_last_changed,
    last_checked: freshness.last_checked,
    frozen_at: null,
    charts: Object.fromEntries(
      charts.map((c) => [
        c.id,
        {
          embed_code: embedCode(baseUrl, c.id, c.title, lens),
          headline: firstSentence(c.description),
          title: c.title,
          columns: c.columns.map((name) => ({ name, label: columnLabel(name) })),
          notes: generated ? `${GENERATED_NOTE} ${c.notes}` : c.notes,
          description: c.description,
          ...chartFiles(c.id),
        },
      ]),
    ) as ChartsManifest["charts"],
  };
}

/**
 * Every file `vigil widgets` owns in the site for the lenses of `data` (one WidgetData each, COVID-19's
 * first when it is one of them), computed and validated, nothing written yet: each lens's files in its
 * own folders (lensPaths), the shortcodes and scripts once.
 */
export async function planSite(data: WidgetData | readonly WidgetData[], sourceUrl: string, site: SiteOptions = DEFAULT_SITE): Promise<{ files: SiteFile[]; charts: BuiltChart[] }> {
  const files: SiteFile[] = [];
  const charts: BuiltChart[] = [];
  for (const lens of Array.isArray(data) ? data : [data as WidgetData]) {
    const planned = await planLens(lens, sourceUrl, site);
    files.push(...planned.files);
    charts.push(...planned.charts);
  }
  files.push(...(await siteTemplates()));
  return { files, charts };
}

/** One lens's files: its charts, events, memorial, summary, manifest and embeds. */
async function planLens(data: WidgetData, sourceUrl: string, site: SiteOptions): Promise<{ files: SiteFile[]; charts: BuiltChart[] }> {
  const files: SiteFile[] = [];
  const paths = lensPaths(data.lens.name);
  const drafts = draftCharts(data);
  const charts = await Promise.all(drafts.map(buildChart));
  for (const chart of charts) {
    const names = chartFiles(chart.draft.id);
    files.push(
      { path: `${paths.static}/${names.svg}`, content: chart.svg },
      { path: `${paths.assets}/${names.svg}`, content: chart.svg },
      { path: `${paths.static}/${names.svg_narrow}`, content: chart.narrowSvg },
      { path: `${paths.assets}/${names.svg_narrow}`, content: chart.narrowSvg },
      { path: `${paths.static}/${names.spec}`, content: chart.spec },
      { path: `${paths.static}/${names.csv}`, content: chart.csv },
      // the shortcode reads it with resources.Get for the data table under the chart
      { path: `${paths.assets}/${names.csv}`, content: chart.csv },
    );
  }
  // every event, drawn or not, in the format `--events` reads: the list behind the dashed lines
  files.push({ path: `${paths.static}/${EVENTS_FILE}`, content: toCsv(EVENT_COLUMNS, data.events) });
  const memorial = memorialYears(data.people, data.lens);
  for (const [year, days] of memorial) {
    files.push({ path: `${paths.data}/memorial/${year}.json`, content: memorialJson(days, `${paths.data}/memorial/${year}.json`) });
  }
  const manifest = buildManifest(drafts, data.freshness, sourceUrl, site, data.lens.name);
  files.push(
    { path: `${paths.data}/summary.json`, content: json(summarySchema, buildSummary(data, sourceUrl, memorial, site), `${paths.data}/summary.json`) },
    { path: `${paths.data}/charts.json`, content: json(chartsManifestSchema, manifest, `${paths.data}/charts.json`) },
    ...embedFiles(charts, { baseUrl: site.baseUrl, manifest, lens: data.lens.name }, (chart) => dataTable(chart.draft, manifest)),
  );
  return { files, charts };
}

/** The chart's data as an HTML table in a collapsed <details>, as the chart shortcode shows it. */
function dataTable(draft: ChartDraft, manifest: ChartsManifest): string {
  const entry = manifest.charts[draft.id];
  const head = entry.columns.map((c) => `<th scope="col">${escape(c.label)}</th>`).join("");
  const body = draft.rows
    .map((row) => `<tr>${draft.columns.map((c, i) => (i === 0 ? `<th scope="row">${cell(row[c])}</th>` : `<td>${cell(row[c])}</td>`)).join("")}</tr>`)
    .join("\n");
  return (
    `<details class="vigil-chart__table"><summary>Show the data as a table</summary>\n` +
    `<div class="vigil-chart__scroll" role="region" aria-label="${escape(entry.title)}: the data" tabindex="0"><table>\n` +
    `<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div></details>`
  );
}

function cell(value: string | number | null | undefined): string {
  return value === null || value === undefined ? "" : escape(String(value));
}

function columnLabel(name: string): string {
  const label = COLUMN_LABELS[name];
  if (!label) throw new InternalError(`site-widgets/chart.ts: column ${name} has no label for the data table`, { hint: "add it to COLUMN_LABELS" });
  return label;
}

/** Pretty JSON, checked against its contract first; keys keep the order they were written in. */
export function json<S extends z.ZodType>(schema: S, value: z.input<S>, file: string): string {
  checkContract(schema, value, file);
  return JSON.stringify(value, null, 2) + "\n";
}

/** One day per line: a year of ~7,000 people stays small and diffs stay readable. */
function memorialJson(year: MemorialYear, file: string): string {
  checkContract(memorialYearSchema, year, file);
  const lines = Object.entries(year).map(([date, day]) => `${JSON.stringify(date)}:${JSON.stringify(day)}`);
  return `{\n${lines.join(",\n")}\n}\n`;
}
