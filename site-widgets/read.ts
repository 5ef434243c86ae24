/**
 * Everything the widgets need from the database, read once through the `daily_deaths` and
 * `covid_deaths` views (removed cases are never in them). Only the columns the site may show
 * are selected: no street address, ZIP or coordinates ever leave this module.
 */
import type { DB } from "../pipeline/store/db.ts";
import { dataLastChanged, lastSuccess } from "../pipeline/store/run-records.ts";

// A type alias rather than an interface, so rows can be handed to the CSV writer as records.
export type DailyRow = {
  /** YYYY-MM-DD, America/Chicago. */
  date: string;
  deaths: number;
  deaths_7day_avg: number;
  cumulative_deaths: number;
};

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
  /** The last successful run. */
  run_id: number | null;
  portal: string | null;
  dataset: string | null;
}

export interface WidgetData {
  daily: DailyRow[];
  /** Every COVID-19 death, ordered by day, time of death and case number. */
  people: PersonRow[];
  freshness: Freshness;
}

export function readWidgetData(db: DB): WidgetData {
  const daily = db.prepare("SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths ORDER BY date").all() as DailyRow[];
  const people = db
    .prepare(
      `SELECT death_date, memorial_sentence, age, age_group, gender, race_ethnicity, residence_city
       FROM covid_deaths ORDER BY death_date, death_datetime, casenumber`,
    )
    .all() as PersonRow[];
  const last = lastSuccess(db);
  return {
    daily,
    people,
    freshness: {
      data_last_changed: dataLastChanged(db),
      last_checked: last?.finished_at ?? null,
      run_id: last?.id ?? null,
      portal: last?.portal ?? null,
      dataset: last?.dataset ?? null,
    },
  };
}
