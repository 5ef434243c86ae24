/**
 * The JSON files `vigil widgets` writes into a Hugo site: the contract the shortcodes and the
 * browser script rely on. Every file is checked against its schema before it is written, so a
 * shortcode never reads a half-formed or drifted file.
 */
import { z } from "zod";
import { LENS_NAMES } from "./lenses.ts";

export const CHART_IDS = [
  "daily-deaths",
  "cumulative-deaths",
  "deaths-by-age-group",
  "deaths-by-race-ethnicity",
  "deaths-per-100k-by-race-ethnicity",
  "deaths-by-month",
] as const;
export type ChartId = (typeof CHART_IDS)[number];

/** Figures `{{< vigil-stat name="..." >}}` can show, each already formatted for readers. */
export const STAT_NAMES = [
  "total_deaths",
  "first_death_date",
  "latest_death_date",
  "days_with_deaths",
  "peak_day",
  "peak_day_date",
  "peak_day_deaths",
  "peak_7day_avg",
  "peak_7day_avg_date",
  "data_last_changed",
  "last_checked",
  // provisional days: cases still pending, and the first day whose count may still rise
  "pending",
  "provisional_from",
  // deaths per 100,000 residents (2020 estimates): all residents, then each rated group
  "crude_per_100k_all",
  "age_adjusted_per_100k_all",
  "crude_per_100k_latino",
  "age_adjusted_per_100k_latino",
  "crude_per_100k_white",
  "age_adjusted_per_100k_white",
  "crude_per_100k_black",
  "age_adjusted_per_100k_black",
  "crude_per_100k_asian",
  "age_adjusted_per_100k_asian",
  "crude_per_100k_other",
  "age_adjusted_per_100k_other",
] as const;
export type StatName = (typeof STAT_NAMES)[number];

/** The groups rates are given for in the summary's stats: all residents and each rated race or ethnicity. */
export const RATE_KEYS = ["all", "latino", "white", "black", "asian", "other"] as const;
export type RateKey = (typeof RATE_KEYS)[number];

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date written YYYY-MM-DD");
const instant = z.iso.datetime().describe("An instant, UTC, ISO 8601");
const count = z.number().int().nonnegative();
/** Text written for readers (dates in words, thousands separators); shown as is, escaped by Hugo. */
const words = z.string().min(1);

export const dayFigureSchema = z.object({
  date: isoDate.describe("Day of death, America/Chicago, YYYY-MM-DD"),
  date_text: words.describe("The day in words, e.g. December 3, 2020"),
  deaths: count.describe("COVID-19 deaths that day"),
  deaths_7day_avg: z.number().nonnegative().nullable().describe("Average of the 7 days ending that day; null for the first six days of the series"),
});

/** A rate as the figures print it: text with 2 decimals, the same string in every file and in datasette. */
const per100k = z.string().regex(/^\d+\.\d{2}$/);

export const groupRateSchema = z.object({
  race_ethnicity: words.describe("Latino (of any race); White, Black, Asian (not Latino); Other (incl. American Indian); Unknown; or All residents"),
  deaths: count.describe("COVID-19 deaths in the group, removed cases left out"),
  population: count.nullable().describe("Residents of Cook County in the group, 2020 estimates; null for Unknown, which has no population"),
  crude_per_100k: per100k.nullable().describe("Deaths per 100,000 residents, text with 2 decimals (\"312.40\"); null for Unknown and under 10 deaths"),
  age_adjusted_per_100k: per100k.nullable().describe("Deaths per 100,000 residents adjusted for age to the 2000 U.S. standard population (direct method), text with 2 decimals; null for Unknown and under 10 deaths"),
  reliable: z.enum(["true", "false"]).nullable().describe("\"false\" when the rate rests on fewer than 20 deaths (NCHS's rule for unreliable rates), \"true\" otherwise; null for Unknown"),
  deaths_unknown_age: count.describe("Of the deaths, those of unknown age: in the crude rate, left out of the age-adjusted one"),
});

