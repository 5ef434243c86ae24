/**
 * Each published figure has one home. The daily series becomes a table that the run changing the
 * record writes from pipeline/store/figures/daily-series.sql (filled here from the view it
 * replaces, less its averages of fewer than seven days); whether a run changed the record is decided once, when it
 * finishes, and stored (older runs get it here from their counts); the as-of rule looks revisions
 * up by case and run.
 */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "010-published-figures",
  sql: `
CREATE TABLE daily_deaths_table (
  date TEXT PRIMARY KEY NOT NULL,
  deaths INTEGER NOT NULL,
  deaths_7day_avg REAL,
  cumulative_deaths INTEGER NOT NULL
);
INSERT INTO daily_deaths_table (date, deaths, deaths_7day_avg, cumulative_deaths)
SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths;
DROP VIEW daily_deaths;
-- an average of fewer than seven days is no 7-day average
UPDATE daily_deaths_table SET deaths_7day_avg = NULL
WHERE date < date((SELECT min(date) FROM daily_deaths_table), '+6 days');
ALTER TABLE daily_deaths_table RENAME TO daily_deaths;
ALTER TABLE runs ADD COLUMN changed INTEGER;
UPDATE runs SET changed = (coalesce(inserted, 0) + coalesce(updated, 0) + coalesce(removed, 0) + coalesce(restored, 0) > 0)
WHERE status = 'success';
CREATE INDEX case_revisions_case_run ON case_revisions (casenumber, run_id);
`,
};
