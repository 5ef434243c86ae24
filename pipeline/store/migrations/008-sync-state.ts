/**
 * What a nightly ingest needs to fetch only what changed: how the run synced and why, the columns
 * the view described, and the newest `:updated_at` the record has seen.
 */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "008-sync-state",
  sql: `
ALTER TABLE runs ADD COLUMN sync TEXT CHECK (sync IN ('full', 'incremental', 'unchanged'));
ALTER TABLE runs ADD COLUMN sync_reason TEXT;
ALTER TABLE runs ADD COLUMN source_columns TEXT;
ALTER TABLE runs ADD COLUMN source_max_updated_at TEXT;
`,
};
