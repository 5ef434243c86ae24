/**
 * The memorial's words are computed once, in TypeScript, when a case is written
 * (pipeline/normalize/memorial.ts), and stored in cases.memorial_sentence. This contract holds
 * every path to that column: ingest of thousands of generated people plus hand-made awkward ones,
 * a correction upstream, and a database written before the column existed (its migration fills
 * it); then it checks that datasette's memorial query and the site's memorial files show exactly
 * the stored words, and that no SQL in datasette/ words anything itself.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse } from "yaml";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { memorialSentence } from "../pipeline/normalize/memorial.ts";
import { startDatasette, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { MIGRATIONS } from "../pipeline/store/migrations.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { memorialYears } from "../site-widgets/memorial.ts";
import { readWidgetData } from "../site-widgets/read.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT } from "./helpers.ts";
import { ensureDatasette, fetchJson, type Row } from "./datasette-helpers.ts";

const DATASET = "3trz-enys";

/** Awkward cities, as the county might send them; ingest normalizes them (upper case, white space). */
const PORTAL_CITIES = [
  "MCCOOK", "LA GRANGE PARK", "O'HARE", "WINNETKA-GLENCOE", "UNKNOWN", "123 MAIN ST", "  chicago  heights ",
  "VILLAGE OF OAK PARK", "THE VILLAGE", "OF THE LAKE", "LAND O' LAKES", "MCCOOK-MCHENRY", "MC", "D'ARCY", "ST. JOHN",
  "unk.", "N/A", "NA", "none", "NULL", "Not  Provided", "--", "???", "-.", "UNKNOWN..", "PO BOX 9", "a-of", "x'the",
  "BEDFORD PARK-", "-IN THE PARK", "HOMEWOOD AND FLOSSMOOR", "RIVER'S EDGE", "ON THE LAKE", "SOUTH  HOLLAND",
];
/** Genders as the county might send them. */
const PORTAL_GENDERS = ["Male", "Female", "M", "F", "m", "f", "MALE", "female", "Unknown", "X", undefined];
/** Every age whose wording differs: infants (also written in months), children, the "an" ages, none. */
const PORTAL_AGES = ["0", "2 months", "1", "8", "11", "17", "18", "19", "80", "81", "88", "89", "90", "108", undefined];

/**
 * What the database may hold without ingest's normalization (an older version, a hand edit, a
 * backfill): the SQL must read it as the site does, white space of every kind included.
 */
const STORED_CITIES = [
  "  chicago  heights ", "\tMCCOOK\n", "la grange park", "o'hare", "Winnetka-Glencoe", "OAK\u00a0LAWN",
  "PARK\u3000RIDGE\u2003", "\ufeffEVANSTON", " unknown ", "Unk.", "n/a\t", "NOT \u00a0 PROVIDED", "- - -", "",
  "   ", "123 main st", "mcCOOK", "Mc Cook", "of", " the village of  oak park ", "x-''-y", "'", "-", ".",
];
const STORED_GENDERS = [" male ", "\tF\n", "FEMALE", "m", "\u00a0Male\u00a0", "", " ", "unknown", "MF", null];

let dir: string;
let dbPath: string;
let oldPath: string;
let portal: FixturePortal;
let served: DatasetteServer;
let db: Database.Database;

/** A COVID-19 death on `day` as the portal sends it, with only the fields the sentence uses varied. */
function portalRow(n: number, day: string, age: string | undefined, gender: string | undefined, city: string | undefined): RawRow {
  const row: RawRow = {
    ":id": `row-memorial-${n}`,
    casenumber: `ME2021-9${String(n).padStart(4, "0")}`,
    death_date: `${day}T${String(n % 24).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}:00.000`,
    race: "White",
    latino: false,
    primarycause: "COVID-19 PNEUMONIA",
    covid_related: true,
    manner: "NATURAL",
  };
  if (age !== undefined) row.age = age;
  if (gender !== undefined) row.gender = gender;
  if (city !== undefined) row.residence_city = city;
  return row;
}

