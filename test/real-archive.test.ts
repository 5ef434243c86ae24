/**
 * Real rows of the whole archive (fixtures/real/, with their provenance) loaded as a user would: the
 * two CSV exports with `vigil backfill --file ... --dataset cjeq-bs86`, the SODA sample through the
 * fixture portal with `vigil ingest --dataset cjeq-bs86`. Every lens's count must equal a count made
 * here from the files themselves. These are real people's records: assertions carry counts only.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse } from "csv-parse/sync";
import { ARCHIVE_ID, startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { dailySeries, provisional } from "../pipeline/store/figures.ts";
import { LENS_NAMES, LENSES, type LensName } from "../schemas/lenses.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { fixedClock, ROOT, runMain } from "./helpers.ts";

const REAL = join(ROOT, "fixtures", "real");
const CSV_2018 = join(REAL, "bulk-csv-2019-schema-2018h1.csv");
const CSV_2025 = join(REAL, "fieldname-csv-newest1000-2025-11-04.csv");
const JSON_FIRST10 = join(REAL, "soda-cjeq-bs86-first10.json");

/** A case as counted by hand: its Chicago day of death as written, its manner, and the lenses it is in. */
interface Counted {
  day: string;
  manner: string;
  lenses: Set<LensName>;
}

const readCsv = (path: string) => parse(readFileSync(path), { columns: true, bom: true, skip_empty_lines: true }) as Array<Record<string, string>>;
const key = (casenumber: string) => casenumber.trim().toUpperCase();
const lensesOf = (flags: Partial<Record<LensName, boolean>>) => new Set(LENS_NAMES.filter((name) => flags[name] === true));

/** The 2019 bulk export: US dates ("06/30/2018 11:59:00 PM": the day as written), true/empty checkboxes, NO/YES for cold and heat. */
function counted2018(): Map<string, Counted> {
  const cases = new Map<string, Counted>();
  for (const row of readCsv(CSV_2018)) {
    const [month, day, year] = row["Date of Death"].slice(0, 10).split("/");
    // a case number listed twice is kept as its later row, as vigil keeps it
    cases.set(key(row["Case Number"]), {
      day: `${year}-${month}-${day}`,
      manner: row["Manner of Death"].trim().toUpperCase(),
      lenses: lensesOf({
        gun: row["Gun Related"] === "true",
        opioid: row["Opioid Related"] === "true",
        cold: row["Cold Related"] === "YES",
        heat: row["Heat Related"] === "YES",
        covid: false, // no COVID Related column yet, and no cause names it in the first half of 2018
      }),
    });
  }
  return cases;
}

/** The 2025 dump of the API's rows by pandas: ISO floating dates, Python True/False; a row without a death date is refused. */
function counted2025(): Map<string, Counted> {
  const cases = new Map<string, Counted>();
  for (const row of readCsv(CSV_2025)) {
    if (!row.death_date) continue;
    cases.set(key(row.casenumber), {
      day: row.death_date.slice(0, 10),
      manner: row.manner.trim().toUpperCase(),
      lenses: lensesOf({ covid: row.covid_related === "True", gun: row.gunrelated === "True", opioid: row.opioids === "True", cold: row.cold_related === "True", heat: row.heat_related === "True" }),
    });
  }
  return cases;
}

function countedJson(rows: RawRow[]): Map<string, Counted> {
  return new Map(
    rows.map((row) => [
      key(String(row.casenumber)),
      {
        day: String(row.death_date).slice(0, 10),
        manner: String(row.manner ?? "").toUpperCase(),
        lenses: lensesOf({ covid: row.covid_related === true, gun: row.gunrelated === true, opioid: row.opioids === true, cold: row.cold_related === true, heat: row.heat_related === true }),
      },
    ]),
  );
}

/** The SODA sample as the portal serves it: each row with the system fields its query adds. */
function servedJson(): RawRow[] {
  const rows = JSON.parse(readFileSync(JSON_FIRST10, "utf8")) as RawRow[];
  return rows.map((row, i) => ({ ":id": `row-real-${String(i).padStart(4, "0")}`, ":created_at": "2019-01-01T00:00:00.000Z", ":updated_at": "2019-01-01T00:00:00.000Z", ...row }));
}

