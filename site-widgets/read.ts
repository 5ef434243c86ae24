/**
 * Everything the widgets need from the database, read once: the `covid_deaths` view and the
 * `daily_deaths` table (removed cases are never in them) and the published figures
 * (pipeline/store/figures.ts), or, as of an earlier run, the same rebuilt from the correction log.
 * Only the columns the site may show are selected: no street address, ZIP or coordinates ever
 * leave this module.
 */
import type { DB } from "../pipeline/store/db.ts";
import { asOfRun, covidDeathsAsOf } from "../pipeline/store/as-of.ts";
import { dailySeries, rates, ratesByAgeGroup, type DailyRow } from "../pipeline/store/figures.ts";
import { dataLastChanged, lastSuccess } from "../pipeline/store/run-records.ts";
import { VigilError } from "../pipeline/errors.ts";
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
  daily: DailyRow[];
  /** Every COVID-19 death, ordered by day, time of death and case number. */
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
export function readWidgetData(db: DB, asOf?: number): WidgetData {
  const last = asOf === undefined ? lastSuccess(db) : asOfRun(db, asOf);
  const people =
    asOf === undefined
      ? (db.prepare(`SELECT ${PERSON_COLUMNS.join(", ")} FROM covid_deaths ORDER BY death_date, death_datetime, casenumber`).all() as PersonRow[])
      : peopleAsOf(db, asOf);
  const daily =
    asOf === undefined
      ? (db.prepare("SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths ORDER BY date").all() as DailyRow[])
      : dailySeries(db, asOf);
  requirePopulation(db);
  const ratedAs = db.prepare("SELECT DISTINCT rate_group, population_race_ethnicity FROM population_groups WHERE population_race_ethnicity IS NOT NULL").raw().all() as Array<[string, string]>;
  return {
    daily,
    people,
    rates: splitRates(rates(db, asOf), ratesByAgeGroup(db, asOf), new Map(ratedAs)),
    events: mergeEvents(builtInEvents(), storedEvents(db).filter((e) => e.origin === "site")),
    freshness: {
      data_last_changed: dataLastChanged(db, asOf),
      last_checked: last?.finished_at ?? null,
      run_id: last?.id ?? null,
      portal: last?.portal ?? null,
      dataset: last?.dataset ?? null,
    },
  };
}

/** The people as they stood after run `runId`, in the order the `covid_deaths` query gives them. */
function peopleAsOf(db: DB, runId: number): PersonRow[] {
  const rows = covidDeathsAsOf(db, runId, [...PERSON_COLUMNS, "death_datetime", "casenumber"]);
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
