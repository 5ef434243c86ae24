/**
 * Everything the widgets need from the database, read once through the `daily_deaths` and
 * `covid_deaths` views (removed cases are never in them), or, as of an earlier run, rebuilt from
 * the correction log (pipeline/store/as-of.ts). Only the columns the site may show are selected:
 * no street address, ZIP or coordinates ever leave this module.
 */
import type { DB } from "../pipeline/store/db.ts";
import { asOfRun, covidDeathsAsOf, dailySeries } from "../pipeline/store/as-of.ts";
import { dataLastChanged, lastSuccess } from "../pipeline/store/run-records.ts";
import { VigilError } from "../pipeline/errors.ts";
import { builtInEvents, mergeEvents, storedEvents } from "../pipeline/store/events.ts";
import type { ChartEvent } from "../schemas/events.ts";

// A type alias rather than an interface, so rows can be handed to the CSV writer as records.
export type DailyRow = {
  /** YYYY-MM-DD, America/Chicago. */
  date: string;
  deaths: number;
  deaths_7day_avg: number;
  cumulative_deaths: number;
};

/** The columns of a person the widgets read, in the order of PersonRow. */
const PERSON_COLUMNS = ["death_date", "memorial_sentence", "age", "age_group", "gender", "race_ethnicity", "residence_city"] as const;

export interface PersonRow {
  death_date: string;
  /** The memorial's words for the person, as stored with the case. */
  memorial_sentence: string;
  age: number | null;
  age_group: string | null;
  gender: string | null;
  race_ethnicity: string;
  residence_city: string | null;
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

/** The population tables the rates are computed from (pipeline/store/population.ts fills them). */
export interface PopulationData {
  /** Residents by race_ethnicity and 5-year age group, both sexes together, 2020 estimates. */
  residents: Array<{ race_ethnicity: string; age_group: string; age_min: number; population: number }>;
  /** The 2000 U.S. standard population's age groups, each with the 5-year groups its rate is computed over. */
  standard: Array<{ age_group: string; age_min: number; age_max: number | null; weight: number; rate_age_group: string }>;
  /** For each race_ethnicity of the cases: the group it is rated in, and that group's population (null: not rated). */
  groups: Array<{ race_ethnicity: string; rate_group: string; population_race_ethnicity: string | null }>;
}

export interface WidgetData {
  daily: DailyRow[];
  /** Every COVID-19 death, ordered by day, time of death and case number. */
  people: PersonRow[];
  population: PopulationData;
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
      : dailySeries(db, people.map((p) => p.death_date));
  return {
    daily,
    people,
    population: readPopulation(db),
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

/** The population tables: fixed facts, the same for the record as it stands and as it stood. */
export function readPopulation(db: DB): PopulationData {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'population'").get()) {
    throw new VigilError("the database has no population tables yet, so no rates can be computed", { hint: "run `vigil ingest` once: it upgrades the database" });
  }
  return {
    residents: db
      .prepare("SELECT race_ethnicity, age_group, age_min, sum(population) AS population FROM population GROUP BY race_ethnicity, age_group ORDER BY race_ethnicity, age_min")
      .all() as PopulationData["residents"],
    standard: db.prepare("SELECT age_group, age_min, age_max, weight, rate_age_group FROM standard_population ORDER BY age_min").all() as PopulationData["standard"],
    groups: db.prepare("SELECT race_ethnicity, rate_group, population_race_ethnicity FROM population_groups ORDER BY rowid").all() as PopulationData["groups"],
  };
}
