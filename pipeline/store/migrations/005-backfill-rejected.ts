/**
 * The cases a backfill refused a row of, kept with its checkpoints: a resumed backfill must still
 * spare them from its tombstone pass.
 */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "005-backfill-rejected",
  sql: "CREATE TABLE backfill_rejected (casenumber TEXT PRIMARY KEY) WITHOUT ROWID;",
};
