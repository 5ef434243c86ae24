/** The database's health at a glance: counts, freshness and recent runs (`vigil status`). */
import { openDatabase, requireDatabase, type DB } from "./db.ts";
import { dataLastChanged, lastSuccess, recentRuns, type RunRow } from "./run-records.ts";

export interface Status {
  database: string;
  cases: number;
  covid_deaths: number;
  removed: number;
  /** When the last successful run finished (UTC ISO), i.e. when the source was last checked. */
  last_checked: string | null;
  /** When a successful run last changed a case (UTC ISO). */
  data_last_changed: string | null;
  /** The source's own last update of its rows, as of the last successful run. */
  source_rows_updated_at: string | null;
  /** Hours since last_checked, at the time of the call. */
  age_hours: number | null;
  runs: RunRow[];
}

export function readStatus(db: DB, path: string, now: Date, limit = 10): Status {
  const counts = db
    .prepare(
      `SELECT count(*) AS cases,
              coalesce(sum(is_covid = 1 AND removed_run_id IS NULL), 0) AS covid_deaths,
              coalesce(sum(removed_run_id IS NOT NULL), 0) AS removed
       FROM cases`,
    )
    .get() as { cases: number; covid_deaths: number; removed: number };
  const last = lastSuccess(db);
  return {
    database: path,
    ...counts,
    last_checked: last?.finished_at ?? null,
    data_last_changed: dataLastChanged(db),
    source_rows_updated_at: last?.source_rows_updated_at ?? null,
    age_hours: last ? Math.round(((now.getTime() - Date.parse(last.finished_at)) / 3_600_000) * 10) / 10 : null,
    runs: recentRuns(db, limit),
  };
}

/** The status of the database at `path`, opened read-only; an error with what to do when there is none. */
export function readStatusAt(path: string, now: Date, limit = 10): Status {
  requireDatabase(path);
  const db = openDatabase(path, { readonly: true });
  try {
    return readStatus(db, path, now, limit);
  } finally {
    db.close();
  }
}
