/**
 * From widget data to the files of the site: charts, summary, memorial, shortcodes, self-hosted
 * scripts. Everything is computed and checked against its schema here, before a single byte is
 * written, so a failure leaves the site as it was.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { z } from "zod";
import {
  CHART_IDS,
  chartsManifestSchema,
  memorialYearSchema,
  summarySchema,
  vegaLiteSpecSchema,
  type ChartId,
  type ChartsManifest,
  type MemorialYear,
  RATE_KEYS,
  type RateKey,
  type RatesSummary,
  type Summary,
} from "../schemas/widgets.ts";
import { toCsv, maxBy, type ChartBuilder, type ChartDraft } from "./chart.ts";
import { EVENT_COLUMNS } from "../schemas/events.ts";
import { cumulativeDeaths } from "./charts/cumulative-deaths.ts";
import { dailyDeaths } from "./charts/daily-deaths.ts";
import { deathsByAgeGroup } from "./charts/deaths-by-age-group.ts";
import { deathsByMonth } from "./charts/deaths-by-month.ts";
import { deathsByRaceEthnicity } from "./charts/deaths-by-race-ethnicity.ts";
import { deathsPer100kByRaceEthnicity } from "./charts/deaths-per-100k-by-race-ethnicity.ts";
import { dateInWords, deaths, formatAverage, formatCount, formatRate, instantDayInWords, instantInWords } from "./format.ts";
import { memorialYears } from "./memorial.ts";
import { ALL_RESIDENTS, computeRates, type GroupRate, type Rates } from "./rates.ts";
import type { Freshness, WidgetData } from "./read.ts";
import { renderSvg } from "./render-svg.ts";
import { PATHS } from "./site-paths.ts";
import { projectPath } from "../pipeline/paths.ts";
import { POPULATION_AS_OF } from "../pipeline/store/population.ts";
import { checkContract } from "../pipeline/errors.ts";

export const CHARTS: Record<ChartId, ChartBuilder> = {
  "daily-deaths": dailyDeaths,
  "cumulative-deaths": cumulativeDeaths,
  "deaths-by-age-group": deathsByAgeGroup,
  "deaths-by-race-ethnicity": deathsByRaceEthnicity,
  "deaths-per-100k-by-race-ethnicity": deathsPer100kByRaceEthnicity,
  "deaths-by-month": deathsByMonth,
};

export const SOURCE_NAME = "Cook County Medical Examiner";

/** A file of the site, by its path relative to the site root. */
export interface SiteFile {
  path: string;
  content: string | Uint8Array;
}

/** The dated events the time charts mark, in static/vigil/ beside the charts' own CSVs. */
export const EVENTS_FILE = "events.csv";

export const chartFiles = (id: ChartId) => ({ svg: `${id}.svg`, spec: `${id}.vl.json`, csv: `${id}.csv` });

export interface BuiltChart {
  draft: ChartDraft;
  svg: string;
  spec: string;
  csv: string;
}

export function draftCharts(data: WidgetData): ChartDraft[] {
  return CHART_IDS.map((id) => CHARTS[id](data));
}

export async function buildChart(draft: ChartDraft): Promise<BuiltChart> {
  return { draft, svg: await renderSvg(draft), spec: json(vegaLiteSpecSchema, draft.spec, `${PATHS.static}/${chartFiles(draft.id).spec}`), csv: toCsv(draft.columns, draft.rows) };
}

export function buildSummary(data: WidgetData, sourceUrl: string, memorial: Map<string, MemorialYear>): Summary {
  const { daily, freshness } = data;
  const figure = (d: (typeof daily)[number]) => ({ date: d.date, date_text: dateInWords(d.date), deaths: d.deaths, deaths_7day_avg: d.deaths_7day_avg });
  const total = daily.at(-1)!.cumulative_deaths;
  const peak = maxBy(daily, (d) => d.deaths);
  const peakAvg = maxBy(daily, (d) => d.deaths_7day_avg);
  const first = daily[0].date;
  const latest = daily.at(-1)!.date;
  const daysWithDeaths = daily.filter((d) => d.deaths > 0).length;
  const changed = freshness.data_last_changed ? instantInWords(freshness.data_last_changed) : null;
  const checked = freshness.last_checked ? instantInWords(freshness.last_checked) : null;
  const rates = computeRates(data.people, data.population);
  return {
    schema_version: 1,
    total_deaths: total,
    first_death_date: first,
    latest_death_date: latest,
    days_with_deaths: daysWithDeaths,
    peak_day: figure(peak),
    peak_7day_avg: figure(peakAvg),
    recent_days: daily.slice(-14).map(figure),
    data_last_changed: freshness.data_last_changed,
    data_last_changed_text: changed,
    last_checked: freshness.last_checked,
    last_checked_text: checked,
    run_id: freshness.run_id,
    source_url: sourceUrl,
    memorial: { years: [...memorial.keys()], days: [...memorial.values()].reduce((n, year) => n + Object.keys(year).length, 0) },
    rates: ratesSummary(rates),
    stats: {
      total_deaths: formatCount(total),
      first_death_date: dateInWords(first),
      latest_death_date: dateInWords(latest),
      days_with_deaths: formatCount(daysWithDeaths),
      peak_day: `${deaths(peak.deaths)} on ${dateInWords(peak.date)}`,
      peak_day_date: dateInWords(peak.date),
      peak_day_deaths: formatCount(peak.deaths),
      peak_7day_avg: formatAverage(peakAvg.deaths_7day_avg),
      peak_7day_avg_date: dateInWords(peakAvg.date),
      data_last_changed: changed ?? "not yet",
      last_checked: checked ?? "not yet",
      ...rateStats(rates),
    },
  };
}

