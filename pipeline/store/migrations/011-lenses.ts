/**
 * Lenses on the whole archive (schemas/lenses.ts): a view of each lens's deaths beside covid_deaths,
 * searchable the same way, and each run's day in America/Chicago, which the provisional estimate
 * measures the days from a death to its arrival in (older runs get it here from their start).
 */
import type { Migration } from "./migration.ts";

/** The day of an instant in America/Chicago, as the runs record it from now on. */
function chicagoDay011(instant: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Chicago", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(instant));
}

export const migration: Migration = {
  name: "011-lenses",
  sql: `
CREATE VIEW heat_deaths AS
SELECT *, rowid AS case_rowid FROM cases WHERE heat_related = 1 AND removed_run_id IS NULL;
CREATE VIEW cold_deaths AS
SELECT *, rowid AS case_rowid FROM cases WHERE cold_related = 1 AND removed_run_id IS NULL;
CREATE VIEW opioid_deaths AS
SELECT *, rowid AS case_rowid FROM cases WHERE opioid_related = 1 AND removed_run_id IS NULL;
CREATE VIEW gun_deaths AS
SELECT *, rowid AS case_rowid FROM cases WHERE gun_related = 1 AND removed_run_id IS NULL;
ALTER TABLE runs ADD COLUMN local_date TEXT;
`,
  fill(db) {
    const runs = db.prepare("SELECT id, started_at FROM runs").all() as Array<{ id: number; started_at: string }>;
    const set = db.prepare("UPDATE runs SET local_date = ? WHERE id = ?");
    for (const run of runs) set.run(chicagoDay011(run.started_at), run.id);
  },
};
