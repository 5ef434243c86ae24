/**
 * The published figures, each written once as SQL in pipeline/store/figures/ and executed as it is
 * by vigil (the site's charts, summary and stats) and by datasette (the canned queries of the same
 * names): one text, so both give the same rows, digit for digit.
 *
 * Every figure is over the deaths of a lens (schemas/lenses.ts; `:lens`, COVID-19 by default) published after a run (`published.sql`: the record as it
 * stood then, rebuilt from the correction log; no run: as it stands). The daily series of the record
 * as it stands is also kept in the `daily_deaths` table, written by the run that changed the record
 * from the same query, so the series "as of the latest run" is that table by construction.
 */
import { readFileSync } from "node:fs";
import { projectPath } from "../paths.ts";
import type { DB } from "./db.ts";
import { DEFAULT_LENS, lensFlagSql, lensValuesSql, type LensName } from "../../schemas/lenses.ts";

/** The figures, by the name of their canned query in datasette/metadata.yml. */
export const FIGURES = {
  daily_deaths_as_of: "daily-series.sql",
  rates: "rates.sql",
  rates_by_age_group: "rates-by-age-group.sql",
  provisional: "provisional.sql",
} as const;
export type FigureName = keyof typeof FIGURES;

/** NCHS's rule for rates: none under RATED_FROM deaths, unreliable under RELIABLE_FROM. */
export const RATED_FROM = 10;
export const RELIABLE_FROM = 20;

/** Deaths seen joining a lens after the first load that its provisional estimate needs; fewer: the lens's default. */
export const MIN_LAG_OBSERVATIONS = 30;

const read = (file: string) => readFileSync(projectPath("pipeline", "store", "figures", file), "utf8").trim();

/**
 * SQL with what vigil keeps in TypeScript written in: the rates' thresholds, the provisional estimate's
 * minimum, and the lenses (LENS_CTE, the `lens` CTE of lens.sql; LENS_FLAG(alias), a case's flag of the
 * lens asked for). The figures' files and datasette's queries (datasette/metadata.ts) both go through it.
 */
export function writeIn(sql: string): string {
  return sql
    .replaceAll("LENS_CTE", read("lens.sql").replace(/^(--.*\n)+/, ""))
    .replaceAll("RATED_FROM", String(RATED_FROM))
    .replaceAll("RELIABLE_FROM", String(RELIABLE_FROM))
    .replaceAll("MIN_LAG_OBSERVATIONS", String(MIN_LAG_OBSERVATIONS))
    .replaceAll("LENS_VALUES", lensValuesSql())
    .replace(/LENS_FLAG\((\w+)\)/g, (_, alias: string) => lensFlagSql(alias));
}

/** A figure's file, written in. */
const text = (file: string) => writeIn(read(file));

const cache = new Map<FigureName, string>();

/** A query over the deaths published after `:run_id`: published.sql's CTEs, then `rest` (more CTEs, or the SELECT). */
const afterPublished = (rest: string) => `WITH RECURSIVE\n${text("published.sql")}${rest.startsWith("SELECT") ? "\n" : ",\n"}${rest}`;

/** The whole query of a figure: the published deaths after `:run_id`, then the figure's own CTEs and SELECT. */
export function figureSql(name: FigureName): string {
  let sql = cache.get(name);
  if (sql === undefined) cache.set(name, (sql = afterPublished(text(FIGURES[name]))));
  return sql;
}

/** `runId` and `lens` as the queries take them: an empty run for the record as it stands. */
const asked = (runId: number | undefined, lens: LensName = DEFAULT_LENS) => ({ run_id: runId === undefined ? "" : String(runId), lens });

/** One day of the daily series: YYYY-MM-DD (America/Chicago), deaths, 7-day average (null for the first six days), running total. */
export type DailyRow = { date: string; deaths: number; deaths_7day_avg: number | null; cumulative_deaths: number };