/** The rates for the summary: every group's figures, and all residents' by age group. */
function ratesSummary(rates: Rates): RatesSummary {
  const figures = ({ key: _, ...rate }: GroupRate) => rate;
  return {
    population_as_of: POPULATION_AS_OF,
    standard_population: "2000 U.S. standard population (NCHS), 11 age groups",
    all: figures(rates.all),
    groups: rates.groups.map(figures),
    by_age_group: rates.byAgeGroup.filter((r) => r.race_ethnicity === ALL_RESIDENTS).map(({ race_ethnicity: _, ...r }) => r),
  };
}

type RateStat = `${"crude" | "age_adjusted"}_per_100k_${RateKey}`;

/** crude_per_100k_black, age_adjusted_per_100k_black, ...: one decimal, like "312.4". */
function rateStats(rates: Rates): Record<RateStat, string> {
  const stats: Partial<Record<RateStat, string>> = {};
  for (const group of [rates.all, ...rates.groups]) {
    const key = RATE_KEYS.find((k) => k === group.key);
    if (key === undefined || group.crude_per_100k === null || group.age_adjusted_per_100k === null) continue;
    stats[`crude_per_100k_${key}`] = formatRate(group.crude_per_100k);
    stats[`age_adjusted_per_100k_${key}`] = formatRate(group.age_adjusted_per_100k);
  }
  // a group missing here fails the summary's contract, which names it
  return stats as Record<RateStat, string>;
}

/** "Data as of November 26, 2026 (last changed March 2, 2024)." in Chicago days. */
export function dataAsOf(freshness: Pick<Freshness, "data_last_changed" | "last_checked">): string {
  const checked = freshness.last_checked ? instantDayInWords(freshness.last_checked) : null;
  const changed = freshness.data_last_changed ? instantDayInWords(freshness.data_last_changed) : null;
  if (!checked) return "Data as of the last load.";
  return changed && changed !== checked ? `Data as of ${checked} (last changed ${changed}).` : `Data as of ${checked}.`;
}

export function buildManifest(charts: readonly ChartDraft[], freshness: Freshness, sourceUrl: string): ChartsManifest {
  return {
    schema_version: 1,
    source_name: SOURCE_NAME,
    source_url: sourceUrl,
    data_as_of_text: dataAsOf(freshness),
    data_last_changed: freshness.data_last_changed,
    last_checked: freshness.last_checked,
    frozen_at: null,
    charts: Object.fromEntries(
      charts.map((c) => [c.id, { title: c.title, description: c.description, ...chartFiles(c.id) }]),
    ) as ChartsManifest["charts"],
  };
}

/** Every file `vigil widgets` owns in the site, computed and validated, nothing written yet. */
export async function planSite(data: WidgetData, sourceUrl: string): Promise<{ files: SiteFile[]; charts: BuiltChart[] }> {
  const files: SiteFile[] = [];
  const drafts = draftCharts(data);
  const charts = await Promise.all(drafts.map(buildChart));
  for (const chart of charts) {
    const names = chartFiles(chart.draft.id);
    files.push(
      { path: `${PATHS.static}/${names.svg}`, content: chart.svg },
      { path: `${PATHS.assets}/${names.svg}`, content: chart.svg },
      { path: `${PATHS.static}/${names.spec}`, content: chart.spec },
      { path: `${PATHS.static}/${names.csv}`, content: chart.csv },
    );
  }
  // every event, drawn or not, in the format `--events` reads: the list behind the dashed lines
  files.push({ path: `${PATHS.static}/${EVENTS_FILE}`, content: toCsv(EVENT_COLUMNS, data.events) });
  const memorial = memorialYears(data.people);
  for (const [year, days] of memorial) {
    files.push({ path: `${PATHS.data}/memorial/${year}.json`, content: memorialJson(days, `${PATHS.data}/memorial/${year}.json`) });
  }
  files.push(
    { path: `${PATHS.data}/summary.json`, content: json(summarySchema, buildSummary(data, sourceUrl, memorial), `${PATHS.data}/summary.json`) },
    { path: `${PATHS.data}/charts.json`, content: json(chartsManifestSchema, buildManifest(drafts, data.freshness, sourceUrl), `${PATHS.data}/charts.json`) },
  );
  files.push(...(await siteTemplates()));
  return { files, charts };
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

const here = (name: string) => projectPath("site-widgets", name);

/** Shortcodes, the head partial, the upgrade script, the stylesheet and the vega bundles. */
export async function siteTemplates(): Promise<SiteFile[]> {
  const own: Array<[string, string]> = [
    ["shortcodes/vigil-chart.html", `${PATHS.shortcodes}/vigil-chart.html`],
    ["shortcodes/vigil-memorial.html", `${PATHS.shortcodes}/vigil-memorial.html`],
    ["shortcodes/vigil-stat.html", `${PATHS.shortcodes}/vigil-stat.html`],
    ["shortcodes/vigil-head.html", `${PATHS.partials}/vigil-head.html`],
    ["browser/upgrade.js", `${PATHS.static}/upgrade.js`],
    ["browser/vigil.css", `${PATHS.static}/vigil.css`],
  ];
  const files: SiteFile[] = await Promise.all(own.map(async ([from, to]) => ({ path: to, content: await readFile(here(from), "utf8") })));
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
