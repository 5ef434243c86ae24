/** A backfill commits as it goes; these let a killed one resume where its last commit ended. */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
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
};