/** The lens's daily series after run `runId`, or of the record as it stands. */
export function dailySeries(db: DB, runId?: number, lens?: LensName): DailyRow[] {
  return db.prepare(figureSql("daily_deaths_as_of")).all(asked(runId, lens)) as DailyRow[];
}

/** A group's rates as the `rates` query gives them; the rates are text with 2 decimals, null without a population. */
export type GroupRate = {
  /** Latino, White, Black, Asian, Other (incl. American Indian), Unknown, or All residents. */
  race_ethnicity: string;
  deaths: number;
  population: number | null;
  crude_per_100k: string | null;
  age_adjusted_per_100k: string | null;
  /** "false" under 20 deaths (NCHS's rule; no rate at all under 10), "true" otherwise; null without a population. */
  reliable: "true" | "false" | null;
  deaths_unknown_age: number;
};

/** A row of the `rates_by_age_group` query: crude deaths per 100,000 residents of one age group. */
export type AgeGroupRate = { race_ethnicity: string; age_group: string; deaths: number; population: number; crude_per_100k: string | null; reliable: "true" | "false" };

/** The `rates` query's rows (All residents first, then the rated groups, highest age-adjusted rate first, then Unknown). */
export function rates(db: DB, runId?: number, lens?: LensName): GroupRate[] {
  return db.prepare(figureSql("rates")).all(asked(runId, lens)) as GroupRate[];
}

/** The `rates_by_age_group` query's rows (All residents first, then each rated group; youngest first). */
export function ratesByAgeGroup(db: DB, runId?: number, lens?: LensName): AgeGroupRate[] {
  return db.prepare(figureSql("rates_by_age_group")).all(asked(runId, lens)) as AgeGroupRate[];
}

/** Which days of a lens may still rise (provisional.sql): the `provisional` query's one row. */
export interface Provisional {
  lens: LensName;
  /** The day (America/Chicago) of the last run that changed the record (up to the run read); null before any did. */
  as_of_date: string | null;
  /** Cases whose manner of death is still PENDING, not in the lens: deaths that may yet join it. */
  pending: number;
  /** Deaths seen joining the lens after the first load, which the lag is estimated from. */
  lag_observed: number;
  /** Days after a death by which 95 of 100 of the lens's deaths are in the record. */
  lag_days: number;
  lag_source: "observed" | "default";
  /** The first day whose count may still rise (also when no death of the lens is recorded since); null before any run changed the record. */
  provisional_from: string | null;
}

/** The lens's provisional days after run `runId`, or of the record as it stands. */
export function provisional(db: DB, runId?: number, lens?: LensName): Provisional {
  return db.prepare(figureSql("provisional")).get(asked(runId, lens)) as Provisional;
}

/**
 * Writes the daily series of the record as it stands into `daily_deaths`. Called by the run that
 * changed the record, inside the transaction that commits it.
 */
export function storeDailyDeaths(db: DB): void {
  db.prepare("DELETE FROM daily_deaths").run();
  db.prepare(`INSERT INTO daily_deaths (date, deaths, deaths_7day_avg, cumulative_deaths) SELECT * FROM (${figureSql("daily_deaths_as_of")})`).run(asked(undefined));
}

/**
 * The deaths published after run `runId` as `published.sql` rules, with `columns` of each as they
 * stand now and `undo`: the old values (as text) of the fields a later run changed, which
 * pipeline/store/as-of.ts applies. Ordered by case number.
 */
export function publishedAsOf(db: DB, runId: number, columns: readonly string[], lens?: LensName): Array<Record<string, unknown> & { undo: Record<string, string | null> }> {
  const selected = columns.map((column) => `c.${column}`).join(", ");
  const rows = db
    .prepare(afterPublished(`SELECT ${selected}, d.undo AS undo FROM deaths_then d JOIN cases c USING (casenumber) ORDER BY c.casenumber`))
    .all(asked(runId, lens)) as Array<Record<string, unknown> & { undo: string | null }>;
  return rows.map((row) => ({ ...row, undo: row.undo ? (JSON.parse(row.undo) as Record<string, string | null>) : {} }));
}
