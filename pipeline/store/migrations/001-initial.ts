/** The first schema: runs, cases with their revisions and full-text index, rejects, the two views. */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "001-initial",
  sql: `
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed', 'abandoned')),
  started_at TEXT NOT NULL,
  finished_at TEXT,
  duration_ms INTEGER,
  portal TEXT,
  dataset TEXT,
  source_file TEXT,
  source_rows_updated_at TEXT,
  fetched INTEGER,
  inserted INTEGER,
  updated INTEGER,
  unchanged INTEGER,
  removed INTEGER,
  restored INTEGER,
  rejected INTEGER,
  unknown_columns TEXT,
  missing_columns TEXT,
  error TEXT,
  version TEXT NOT NULL,
  pid INTEGER
);

CREATE TABLE cases (
  casenumber TEXT PRIMARY KEY NOT NULL,
  death_date TEXT NOT NULL,
  death_datetime TEXT NOT NULL,
  incident_date TEXT,
  incident_datetime TEXT,
  age INTEGER,
  age_group TEXT,
  gender TEXT,
  race TEXT,
  latino INTEGER,
  race_ethnicity TEXT NOT NULL,
  manner TEXT,
  primary_cause TEXT,
  primary_cause_line_a TEXT,
  primary_cause_line_b TEXT,
  primary_cause_line_c TEXT,
  secondary_cause TEXT,
  covid_related INTEGER,
  is_covid INTEGER NOT NULL,
  gun_related INTEGER,
  opioid_related INTEGER,
  cold_related INTEGER,
  heat_related INTEGER,
  incident_address TEXT,
  incident_city TEXT,
  incident_zip TEXT,
  residence_city TEXT,
  residence_zip TEXT,
  latitude REAL,
  longitude REAL,
  commissioner_district INTEGER,
  chicago_ward INTEGER,
  chicago_community_area TEXT,
  transportation_related_type TEXT,
  transportation_status TEXT,
  objectid INTEGER,
  notes TEXT,
  source_row_id TEXT,
  source_updated_at TEXT,
  first_run_id INTEGER NOT NULL REFERENCES runs(id),
  changed_run_id INTEGER NOT NULL REFERENCES runs(id),
  removed_run_id INTEGER REFERENCES runs(id)
);
CREATE INDEX cases_death_date ON cases (death_date) WHERE removed_run_id IS NULL AND is_covid = 1;
CREATE INDEX cases_changed_run ON cases (changed_run_id);

CREATE TABLE case_revisions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  casenumber TEXT NOT NULL,
  change TEXT NOT NULL CHECK (change IN ('added', 'changed', 'removed', 'restored')),
  field TEXT,
  old_value TEXT,
  new_value TEXT
);
CREATE INDEX case_revisions_case ON case_revisions (casenumber);
CREATE INDEX case_revisions_run ON case_revisions (run_id);

CREATE TABLE rejects (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  source_row_id TEXT,
  casenumber TEXT,
  reasons TEXT NOT NULL,
  raw TEXT NOT NULL
);
CREATE INDEX rejects_run ON rejects (run_id);
-- A row refused again by a later run is not stored twice; runs.rejected still counts it.
CREATE UNIQUE INDEX rejects_raw ON rejects (raw);

CREATE VIRTUAL TABLE cases_fts USING fts5 (primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause, content = 'cases', content_rowid = 'rowid');
CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN
  INSERT INTO cases_fts (rowid, primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause)
  VALUES (new.rowid, new.primary_cause, new.primary_cause_line_a, new.primary_cause_line_b, new.primary_cause_line_c, new.secondary_cause);
END;
CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN
  INSERT INTO cases_fts (cases_fts, rowid, primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause)
  VALUES ('delete', old.rowid, old.primary_cause, old.primary_cause_line_a, old.primary_cause_line_b, old.primary_cause_line_c, old.secondary_cause);
END;
CREATE TRIGGER cases_fts_update AFTER UPDATE OF primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause ON cases BEGIN
  INSERT INTO cases_fts (cases_fts, rowid, primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause)
  VALUES ('delete', old.rowid, old.primary_cause, old.primary_cause_line_a, old.primary_cause_line_b, old.primary_cause_line_c, old.secondary_cause);
  INSERT INTO cases_fts (rowid, primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause)
  VALUES (new.rowid, new.primary_cause, new.primary_cause_line_a, new.primary_cause_line_b, new.primary_cause_line_c, new.secondary_cause);
END;

CREATE VIEW covid_deaths AS
SELECT * FROM cases WHERE is_covid = 1 AND removed_run_id IS NULL;

CREATE VIEW daily_deaths AS
WITH RECURSIVE
  counts AS (
    SELECT death_date AS date, count(*) AS deaths FROM cases
    WHERE is_covid = 1 AND removed_run_id IS NULL GROUP BY death_date
  ),
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
ORDER BY date;
`,
};