export const ratesSchema = z.object({
  population_as_of: isoDate.describe("The day the county's population estimates are for"),
  standard_population: words.describe("The standard population the age-adjusted rates are weighted to"),
  all: groupRateSchema.describe("Every death, Unknown race included, against every resident"),
  groups: z.array(groupRateSchema).describe("Each rated group, highest age-adjusted rate first, then Unknown (deaths only)"),
  by_age_group: z
    .array(z.object({ age_group: words, deaths: count, population: count, crude_per_100k: per100k.nullable(), reliable: z.enum(["true", "false"]) }))
    .describe("All residents by the age groups the rates are computed over (0-4, 5-14, ..., 85+), youngest first; deaths of unknown age are in none"),
});
export type RatesSummary = z.infer<typeof ratesSchema>;

export const summarySchema = z.object({
  schema_version: z.literal(2),
  lens: z.enum(LENS_NAMES).describe("Which deaths these are (schemas/lenses.ts): covid (data/vigil/), or heat, cold, opioid, gun (data/vigil/<lens>/)"),
  lens_deaths: words.describe("The lens's deaths in words, e.g. heat-related deaths"),
  total_deaths: count.describe("The lens's deaths recorded by the Medical Examiner, removed cases left out"),
  first_death_date: isoDate.describe("First day with a death, America/Chicago"),
  latest_death_date: isoDate.describe("Latest day with a death, America/Chicago"),
  latest_listed_date: isoDate.nullable().describe("Latest day with someone the memorial lists (deaths by suicide are counted, never listed): the memorial's default day; null when it lists no one"),
  days_with_deaths: count.describe("Days with at least one death"),
  peak_day: dayFigureSchema.describe("The day with the most deaths (the earliest, on a tie)"),
  peak_7day_avg: dayFigureSchema.nullable().describe("The day the 7-day average was highest (the earliest, on a tie); null while the series is shorter than seven days"),
  recent_days: z.array(dayFigureSchema).describe("The last 14 days of the series, ending on latest_death_date"),
  data_last_changed: instant.nullable().describe("When a successful run last changed a case"),
  data_last_changed_text: words.nullable().describe("data_last_changed in words, America/Chicago"),
  last_checked: instant.nullable().describe("When the last successful run finished, i.e. the source was last checked"),
  last_checked_text: words.nullable().describe("last_checked in words, America/Chicago"),
  run_id: z.number().int().positive().nullable().describe("The last successful run (runs.id): the one that last checked the source"),
  source_url: z.url().describe("The dataset's page on the county's portal"),
  source_name: words.describe("Who recorded the deaths, for source lines"),
  data_as_of_text: words.describe("For notes lines: when the data was last checked and last changed, in words"),
  record_note: words.describe("What the record covers, for the notes line under every chart and memorial"),
  unlisted_note: words.describe("Said once on a page with a memorial: deaths by suicide are counted in the charts and not listed, with the 988 Suicide & Crisis Lifeline"),
  records_url: z
    .url()
    .nullable()
    .describe("The public record's memorial query, to which a day (YYYY-MM-DD) is appended: where the memorial links each day's records; null without --records-url"),
  narrowed_on: isoDate
    .nullable()
    .describe("COVID-19: the day the Medical Examiner stopped taking most COVID-19 deaths in hospitals and nursing homes: a later day without a recorded death does not mean nobody died; null for the other lenses"),
  pending: count.describe("Cases in the record whose manner of death is still PENDING and that are not in the lens: deaths that may yet join it"),
  provisional_from: isoDate
    .nullable()
    .describe("The first day whose count is not final yet (the provisional query): days from it on are drawn apart and may still rise; null when every day with a recorded death is final"),
  provisional_note: words.nullable().describe("What the charts and the memorial say of the days from provisional_from on; null when there are none"),
  lag_days: count.describe("Days after a death by which 95 of 100 of the lens's deaths are in the record: provisional_from is the run's day less these, plus one"),
  lag_source: z.enum(["observed", "default"]).describe("observed: measured from the deaths vigil saw join the lens; default: the lens's documented default, with too few of them"),
  no_deaths_text: z
    .object({ before: words, after: words })
    .describe("What the memorial says of a day without a recorded death, before and from narrowed_on; DATE stands for the day in words"),
  memorial: z
    .object({
      years: z.array(z.string().regex(/^\d{4}$/)).describe("Years with a file data/vigil/memorial/YYYY.json"),
      days: count.describe("Days with deaths across those files"),
    })
    .describe("Where the memorial data lives"),
  rates: ratesSchema.describe("Deaths per 100,000 residents by race and ethnicity, crude and age-adjusted, over the whole record"),
  stats: z.object(Object.fromEntries(STAT_NAMES.map((name) => [name, words])) as Record<StatName, typeof words>).describe("Figures for vigil-stat, formatted"),
});
export type Summary = z.infer<typeof summarySchema>;

