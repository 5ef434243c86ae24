/**
 * Databases for the widget tests, loaded through the pipeline's own stages (normalize, then the
 * case writer in one transaction per run), so the views and the runs table are the real ones.
 */
import { openDatabase } from "../pipeline/store/db.ts";
import { chicagoDate, normalizeRow } from "../pipeline/normalize/row.ts";
import { finishRun, startRun } from "../pipeline/store/run-records.ts";
import { CaseWriter } from "../pipeline/store/case-writer.ts";
import type { RawRow } from "../schemas/source-columns.ts";

/**
 * One successful sync of `rows` at `at`: new cases are added, changed ones updated, and COVID
 * cases missing from `rows` are tombstoned, as `vigil ingest` does.
 */
export function syncRows(path: string, rows: readonly RawRow[], at: string, source = { portal: "https://datacatalog.cookcountyil.gov", dataset: "3trz-enys" }): number {
  const db = openDatabase(path);
  try {
    const now = new Date(at);
    const runId = startRun(db, { kind: "ingest", ...source, now });
    const writer = new CaseWriter(db, runId);
    db.transaction(() => {
      for (const raw of rows) {
        const result = normalizeRow(raw, { today: chicagoDate(now) });
        if (result.ok) writer.apply(result);
        else writer.reject(result, raw);
      }
      writer.markRemoved("covid");
      writer.counts.fetched = rows.length;
      finishRun(db, runId, { counts: writer.counts, drift: { unknown: [], missing: [] }, sourceRowsUpdatedAt: null, now, durationMs: 1 });
    }).immediate();
    return runId;
  } finally {
    db.close();
  }
}

/** A raw COVID row as the portal sends it, with only what a test cares about. */
export function covidRow(casenumber: string, deathDate: string, fields: RawRow = {}): RawRow {
  return {
    casenumber,
    death_date: deathDate.includes("T") ? deathDate : `${deathDate}T12:00:00.000`,
    primarycause: "COVID-19 VIRAL INFECTION",
    covid_related: true,
    manner: "NATURAL",
    ...fields,
  };
}

const AGES = [84, 71, 66, 92, 55, 78, 43, 88, 61, 37, 0, 29, 81, 74, 17, 95, 68, 52, null] as const;
const GENDERS = ["Male", "Female", "Male", "Male", "Female", undefined] as const;
const RACES = ["White", "Black", "White", "Black", "Asian", "White", "Other", "Unknown", "White", "Am. Indian", "Black"] as const;
const CITIES = ["CHICAGO", "CICERO", "OAK LAWN", "EVANSTON", "CHICAGO", "BERWYN", "MCCOOK", "LA GRANGE PARK", "CHICAGO", "UNKNOWN", "SKOKIE"] as const;

/**
 * The fixed fixture behind the golden files: two waves over a year, ~1,000 people whose age,
 * gender, race and city cycle through fixed lists. Written out here rather than drawn from the
 * shared generator so that the goldens change only when the widgets do.
 */
export function goldenRows(): RawRow[] {
  const rows: RawRow[] = [];
  const first = Date.UTC(2020, 2, 16);
  let k = 0;
  for (let day = 0; day < 381; day++) {
    const wave = 9 * Math.exp(-(((day - 45) / 22) ** 2)) + 12 * Math.exp(-(((day - 265) / 30) ** 2));
    const count = Math.max(0, Math.round(wave + ((day * 7) % 5) - 2));
    const date = new Date(first + day * 86_400_000).toISOString().slice(0, 10);
    for (let i = 0; i < count; i++, k++) {
      const age = AGES[k % AGES.length];
      const gender = GENDERS[k % GENDERS.length];
      const row = covidRow(`ME${date.slice(0, 4)}-${String(10_000 + k).padStart(5, "0")}`, `${date}T${String((k * 5) % 24).padStart(2, "0")}:${String(k % 60).padStart(2, "0")}:00.000`, {
        race: RACES[k % RACES.length],
        latino: k % 5 === 0,
        residence_city: CITIES[k % CITIES.length],
        incident_street: `${100 + k} W MADISON ST`,
        latitude: "41.88",
        longitude: "-87.63",
      });
      if (age !== null) row.age = String(age);
      if (gender !== undefined) row.gender = gender;
      rows.push(row);
    }
  }
  return rows;
}

/**
 * People who died on 2020-12-03, one edge case each, in their order of death; and two more
 * whose records carry markup, on 2020-12-04.
 */
export const MEMORIAL_DAY = "2020-12-03";
export const MARKUP_DAY = "2020-12-04";
export const STREET = "4321 N FAKE MEMORIAL AVE";
export const MARKUP_CAUSE = `<script>window.vigilCause = true</script> COVID-19`;

export function edgeRows(): RawRow[] {
  const d = (time: string) => `${MEMORIAL_DAY}T${time}:00.000`;
  return [
    covidRow("ME2020-90001", d("01:10"), { age: "47", gender: "Male", residence_city: "Chicago", incident_street: STREET, latitude: "41.7802969", longitude: "-87.61213873" }),
    covidRow("ME2020-90002", d("02:20"), { age: "9 months", gender: "Female", residence_city: "OAK LAWN" }),
    covidRow("ME2020-90003", d("03:30"), {}),
    covidRow("ME2020-90004", d("04:40"), { age: "81", gender: "Female", residence_city: "Unknown" }),
    covidRow("ME2020-90005", d("05:50"), { age: "12", gender: "Male", residence_city: "MCCOOK" }),
    covidRow("ME2020-90006", d("06:00"), { age: "18", gender: "Female", residence_city: "5678 S ELM AVE" }),
    // not a COVID death: never in the memorial
    { casenumber: "ME2020-90007", death_date: d("07:00"), age: "50", gender: "Male", primarycause: "HEART DISEASE", covid_related: false, residence_city: "CHICAGO" },
    covidRow(`ME2020-90008`, `${MARKUP_DAY}T08:00:00.000`, { age: "70", gender: "Male", residence_city: "<script>window.vigilinjected=true</script>", primarycause: MARKUP_CAUSE }),
    covidRow(`ME2020-90009`, `${MARKUP_DAY}T09:00:00.000`, { age: "71", gender: "Female", residence_city: "<em class=vigil-injected>Oak Park</em> & Sons", secondarycause: "<b>HYPERTENSION</b>" }),
  ];
}

/** What the memorial must say for MEMORIAL_DAY, in order. */
export const MEMORIAL_SENTENCES = [
  "A 47-year-old man from Chicago.",
  "A baby under one year old from Oak Lawn.",
  "A person.",
  "An 81-year-old woman.",
  "A 12-year-old boy from McCook.",
  "An 18-year-old woman.",
];

/** A case that a later run no longer sees: tombstoned, so it must leave the memorial. */
export const REMOVED_ROW = covidRow("ME2020-90010", `${MEMORIAL_DAY}T10:00:00.000`, { age: "66", gender: "Male", residence_city: "BERWYN" });
