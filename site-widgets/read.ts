/**
 * Everything the widgets of one lens need from the database, read once: the lens's view (covid_deaths,
 * heat_deaths, ...) and its daily series (for COVID-19, the `daily_deaths` table; removed cases are
 * never in them), its provisional days and the published figures
 * (pipeline/store/figures.ts), or, as of an earlier run, the same rebuilt from the correction log.
 * Only the columns the site may show are selected: no street address, ZIP or coordinates ever
 * leave this module.
 */
import type { DB } from "../pipeline/store/db.ts";
import { asOfRun, deathsAsOf } from "../pipeline/store/as-of.ts";
import { dailySeries, provisional, rates, ratesByAgeGroup, type DailyRow, type Provisional } from "../pipeline/store/figures.ts";
import { DEFAULT_LENS, LENSES, type Lens, type LensName } from "../schemas/lenses.ts";
import { dataLastChanged, lastSuccess } from "../pipeline/store/run-records.ts";
import { VigilError } from "../pipeline/errors.ts";
import { UNLISTED_MANNERS } from "../pipeline/normalize/memorial.ts";
import { builtInEvents, mergeEvents, storedEvents } from "../pipeline/store/events.ts";
import type { ChartEvent } from "../schemas/events.ts";

import { splitRates, type Rates } from "./rates.ts";

export type { DailyRow };

/** The columns of a person the widgets read, in the order of PersonRow. */
const PERSON_COLUMNS = ["death_date", "memorial_sentence", "age", "age_group", "gender", "race_ethnicity", "residence_city", "manner"] as const;

export interface PersonRow {
  death_date: string;
  /** The memorial's words for the person, as stored with the case. */
  memorial_sentence: string;
  age: number | null;
  age_group: string | null;
  gender: string | null;
  race_ethnicity: string;
  residence_city: string | null;
  /** Manner of death: a memorial does not list some (pipeline/normalize/memorial.ts, UNLISTED_MANNERS). */
  manner: string | null;
}

export interface Freshness {
  /** UTC ISO instants from the runs table (see `vigil status`). */
  data_last_changed: string | null;
  last_checked: string | null;
  /** The last successful run (or the run the record is read as of). */
  run_id: number | null;
  portal: string | null;
  dataset: string | null;
}

export interface WidgetData {
  /** Which deaths these are (schemas/lenses.ts). */
  lens: Lens;
  daily: DailyRow[];
  /** Which days may still rise, and the pending cases (pipeline/store/figures/provisional.sql). */
  provisional: Provisional;
  /** Every death of the lens, ordered by day, time of death and case number. */
  people: PersonRow[];
  /** The death rates, as the `rates` and `rates_by_age_group` figures give them. */
  rates: Rates;
  /**
   * The dated events the time charts mark, in date order: the built-in ones and the site's (those
   * the last `vigil run --events` stored, or the ones `vigil widgets --events` gives instead).
   */
  events: ChartEvent[];
  freshness: Freshness;
}

/**
 * The widgets' data as the record stands, or with `asOf`, as it stood after that successful run
 * (freshness included: that run's check, the last change up to it), so the site shows again what
 * it showed then.
 */
export function readWidgetData(db: DB, asOf?: number, lensName: LensName = DEFAULT_LENS): WidgetData {
  const lens = LENSES[lensName];
  const last = asOf === undefined ? lastSuccess(db) : asOfRun(db, asOf);
  const people =
    asOf === undefined
      ? (db.prepare(`SELECT ${PERSON_COLUMNS.join(", ")} FROM ${lens.view} ORDER BY death_date, death_datetime, casenumber`).all() as PersonRow[])
      : peopleAsOf(db, asOf, lensName);
  // the COVID-19 series of the record as it stands is kept in a table, written by the run that changed it
  const daily =
    asOf === undefined && lensName === DEFAULT_LENS
      ? (db.prepare("SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths ORDER BY date").all() as DailyRow[])
      : dailySeries(db, asOf, lensName);
  requirePopulation(db);
  const ratedAs = db.prepare("SELECT DISTINCT rate_group, population_race_ethnicity FROM population_groups WHERE population_race_ethnicity IS NOT NULL").raw().all() as Array<[string, string]>;
  return {
    lens,
    daily,
    provisional: provisional(db, asOf, lensName),
    people,
    rates: splitRates(rates(db, asOf, lensName), ratesByAgeGroup(db, asOf, lensName), new Map(ratedAs)),
    events: lensEvents(lens, storedEvents(db).filter((e) => e.origin === "site")),
    freshness: {
      data_last_changed: dataLastChanged(db, asOf),
      last_checked: last?.finished_at ?? null,
      run_id: last?.id ?? null,
      portal: last?.portal ?? null,
      dataset: last?.dataset ?? null,
    },
  };
}

/** The events a lens's time charts mark: the built-in ones are COVID-19's; the site's own are drawn on every lens. */
export function lensEvents(lens: Lens, site: readonly ChartEvent[]): ChartEvent[] {
  return mergeEvents(lens.name === DEFAULT_LENS ? builtInEvents() : [], site);
}

/**
 * The people as they stood after run `runId`, in the order the lens's view gives them. A death ruled
 * a suicide since keeps that manner here, so that no memorial of an earlier run lists it.
 */
function peopleAsOf(db: DB, runId: number, lens: LensName): PersonRow[] {
  const rows = deathsAsOf(db, runId, [...PERSON_COLUMNS, "death_datetime", "casenumber"], lens);
  const unlistedNow = new Map(
    db.prepare(`SELECT casenumber, manner FROM cases WHERE manner IN (${UNLISTED_MANNERS.map(() => "?").join(", ")})`).raw().all(...UNLISTED_MANNERS) as Array<[string, string]>,
  );
  for (const row of rows) if (unlistedNow.has(row.casenumber)) row.manner = unlistedNow.get(row.casenumber)!;
  // compared as SQLite compares text (these are ASCII), field by field
  const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  rows.sort((a, b) => compare(a.death_date, b.death_date) || compare(a.death_datetime, b.death_datetime) || compare(a.casenumber, b.casenumber));
  return rows.map(({ death_datetime, casenumber, ...person }) => person);
}

/** The rates are computed against the population tables, which a database older than them lacks. */
function requirePopulation(db: DB): void {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'population'").get()) {
    throw new VigilError("the database has no population tables yet, so no rates can be computed", { hint: "run `vigil ingest` once: it upgrades the database" });
  }
}
