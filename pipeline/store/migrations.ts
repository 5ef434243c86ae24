/**
 * Named schema migrations, applied in order and recorded in the `migrations` table. A migration
 * that has shipped is never edited: add a new one.
 */
import type Database from "better-sqlite3";
import { memorialSentence, type Person } from "../normalize/memorial.ts";
import { loadPopulation, POPULATION_SQL } from "./population.ts";
import { EVENTS_SQL, loadBuiltInEvents } from "./events.ts";

export interface Migration {
  name: string;
  sql: string;
  /** Fills what SQL cannot compute (a value vigil derives in TypeScript), after `sql`, in the same transaction. */
  fill?: (db: Database.Database) => void;
}

const causeColumns = "primary_cause, primary_cause_line_a, primary_cause_line_b, primary_cause_line_c, secondary_cause";

export const MIGRATIONS: readonly Migration[] = [
  {
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

CREATE VIRTUAL TABLE cases_fts USING fts5 (${causeColumns}, content = 'cases', content_rowid = 'rowid');
CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN
  INSERT INTO cases_fts (rowid, ${causeColumns})
  VALUES (new.rowid, new.primary_cause, new.primary_cause_line_a, new.primary_cause_line_b, new.primary_cause_line_c, new.secondary_cause);
END;
CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN
  INSERT INTO cases_fts (cases_fts, rowid, ${causeColumns})
  VALUES ('delete', old.rowid, old.primary_cause, old.primary_cause_line_a, old.primary_cause_line_b, old.primary_cause_line_c, old.secondary_cause);
END;
CREATE TRIGGER cases_fts_update AFTER UPDATE OF ${causeColumns} ON cases BEGIN
  INSERT INTO cases_fts (cases_fts, rowid, ${causeColumns})
  VALUES ('delete', old.rowid, old.primary_cause, old.primary_cause_line_a, old.primary_cause_line_b, old.primary_cause_line_c, old.secondary_cause);
  INSERT INTO cases_fts (rowid, ${causeColumns})
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
  },
  {
    // A backfill commits as it goes; these let a killed one resume where its last commit ended.
    name: "002-backfill-checkpoints",
    sql: `
CREATE TABLE backfill_checkpoints (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id),
  source TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  header TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  line INTEGER NOT NULL,
  records INTEGER NOT NULL,
  outside INTEGER NOT NULL,
  digest TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE backfill_seen (casenumber TEXT PRIMARY KEY) WITHOUT ROWID;
`,
  },
  {
    // Datasette searches a view through its FTS table only when the view carries the row id the
    // FTS index is keyed on.
    name: "003-covid-deaths-searchable",
    sql: `
DROP VIEW covid_deaths;
CREATE VIEW covid_deaths AS
SELECT *, rowid AS case_rowid FROM cases WHERE is_covid = 1 AND removed_run_id IS NULL;
`,
  },
  {
    // The memorial's words are computed in TypeScript when a case is written; cases written
    // before get theirs here.
    name: "004-memorial-sentence",
    sql: "ALTER TABLE cases ADD COLUMN memorial_sentence TEXT;",
    fill(db) {
      const update = db.prepare("UPDATE cases SET memorial_sentence = ? WHERE rowid = ?");
      const batch = db.prepare("SELECT rowid, age, gender, residence_city FROM cases WHERE rowid > ? ORDER BY rowid LIMIT 10000");
      // in batches: a statement cannot write while another one is still reading
      for (let after = 0, rows; (rows = batch.all(after) as Array<Person & { rowid: number }>).length > 0; after = rows[rows.length - 1].rowid) {
        for (const row of rows) update.run(memorialSentence(row), row.rowid);
      }
    },
  },
  {
    // The cases a backfill refused a row of, kept with its checkpoints: a resumed backfill must
    // still spare them from its tombstone pass.
    name: "005-backfill-rejected",
    sql: "CREATE TABLE backfill_rejected (casenumber TEXT PRIMARY KEY) WITHOUT ROWID;",
  },
  {
    // The denominators of the death rates, from the files shipped in store/reference/population/.
    name: "006-population",
    sql: POPULATION_SQL,
    fill: loadPopulation,
  },
  {
    // The dated events the time charts mark and datasette lists, starting with the built-in ones.
    name: "007-events",
    sql: EVENTS_SQL,
    fill: loadBuiltInEvents,
  },
  {
    // What a nightly ingest needs to fetch only what changed: how the run synced and why, the
    // columns the view described, and the newest `:updated_at` the record has seen.
    name: "008-sync-state",
    sql: `
ALTER TABLE runs ADD COLUMN sync TEXT CHECK (sync IN ('full', 'incremental', 'unchanged'));
ALTER TABLE runs ADD COLUMN sync_reason TEXT;
ALTER TABLE runs ADD COLUMN source_columns TEXT;
ALTER TABLE runs ADD COLUMN source_max_updated_at TEXT;
`,
  },
  {
    // Each published figure has one home. The daily series becomes a table that the run changing the
    // record writes from pipeline/store/figures/daily-series.sql (filled here from the view it
    // replaces, which gave the same rows); whether a run changed the record is decided once, when it
    // finishes, and stored; the as-of rule looks revisions up by case and run.
    name: "010-published-figures",
    sql: `
CREATE TABLE daily_deaths_table (
  date TEXT PRIMARY KEY NOT NULL,
  deaths INTEGER NOT NULL,
  deaths_7day_avg REAL NOT NULL,
  cumulative_deaths INTEGER NOT NULL
);
INSERT INTO daily_deaths_table (date, deaths, deaths_7day_avg, cumulative_deaths)
SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths;
DROP VIEW daily_deaths;
ALTER TABLE daily_deaths_table RENAME TO daily_deaths;
ALTER TABLE runs ADD COLUMN changed INTEGER;
UPDATE runs SET changed = (coalesce(inserted, 0) + coalesce(updated, 0) + coalesce(removed, 0) + coalesce(restored, 0) > 0)
WHERE status = 'success';
CREATE INDEX case_revisions_case_run ON case_revisions (casenumber, run_id);
`,
  },
];
