/**
 * Datasette searches a view through its FTS table only when the view carries the row id the FTS
 * index is keyed on.
 */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "003-covid-deaths-searchable",
  sql: `
DROP VIEW covid_deaths;
CREATE VIEW covid_deaths AS
SELECT *, rowid AS case_rowid FROM cases WHERE is_covid = 1 AND removed_run_id IS NULL;
`,
};