function handMadeRows(): RawRow[] {
  const rows: RawRow[] = [];
  const days = ["2020-12-01", "2021-01-15", "2021-06-30"];
  let n = 0;
  // Every city with several ages and genders, and every age with every gender.
  for (const city of [...PORTAL_CITIES, undefined]) {
    for (let k = 0; k < 3; k++, n++) rows.push(portalRow(n, days[n % 3], PORTAL_AGES[n % PORTAL_AGES.length], PORTAL_GENDERS[n % PORTAL_GENDERS.length], city));
  }
  for (const age of PORTAL_AGES) {
    for (const gender of PORTAL_GENDERS) rows.push(portalRow(n++, days[n % 3], age, gender, "CHICAGO"));
  }
  return rows;
}

/**
 * A database as vigil wrote it before cases had a memorial_sentence column, holding rows past
 * ingest's normalization (an older version, a hand edit); opening it applies the migration.
 */
function storeUntidyRows(path: string): void {
  const writer = new Database(path);
  try {
    writer.exec("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
    const before = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === "004-memorial-sentence"));
    for (const migration of before) {
      writer.exec(migration.sql);
      writer.prepare("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00Z')").run(migration.name);
    }
    writer.prepare("INSERT INTO runs (id, kind, status, started_at, version) VALUES (1, 'ingest', 'success', '2026-01-01T00:00:00Z', '0.1.0')").run();
    const insert = writer.prepare(
      `INSERT INTO cases (casenumber, death_date, death_datetime, age, age_group, gender, race_ethnicity, residence_city, is_covid, first_run_id, changed_run_id)
       VALUES (?, ?, ?, ?, NULL, ?, 'Unknown', ?, 1, 1, 1)`,
    );
    const ages = [0, null, 8, 11, 18, 80, 89, 5, 47];
    writer.transaction(() => {
      let n = 0;
      for (const city of [...STORED_CITIES, null]) {
        for (const gender of STORED_GENDERS.slice(0, 3)) {
          const day = n % 2 === 0 ? "2021-02-02" : "2021-02-03";
          insert.run(`ME2021-8${String(n).padStart(4, "0")}`, day, `${day}T12:${String(n % 60).padStart(2, "0")}:00`, ages[n % ages.length], gender, city);
          n++;
        }
      }
      for (const gender of STORED_GENDERS) {
        for (const age of ages) {
          insert.run(`ME2021-8${String(n).padStart(4, "0")}`, "2021-02-04", `2021-02-04T${String(n % 24).padStart(2, "0")}:00:00`, age, gender, "Chicago");
          n++;
        }
      }
    })();
  } finally {
    writer.close();
  }
  openDatabase(path).close();
}

before(async () => {
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-memorial-"));
  dbPath = join(dir, "vigil.db");
  portal = await startPortal({ datasets: { [DATASET]: [...generateCovidView({ seed: 7, count: 3000 }), ...handMadeRows()] } });
  const result = await ingest({
    config: { db: dbPath, portal: portal.url, dataset: DATASET },
    log: memoryLogger(),
    now: fixedClock("2026-11-25T12:00:00Z"),
    http: FAST_HTTP,
  });
  const handMade = handMadeRows().length;
  const loaded = new Database(dbPath, { readonly: true });
  const stored = loaded.prepare("SELECT count(*) FROM covid_deaths WHERE casenumber LIKE 'ME2021-9%'").pluck().get();
  loaded.close();
  assert.equal(stored, handMade, `every hand-made row loaded (${result.counts.rejected} rejected)`);
  oldPath = join(dir, "old.db");
  storeUntidyRows(oldPath);
  served = await startDatasette({ db: dbPath, port: 0 });
  db = new Database(dbPath, { readonly: true });
});

