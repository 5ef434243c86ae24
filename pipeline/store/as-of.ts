/**
 * The record as it stood after a run, rebuilt from today's cases and the correction log, so a
 * figure published then can be shown again exactly, whatever the county corrected since.
 *
 * A case stood as it is now, less every change a later run made to it: each field takes the old
 * value of its first revision after the run (the case writer stores values as text: numbers in
 * their decimal form, flags as 0 and 1, NULL as NULL). It was in the record when the run that
 * first saw it came at or before the run, and it was withdrawn then when its first removal or
 * restoration after the run is a restoration; with neither after the run, its tombstone says.
 * Nothing is stored twice: the log already holds what every correction replaced.
 *
 * datasette's `daily_deaths_as_of` query does the same in SQL (datasette/metadata.yml).
 */
import type { Case, CaseField } from "../../schemas/case.ts";
import { VigilError } from "../errors.ts";
import { memorialSentence } from "../normalize/memorial.ts";
import type { DB } from "./db.ts";
import type { LastSuccess } from "./run-records.ts";

/** What the memorial's words are made from (pipeline/normalize/memorial.ts). */
const SENTENCE_FIELDS: readonly CaseField[] = ["age", "gender", "residence_city"];

/**
 * The successful run `id`, which a record as of a run is read after; a clear error for a run
 * that does not exist or did not succeed (a failed run changed nothing: the record never stood
 * "after" it).
 */
export function asOfRun(db: DB, id: number): LastSuccess {
  const run = db.prepare("SELECT id, status, finished_at, portal, dataset, source_rows_updated_at FROM runs WHERE id = ?").get(id) as
    | (LastSuccess & { status: string })
    | undefined;
  const hint = "`vigil status` lists the runs; give the id of a successful one";
  if (!run) throw new VigilError(`there is no run ${id} in the database`, { hint });
  if (run.status !== "success") throw new VigilError(`run ${id} did not succeed (${run.status}), so no record stood after it`, { hint });
  const { status, ...success } = run;
  return success;
}

/**
 * The published COVID-19 deaths as they stood after run `runId` (the `covid_deaths` view as it
 * was then), with `fields` of each, ordered by case number: deaths withdrawn, or no longer counted
 * as COVID-19, since that run are in; deaths added, published again or first counted since are
 * not. The memorial's words are made again when the person's age, gender or city was corrected
 * since. Only cases that were COVID-19 deaths then or are now are read.
 */
export function covidDeathsAsOf<F extends CaseField>(db: DB, runId: number, fields: readonly F[]): Array<Pick<Case, F>> {
  const needed = [...new Set<CaseField>(["casenumber", "is_covid", ...fields, ...(fields.includes("memorial_sentence" as F) ? SENTENCE_FIELDS : [])])];
  const numeric = new Set(
    (db.prepare("SELECT name FROM pragma_table_info('cases') WHERE type IN ('INTEGER', 'REAL')").pluck().all() as string[]),
  );
  const cases = db
    .prepare(
      `SELECT ${needed.join(", ")}, removed_run_id FROM cases
       WHERE first_run_id <= ?
         AND (is_covid = 1 OR casenumber IN (SELECT casenumber FROM case_revisions WHERE run_id > ? AND field = 'is_covid'))
       ORDER BY casenumber`,
    )
    .all(runId, runId) as Array<Record<string, unknown> & { casenumber: string; removed_run_id: number | null }>;

  // the first revision after the run of each field of each case, and of its removal state
  const undo = new Map<string, Map<string, string | null>>();
  const withdrawal = new Map<string, "removed" | "restored">();
  const later = db
    .prepare(
      `SELECT casenumber, change, field, old_value FROM case_revisions
       WHERE run_id > ? AND (change IN ('removed', 'restored') OR (change = 'changed' AND field IN (${needed.map(() => "?").join(", ")})))
       ORDER BY id`,
    )
    .iterate(runId, ...needed) as Iterable<{ casenumber: string; change: string; field: string | null; old_value: string | null }>;
  for (const revision of later) {
    if (revision.change === "removed" || revision.change === "restored") {
      if (!withdrawal.has(revision.casenumber)) withdrawal.set(revision.casenumber, revision.change);
      continue;
    }
    let fieldsOf = undo.get(revision.casenumber);
    if (!fieldsOf) undo.set(revision.casenumber, (fieldsOf = new Map()));
    const field = revision.field as string;
    if (!fieldsOf.has(field)) fieldsOf.set(field, revision.old_value);
  }

  const result: Array<Pick<Case, F>> = [];
  for (const stored of cases) {
    const change = withdrawal.get(stored.casenumber);
    // a later removal means it was there; a later restoration means it was withdrawn then
    const published = change === undefined ? stored.removed_run_id === null : change === "removed";
    if (!published) continue;
    const then: Record<string, unknown> = { ...stored };
    const undone = undo.get(stored.casenumber);
    for (const [field, old] of undone ?? []) then[field] = old !== null && numeric.has(field) ? Number(old) : old;
    if (then.is_covid !== 1) continue;
    // The words follow the person as they stood; made by the one function that makes them.
    if (undone && SENTENCE_FIELDS.some((field) => undone.has(field)) && "memorial_sentence" in then) {
      then.memorial_sentence = memorialSentence(then as Pick<Case, "age" | "gender" | "residence_city">);
    }
    result.push(Object.fromEntries(fields.map((field) => [field, then[field]])) as Pick<Case, F>);
  }
  return result;
}

/** One day of the `daily_deaths` view: YYYY-MM-DD (America/Chicago), deaths, 7-day average, running total. */
export type SeriesDay = { date: string; deaths: number; deaths_7day_avg: number; cumulative_deaths: number };

/**
 * The `daily_deaths` view's series (every day from the first death to the last, zero-filled,
 * the 7-day average rounded to 2 decimals, the running total), over deaths on the given days:
 * the view's own SQL, so both round alike.
 */
export function dailySeries(db: DB, deathDates: readonly string[]): SeriesDay[] {
  const counts: Record<string, number> = {};
  for (const date of deathDates) counts[date] = (counts[date] ?? 0) + 1;
  return db
    .prepare(
      `WITH RECURSIVE
  -- read once: json_each is read again for every day otherwise
  counts AS MATERIALIZED (SELECT key AS date, value AS deaths FROM json_each(?)),
  span (date) AS (
    SELECT min(date) FROM counts
    UNION ALL
    SELECT date(date, '+1 day') FROM span WHERE date < (SELECT max(date) FROM counts)
  ),
  filled AS (
    SELECT span.date AS date, coalesce(counts.deaths, 0) AS deaths
    FROM span LEFT JOIN counts ON counts.date = span.date
    WHERE span.date IS NOT NULL
  )
SELECT
  date,
  deaths,
  round(avg(deaths) OVER (ORDER BY date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 2) AS deaths_7day_avg,
  sum(deaths) OVER (ORDER BY date ROWS UNBOUNDED PRECEDING) AS cumulative_deaths
FROM filled
ORDER BY date`,
    )
    .all(JSON.stringify(counts)) as SeriesDay[];
}