let dir: string;
let db: string;
let portal: FixturePortal;
let all: Map<string, Counted>;
const now = fixedClock("2026-11-26T12:00:00Z");

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-real-"));
  db = join(dir, "vigil.db");
  const json = servedJson();
  portal = await startPortal({ datasets: { [ARCHIVE_ID]: json } });
  // the sync first: it answers for the whole dataset, so cases only the files hold would be withdrawn after it
  const ingest = await runMain(["ingest", "--db", db, "--portal", portal.url, "--dataset", ARCHIVE_ID, "--log-format", "json"], { now });
  assert.equal(ingest.code, 0, "vigil ingest of the SODA sample");
  for (const file of [CSV_2018, CSV_2025]) {
    const result = await runMain(["backfill", "--db", db, "--file", file, "--dataset", ARCHIVE_ID, "--log-format", "json"], { now });
    assert.equal(result.code, 0, `vigil backfill --file ${file.slice(REAL.length + 1)}`);
  }
  all = new Map([...countedJson(json), ...counted2018(), ...counted2025()]);
});

after(async () => {
  await portal?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function open() {
  const conn = new Database(db, { readonly: true });
  return conn;
}

test("every real row is kept but the two the files themselves refuse: a case number's earlier row and a row without a death date", () => {
  const conn = open();
  try {
    assert.equal(conn.prepare("SELECT count(*) FROM cases").pluck().get(), all.size);
    assert.equal(all.size, 10 + 2939 + 999, "the hand count itself: 10, 2,940 less one case listed twice, 1,000 less one without a death date");
    const codes = conn.prepare("SELECT codes FROM rejects ORDER BY id").pluck().all();
    assert.deepEqual(codes, ['["duplicate_casenumber"]', '["missing_death_date"]']);
  } finally {
    conn.close();
  }
});

test("each lens's view and daily series count the real rows as a count by hand does", () => {
  const conn = open();
  try {
    const byHand = Object.fromEntries(LENS_NAMES.map((name) => [name, [...all.values()].filter((c) => c.lenses.has(name)).length]));
    // the counts the provenance gives, so the hand count itself is checked
    assert.deepEqual(byHand, { covid: 0, heat: 2, cold: 34, opioid: 369 + 33 + 1, gun: 346 + 102 });
    for (const name of LENS_NAMES) {
      assert.equal(conn.prepare(`SELECT count(*) FROM ${LENSES[name].view}`).pluck().get(), byHand[name], `${name}: the view`);
      const series = dailySeries(conn, undefined, name);
      assert.equal(series.reduce((sum, d) => sum + d.deaths, 0), byHand[name], `${name}: the daily series`);
    }
  } finally {
    conn.close();
  }
});

test("the opioid, gun and cold series count each Chicago day as written, day by day", () => {
  const conn = open();
  try {
    for (const name of ["opioid", "gun", "cold"] as const) {
      const byDay = new Map<string, number>();
      for (const c of all.values()) if (c.lenses.has(name)) byDay.set(c.day, (byDay.get(c.day) ?? 0) + 1);
      const series = dailySeries(conn, undefined, name);
      const drawn = new Map(series.filter((d) => d.deaths > 0).map((d) => [d.date, d.deaths]));
      assert.deepEqual([...drawn].sort(), [...byDay].sort(), `${name}: deaths per day`);
      const days = [...byDay.keys()].sort();
      assert.deepEqual([series[0].date, series.at(-1)!.date], [days[0], days.at(-1)], `${name}: the series spans the first to the last death`);
    }
  } finally {
    conn.close();
  }
});

test("the opioid lens: its pending cases are the real PENDING cases not flagged opioid-related; bulk loads measure no lag", () => {
  const conn = open();
  try {
    const pending = [...all.values()].filter((c) => c.manner === "PENDING" && !c.lenses.has("opioid")).length;
    const pending2025 = [...counted2025().values()].filter((c) => c.manner === "PENDING").length;
    assert.equal(pending2025, 380, "the 2025 dump's open cases");
    const p = provisional(conn, undefined, "opioid");
    assert.equal(p.pending, pending);
    assert.equal(p.lens, "opioid");
    // the sync was the first load, and the files came in bulk: neither tells how long a death took to
    // arrive (a file loaded today holds deaths of 2018), so the lag is the lens's default
    assert.equal(p.as_of_date, "2026-11-26");
    assert.deepEqual({ observed: p.lag_observed, days: p.lag_days, source: p.lag_source }, { observed: 0, days: LENSES.opioid.defaultLagDays, source: "default" });
    assert.equal(p.provisional_from, plusDays("2026-11-26", 1 - LENSES.opioid.defaultLagDays));
  } finally {
    conn.close();
  }
});

/** A day plus `days`, YYYY-MM-DD. */
function plusDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