after(async () => {
  db?.close();
  await Promise.all([served?.stop(), portal?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Person {
  casenumber: string;
  death_date: string;
  age: number | null;
  gender: string | null;
  residence_city: string | null;
  memorial_sentence: string | null;
}

const everyone = (from = db) =>
  from
    .prepare("SELECT casenumber, death_date, age, gender, residence_city, memorial_sentence FROM covid_deaths ORDER BY death_date, death_datetime, casenumber")
    .all() as Person[];

/** People whose stored words are not what the memorial's function says for their stored fields. */
const misworded = (people: Person[]) =>
  people
    .filter((p) => p.memorial_sentence !== memorialSentence(p))
    .map((p) => `${p.casenumber} ${JSON.stringify([p.age, p.gender, p.residence_city])}: stored ${JSON.stringify(p.memorial_sentence)}`);

test("the people cover every way the sentence can go", () => {
  const people = [...everyone(), ...withOld((old) => everyone(old))];
  const city = (p: Person) => p.residence_city ?? "";
  // Judged from the stored values, not from either implementation's output.
  const cases: Array<[string, (p: Person) => boolean]> = [
    ["under one year old", (p) => p.age === 0],
    ["no age", (p) => p.age === null],
    ["an 8-, 11-, 18-year-old", (p) => p.age === 8 || p.age === 11 || p.age === 18],
    ["an 80- to 89-year-old", (p) => p.age !== null && p.age >= 80 && p.age <= 89],
    ["a 90-year-old and older", (p) => p.age !== null && p.age >= 90],
    ["a boy", (p) => p.age !== null && p.age > 0 && p.age < 18 && /^\s*m(ale)?\s*$/i.test(p.gender ?? "")],
    ["a girl", (p) => p.age !== null && p.age > 0 && p.age < 18 && /^\s*f(emale)?\s*$/i.test(p.gender ?? "")],
    ["a child", (p) => p.age !== null && p.age > 0 && p.age < 18 && !/^\s*(m|f|male|female)\s*$/i.test(p.gender ?? "")],
    ["M and F", (p) => /^\s*[mf]\s*$/i.test(p.gender ?? "")],
    ["untidy gender", (p) => /^\s|\s$/.test(p.gender ?? "")],
    ["unknown gender", (p) => p.gender !== null && !/^\s*(m|f|male|female)\s*$/i.test(p.gender)],
    ["no gender", (p) => p.gender === null],
    ["no city", (p) => p.residence_city === null],
    ["a city not recorded", (p) => /^\s*(unknown|n\/a|unk\.)\s*$/i.test(city(p))],
    ["a street address", (p) => /\d/.test(city(p))],
    ["Mc", (p) => /^mc[a-z]/i.test(city(p))],
    ["a small word inside", (p) => /\s(of|the|and|on|in)\s/i.test(city(p))],
    ["a small word first", (p) => /^(of|the)\s/i.test(city(p))],
    ["a hyphen", (p) => /\w-\w/.test(city(p))],
    ["an apostrophe", (p) => /\w'\w/.test(city(p))],
    ["white space to collapse and trim", (p) => /^\s|\s$|\s\s|[^\S ]/.test(city(p))],
  ];
  const missing = cases.filter(([, covered]) => !people.some(covered)).map(([name]) => name);
  assert.deepEqual(missing, []);
  assert.ok(people.length > 3000, `${people.length} people`);
});

function withOld<T>(fn: (old: Database.Database) => T): T {
  const old = new Database(oldPath, { readonly: true });
  try {
    return fn(old);
  } finally {
    old.close();
  }
}

test("every case stores the memorial's words for its age, gender and city, as ingest wrote it", () => {
  const people = everyone();
  assert.deepEqual(misworded(people).slice(0, 20), []);
  const said = (age: number | null, gender: string | null, city: string | null) =>
    people.find((p) => p.age === age && p.gender === gender && p.residence_city === city)?.memorial_sentence;
  assert.equal(said(0, "Male", "MCCOOK"), "A baby under one year old from McCook.");
  assert.equal(said(1, "M", "MCCOOK"), "A 1-year-old boy from McCook.");
  assert.equal(said(18, "MALE", "O'HARE"), "An 18-year-old man from O'Hare.");
  assert.equal(said(8, "f", "RIVER'S EDGE"), "An 8-year-old girl from River's Edge.");
  assert.equal(said(80, "Unknown", "O'HARE"), "An 80-year-old person from O'Hare.");
});

test("a database written before the column gets every case's words when it is opened", () => {
  const people = withOld((old) => everyone(old));
  assert.ok(people.length > 100, `${people.length} people`);
  assert.deepEqual(misworded(people).slice(0, 20), []);
  assert.ok(people.every((p) => p.memorial_sentence), "no case is left without words");
});

test("a correction upstream rewords the case and logs the change", async () => {
  const path = join(dir, "corrected.db");
  const row = portalRow(1, "2021-03-03", "47", "Male", "CHICAGO");
  const small = await startPortal({ datasets: { [DATASET]: [row] } });
  try {
    const run = (now: string) => ingest({ config: { db: path, portal: small.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(now), http: FAST_HTTP });
    await run("2026-11-25T12:00:00Z");
    small.setRows(DATASET, [{ ...row, age: "48", residence_city: "OAK LAWN", ":updated_at": "2026-11-26T00:00:00.000Z" }]);
    await run("2026-11-26T12:00:00Z");
  } finally {
    await small.close();
  }
  const corrected = new Database(path, { readonly: true });
  try {
    assert.equal(corrected.prepare("SELECT memorial_sentence FROM cases").pluck().get(), "A 48-year-old man from Oak Lawn.");
    const revision = corrected.prepare("SELECT old_value, new_value FROM case_revisions WHERE field = 'memorial_sentence'").get();
    assert.deepEqual(revision, { old_value: "A 47-year-old man from Chicago.", new_value: "A 48-year-old man from Oak Lawn." });
  } finally {
    corrected.close();
  }
});

test("no SQL in datasette/ words the memorial: every query that shows it selects the stored words", () => {
  const queries = Object.entries(parse(readFileSync(join(ROOT, "datasette", "metadata.yml"), "utf8")).databases.vigil.queries as Record<string, { sql: string }>);
  const showing = queries.filter(([name, query]) => name === "memorial" || /memorial_sentence/.test(query.sql));
  assert.ok(showing.some(([name]) => name === "memorial") && showing.length >= 2, "the memorial and the feed that quotes it");
  for (const [name, query] of showing) {
    assert.match(query.sql, /memorial_sentence/, name);
    // the words were once built in SQL, recursively, separately from the site's: never again
    assert.doesNotMatch(query.sql, /WITH\s+RECURSIVE|' year|-year-old/i, name);
  }
});

test("datasette's memorial and the site's memorial files show exactly the stored words", async () => {
  const people = everyone();
  const byDay = new Map<string, Person[]>();
  for (const person of people) {
    const day = byDay.get(person.death_date);
    if (day) day.push(person);
    else byDay.set(person.death_date, [person]);
  }
  // the hand-made days, the busiest day, and the first and last days
  const busiest = [...byDay].sort((a, b) => b[1].length - a[1].length)[0][0];
  const days = [...new Set(["2020-12-01", "2021-01-15", "2021-06-30", busiest, people[0].death_date, people.at(-1)!.death_date])];
  const site = memorialYears(readWidgetData(db).people);
  for (const date of days) {
    const { status, body, text } = await fetchJson(served, `/vigil/memorial.json?date=${date}&_shape=array`);
    assert.equal(status, 200, `${date}: ${text.slice(0, 300)}`);
    const rows = body as Row[];
    const expected = byDay.get(date)!;
    assert.deepEqual(rows.map((r) => r.casenumber), expected.map((p) => p.casenumber), `${date}: the same people in the same order`);
    assert.deepEqual(rows.map((r) => r.description), expected.map((p) => p.memorial_sentence), `${date}: datasette shows the stored words`);
    assert.deepEqual(site.get(date.slice(0, 4))?.[date]?.people, expected.map((p) => p.memorial_sentence), `${date}: the site shows the stored words`);
  }
  const latest = await fetchJson(served, "/vigil/memorial.json?_shape=array");
  assert.deepEqual((latest.body as Row[]).map((r) => r.description), byDay.get(people.at(-1)!.death_date)!.map((p) => p.memorial_sentence), "no date: the latest day");
});

