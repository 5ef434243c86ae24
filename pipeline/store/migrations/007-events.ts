/**
 * The dated events the time charts mark and datasette lists, starting with the built-in ones as
 * they shipped with this migration (pipeline/store/reference/events/events.csv then). Each
 * `vigil run` keeps the table in step with the built-in list of its version from then on.
 */
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "007-events",
  sql: `
CREATE TABLE events (
  date TEXT NOT NULL,
  label TEXT NOT NULL,
  source_url TEXT NOT NULL,
  origin TEXT NOT NULL CHECK (origin IN ('built-in', 'site')),
  PRIMARY KEY (date, label)
);
INSERT INTO events (date, label, source_url, origin) VALUES
  ('2020-03-16', 'First confirmed COVID-19 death in Cook County', 'https://enewspf.com/latest-news/latest-local-news/cook-county-medical-examiners-office-reaches-grim-milestone/', 'built-in'),
  ('2022-04-01', 'Medical Examiner stops taking COVID-19 deaths in hospitals and nursing homes', 'https://datacatalog.cookcountyil.gov/stories/s/ttk4-trbu', 'built-in');
`,
};