export const memorialDaySchema = z
  .object({
    date_text: words.describe("The day in words"),
    deaths: count.describe("The people listed: deaths by suicide are counted in the charts, never listed"),
    unlisted: count.describe("Deaths that day that are counted in the charts and not listed (deaths by suicide)"),
    headline: words.describe("e.g. The Cook County Medical Examiner recorded the COVID-19 deaths of 41 people on December 3, 2020."),
    people: z.array(words).describe("One sentence per person, e.g. A 47-year-old man from Chicago."),
  })
  .refine((day) => day.people.length === day.deaths, "people must list exactly `deaths` sentences");

/** `data/vigil/memorial/YYYY.json`: every day of that year with deaths, keyed by YYYY-MM-DD. */
export const memorialYearSchema = z.record(isoDate, memorialDaySchema);
export type MemorialYear = z.infer<typeof memorialYearSchema>;
export type MemorialDay = z.infer<typeof memorialDaySchema>;

export const chartEntrySchema = z.object({
  embed_code: words.describe("The HTML another site pastes to embed the chart: an iframe of static/vigil/embed/ID/ and static/vigil/embed.js"),
  headline: words.describe("The chart's point in one sentence, shown above it: the first sentence of its description"),
  title: words,
  columns: z
    .array(z.object({ name: z.string().min(1), label: words }))
    .describe("The CSV's columns in order, with the words the data table under the chart heads them with"),
  notes: words.describe("The notes line under the chart: what the record covers (and, for rates, the population estimates)"),
  description: words.describe("The chart's takeaway in plain language: its alt text"),
  svg: z.string().describe("File name of the static SVG, beside the spec and CSV"),
  svg_narrow: z.string().describe("File name of the static SVG drawn for phones (narrower, larger text)"),
  spec: z.string().describe("File name of the Vega-Lite spec"),
  csv: z.string().describe("File name of the CSV behind the chart"),
});

/** `data/vigil/charts.json` (and `vigil/charts.json` in a frozen page bundle): what chart captions need. */
export const chartsManifestSchema = z.object({
  schema_version: z.literal(1),
  source_name: words,
  source_url: z.url(),
  data_as_of_text: words.describe("For captions: when the data was last checked and last changed, in words"),
  data_last_changed: instant.nullable(),
  last_checked: instant.nullable(),
  frozen_at: instant.nullable().describe("When this copy was frozen into a post; null for the live site-wide copy"),
  charts: z.object(Object.fromEntries(CHART_IDS.map((id) => [id, chartEntrySchema])) as Record<ChartId, typeof chartEntrySchema>),
});
export type ChartsManifest = z.infer<typeof chartsManifestSchema>;

/** `static/vigil/embed/ID/oembed.json`: oEmbed 1.0, type rich (https://oembed.com/). */
export const oembedSchema = z.object({
  version: z.literal("1.0"),
  type: z.literal("rich"),
  html: words.describe("The embed code: the chart's iframe and static/vigil/embed.js"),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  title: words,
  provider_name: words,
  provider_url: words.describe("The site's base URL"),
  cache_age: z.number().int().positive().describe("Seconds a consumer may keep this description"),
});
export type Oembed = z.infer<typeof oembedSchema>;

/**
 * The envelope of each emitted Vega-Lite spec that the upgrade script relies on; the rest is
 * Vega-Lite's own (tests compile every spec with vega-lite).
 */
export const vegaLiteSpecSchema = z.looseObject({
  $schema: z.literal("https://vega.github.io/schema/vega-lite/v6.json"),
  description: words,
  data: z.looseObject({ url: z.string().min(1), format: z.looseObject({ type: z.literal("csv") }) }),
  params: z.array(z.looseObject({ name: z.string(), value: z.string() })),
  usermeta: z.object({
    vigil: z.object({
      chart: z.enum(CHART_IDS),
      /** Values for `params` when the reader prefers a dark color scheme. */
      dark: z.record(z.string(), z.string()),
    }),
  }),
});
export type VegaLiteSpec = z.infer<typeof vegaLiteSpecSchema>;
