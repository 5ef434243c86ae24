/**
 * Ingest against the real fixture portal over loopback and a real SQLite file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { ingest, type IngestOptions } from "../pipeline/ingest/ingest.ts";
import { RunRefusedError, HttpError } from "../pipeline/errors.ts";
import { SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";
import { FAST_HTTP, fixedClock, memoryLogger, recordSnapshot, tempDir } from "./helpers.ts";

const DATASET = "3trz-enys";

async function setup(t: Parameters<typeof tempDir>[0], rows: RawRow[]) {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  const db = join(dir, "vigil.db");
  const log = memoryLogger();
  const options = (over: Partial<IngestOptions> = {}): IngestOptions => ({
    config: { db, portal: portal.url, dataset: DATASET },
    log,
    now: fixedClock(),
    http: FAST_HTTP,
    ...over,
  });
  return { dir, db, portal, log, options, read: () => new Database(db, { readonly: true }) };
}

const snapshot = recordSnapshot;

const sample = generateCovidView({ seed: 7, count: 1200 });

test("a first ingest loads every case with provenance and one 'added' revision each", async (t) => {
  const { db, options, portal } = await setup(t, sample);
  const result = await ingest(options());
  assert.equal(result.counts.fetched, sample.length);
  assert.equal(result.counts.inserted + result.counts.rejected, sample.length);
  assert.equal(result.changed, true);
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const count = conn.prepare("SELECT count(*) FROM cases WHERE first_run_id = ? AND changed_run_id = ? AND removed_run_id IS NULL").pluck().get(result.runId, result.runId);
  assert.equal(count, result.counts.inserted);
  assert.equal(conn.prepare("SELECT count(*) FROM case_revisions WHERE change = 'added'").pluck().get(), result.counts.inserted);
  const withRowId = conn.prepare("SELECT count(*) FROM cases WHERE source_row_id LIKE 'row-%' AND source_updated_at LIKE '%Z'").pluck().get();
  assert.equal(withRowId, result.counts.inserted, "provenance columns come from the system fields");
  const run = conn.prepare("SELECT * FROM runs WHERE id = ?").get(result.runId) as Record<string, unknown>;
  assert.equal(run.status, "success");
  assert.equal(run.portal, portal.url);
  assert.equal(run.dataset, DATASET);
  assert.match(String(run.source_rows_updated_at), /^\d{4}-\d\d-\d\dT/);
  // The daily series adds up to the number of COVID cases.
  const total = conn.prepare("SELECT max(cumulative_deaths) FROM daily_deaths").pluck().get();
  const covid = conn.prepare("SELECT count(*) FROM covid_deaths").pluck().get();
  assert.equal(total, covid);
  // Every request asked for system fields, in :id order, with a fixed page size.
  const pages = portal.requests.filter((r) => r.path === `/resource/${DATASET}.json`);
  assert.ok(pages.length >= 1);
  for (const page of pages) {
    assert.equal(page.query.$order, ":id");
    assert.equal(page.query.$select, ":*,*");
    assert.ok(Number(page.query.$limit) <= 50_000);
  }
});

test("a re-run of unchanged data writes nothing but its runs row, whether it reads the rows or not", async (t) => {
  const { db, options, portal } = await setup(t, sample);
  await ingest(options());
  const before = snapshot(db);
  const requests = portal.requests.length;
  const second = await ingest(options());
  assert.deepEqual({ sync: second.sync, changed: second.changed, fetched: second.counts.fetched }, { sync: "unchanged", changed: false, fetched: 0 });
  assert.deepEqual(portal.requests.slice(requests).map((r) => r.path), [`/api/views/${DATASET}.json`], "the metadata alone");
  assert.deepEqual([second.counts.unchanged, second.counts.rejected], [before.cases.length, before.rejects.length], "the source as the last run found it");
  const third = await ingest(options({ full: true }));
  assert.deepEqual({ sync: third.sync, changed: third.changed, fetched: third.counts.fetched }, { sync: "full", changed: false, fetched: sample.length });
  assert.equal(third.counts.inserted + third.counts.updated + third.counts.removed, 0);
  assert.equal(third.counts.unchanged, before.cases.length);
  assert.deepEqual(snapshot(db), before, "cases, revisions and rejects are untouched");
});

test("amended, removed, restored and late backdated cases give revisions, tombstones and corrected daily counts", async (t) => {
  const base: RawRow[] = [
    row("ME2020-00001", "2020-04-01T10:00:00.000", { age: "70", residence_city: "Chicago" }),
    row("ME2020-00002", "2020-04-01T23:45:00.000", { age: "81" }),
    row("ME2020-00003", "2020-04-02T00:00:00.000", { age: "55" }),
    row("ME2020-00004", "2020-04-03T08:00:00", { age: "62" }),
  ];
  const { db, options, portal } = await setup(t, base);
  const first = await ingest(options());
  assert.equal(first.counts.inserted, 4);
  const daily = () => {
    const conn = new Database(db, { readonly: true });
    try {
      return conn.prepare("SELECT date, deaths, cumulative_deaths FROM daily_deaths").all();
    } finally {
      conn.close();
    }
  };
  assert.deepEqual(daily(), [
    { date: "2020-04-01", deaths: 2, cumulative_deaths: 2 },
    { date: "2020-04-02", deaths: 1, cumulative_deaths: 3 },
    { date: "2020-04-03", deaths: 1, cumulative_deaths: 4 },
  ]);

  // The publisher corrects an age and a city, drops a case, and adds a late case numbered in 2022.
  portal.setRows(DATASET, [
    row("ME2020-00001", "2020-04-01T10:00:00.000", { age: "71", residence_city: "Oak Lawn" }),
    base[1],
    base[3],
    row("ME2022-05807", "2020-04-02T14:00:00.000", { age: "90" }),
  ]);
  const second = await ingest(options());
  assert.deepEqual(
    { inserted: second.counts.inserted, updated: second.counts.updated, removed: second.counts.removed, unchanged: second.counts.unchanged },
    { inserted: 1, updated: 1, removed: 1, unchanged: 2 },
  );
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const revisions = conn
    .prepare("SELECT casenumber, change, field, old_value, new_value FROM case_revisions WHERE run_id = ? ORDER BY id")
    .all(second.runId);
  assert.deepEqual(revisions, [
    { casenumber: "ME2020-00001", change: "changed", field: "age", old_value: "70", new_value: "71" },
    { casenumber: "ME2020-00001", change: "changed", field: "residence_city", old_value: "CHICAGO", new_value: "OAK LAWN" },
    // the memorial's words follow the corrected age and city, and the log says so
    { casenumber: "ME2020-00001", change: "changed", field: "memorial_sentence", old_value: "A 70-year-old woman from Chicago.", new_value: "A 71-year-old woman from Oak Lawn." },
    { casenumber: "ME2022-05807", change: "added", field: null, old_value: null, new_value: null },
    { casenumber: "ME2020-00003", change: "removed", field: null, old_value: null, new_value: null },
  ]);
  const removed = conn.prepare("SELECT removed_run_id FROM cases WHERE casenumber = 'ME2020-00003'").pluck().get();
  assert.equal(removed, second.runId, "a removed case is kept as a tombstone");
  const changed = conn.prepare("SELECT changed_run_id, first_run_id FROM cases WHERE casenumber = 'ME2020-00001'").get();
  assert.deepEqual(changed, { changed_run_id: second.runId, first_run_id: first.runId });
  // The backdated case lands on its death date; the removed one leaves the counts.
  assert.deepEqual(daily(), [
    { date: "2020-04-01", deaths: 2, cumulative_deaths: 2 },
    { date: "2020-04-02", deaths: 1, cumulative_deaths: 3 },
    { date: "2020-04-03", deaths: 1, cumulative_deaths: 4 },
  ]);

  // The case comes back upstream: restored, not duplicated.
  portal.setRows(DATASET, [...base.slice(0, 1).map(() => row("ME2020-00001", "2020-04-01T10:00:00.000", { age: "71", residence_city: "Oak Lawn" })), base[1], base[2], base[3], row("ME2022-05807", "2020-04-02T14:00:00.000", { age: "90" })]);
  const third = await ingest(options());
  assert.equal(third.counts.restored, 1);
  assert.equal(conn.prepare("SELECT removed_run_id FROM cases WHERE casenumber = 'ME2020-00003'").pluck().get(), null);
  assert.deepEqual(daily()[1], { date: "2020-04-02", deaths: 2, cumulative_deaths: 4 });
});

test("an ingest through every kind of transient fault ends complete and correct", async (t) => {
  const { db, options, portal, log } = await setup(t, sample);
  const clean = await setup(t, sample);
  await ingest(clean.options());

  portal.faults.push({ kind: "status", status: 429, retryAfter: 0 });
  portal.faults.push({ kind: "status", status: 503 });
  portal.faults.push({ kind: "processing" });
  portal.faults.push({ kind: "reset" });
  portal.faults.push({ kind: "truncate" });
  portal.faults.push({ kind: "html" });
  portal.faults.push({ kind: "garbage" });
  portal.faults.push({ kind: "slow", delayMs: 50 });
  const result = await ingest(options({ http: { ...FAST_HTTP, maxAttempts: 12 } }));
  assert.equal(result.counts.fetched, sample.length);
  const retries = log.lines.filter((l) => l.stage === "http" && String(l.msg).startsWith("retrying"));
  assert.ok(retries.length >= 7, `expected a retry per fault, saw ${retries.length}`);
  assert.deepEqual(snapshot(db).cases.map(stripRunIds), snapshot(clean.db).cases.map(stripRunIds));
});

test("a broken source fails the run cleanly and leaves the database as it was", async (t) => {
  const { db, options, portal } = await setup(t, sample);
  await ingest(options());
  const before = snapshot(db);
  portal.faults.always({ kind: "status", status: 503 });
  await assert.rejects(ingest(options({ http: { ...FAST_HTTP, maxAttempts: 3 } })), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 503);
    assert.match(error.message, /gave up after 3 attempts/);
    return true;
  });
  portal.faults.clear();
  assert.deepEqual(snapshot(db), before);
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const last = conn.prepare("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").get() as { status: string; error: string };
  assert.equal(last.status, "failed");
  assert.match(last.error, /503/);
});

test("a source whose rows turned to garbage is refused: nothing loaded, no rejects kept", async (t) => {
  const { db, options, portal } = await setup(t, sample);
  await ingest(options());
  const before = snapshot(db);
  // The publisher renames the date column: every row loses its death date.
  portal.setRows(DATASET, sample.map(({ death_date, ...rest }) => ({ ...rest, date_of_death: death_date })));
  await assert.rejects(ingest(options()), RunRefusedError);
  assert.deepEqual(snapshot(db), before);

  // A share of bad rows over the limit fails too, while a few bad rows load.
  const someBad = sample.map((r, i) => (i % 5 === 0 ? { ...r, death_date: "not a date" } : r));
  portal.setRows(DATASET, someBad);
  await assert.rejects(ingest(options()), /failed validation/);
  assert.deepEqual(snapshot(db), before);
  const fewBad = sample.map((r, i) => (i % 100 === 0 ? { ...r, death_date: "2021-02-30T00:00:00.000" } : r));
  portal.setRows(DATASET, fewBad);
  const ok = await ingest(options());
  assert.equal(ok.counts.rejected, Math.ceil(sample.length / 100));
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const reject = conn.prepare("SELECT * FROM rejects WHERE run_id = ? LIMIT 1").get(ok.runId) as { reasons: string; codes: string; raw: string; casenumber: string };
  assert.match(reject.reasons, /death_date "2021-02-30T00:00:00.000" is not a real calendar date/);
  assert.equal(reject.codes, '["invalid_death_date"]');
  assert.equal(JSON.parse(reject.raw).casenumber, reject.casenumber);
});

test("a stored case whose row turns bad is kept, not tombstoned; a row refused again is stored once", async (t) => {
  const { db, options, portal } = await setup(t, sample);
  await ingest(options());
  const victim = sample[10];
  const bad = { ...victim, death_date: "2021-02-30T00:00:00.000" };
  portal.setRows(DATASET, sample.map((r) => (r === victim ? bad : r)));
  const second = await ingest(options());
  assert.equal(second.counts.rejected, 1);
  assert.equal(second.counts.removed, 0, "the source still lists the case");
  // The same bad row again, its keys in another order, as the portal sends them.
  const reordered = Object.fromEntries(Object.entries(bad).reverse());
  portal.setRows(DATASET, sample.map((r) => (r === victim ? reordered : r)));
  const third = await ingest(options());
  assert.equal(third.counts.rejected, 1);
  assert.equal(third.counts.removed, 0);
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const stored = conn.prepare("SELECT removed_run_id FROM cases WHERE casenumber = ?").get(String(victim.casenumber).toUpperCase()) as { removed_run_id: number | null };
  assert.equal(stored.removed_run_id, null);
  assert.equal(conn.prepare("SELECT count(*) FROM rejects").pluck().get(), 1, "one row per distinct refused row");
  assert.equal(conn.prepare("SELECT count(*) FROM case_revisions WHERE change = 'removed'").pluck().get(), 0);
});

test("an empty or truncated source is refused where the database has many cases", async (t) => {
  const { db, options, portal } = await setup(t, sample);
  await ingest(options());
  const before = snapshot(db);
  portal.setRows(DATASET, []);
  await assert.rejects(ingest(options()), /no cases/);
  portal.setRows(DATASET, sample.slice(0, 100));
  await assert.rejects(ingest(options()), /no longer lists/);
  assert.deepEqual(snapshot(db), before);
});

test("schema drift is recorded on the run and logged once", async (t) => {
  const drifted = sample.slice(0, 50).map((r) => ({ ...r, ":@computed_region_abcd_efgh": "12", new_column: "x" }));
  const { db, options, log } = await setup(t, drifted);
  const result = await ingest(options());
  assert.deepEqual(result.drift.unknown, ["new_column"]);
  assert.equal(log.lines.filter((l) => String(l.msg).includes("columns differ")).length, 1);
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const run = conn.prepare("SELECT unknown_columns FROM runs WHERE id = ?").get(result.runId) as { unknown_columns: string };
  assert.deepEqual(JSON.parse(run.unknown_columns), ["new_column"]);
});

test("Socrata's computed region columns, in the rows and in the view metadata, are not drift", async (t) => {
  const region = ":@computed_region_bdys_3d7i";
  const rows = sample.slice(0, 50).map((r) => ({ ...r, [region]: "14" }));
  const { db, options, log, portal } = await setup(t, rows);
  // listed as the portal lists one: its own field name, and a region's title for a display name
  portal.setRows(DATASET, rows, { columns: [...SOURCE_COLUMNS, { fieldName: region, name: "Zip Codes", dataTypeName: "number", description: "" }] });
  const served = (await (await fetch(`${portal.url}/resource/${DATASET}.json?$limit=1`)).json()) as RawRow[];
  assert.equal(served[0][region], "14", "the rows carry the column");
  const result = await ingest(options());
  assert.deepEqual(result.drift, { unknown: [], missing: [] });
  assert.equal(log.lines.filter((l) => String(l.msg).includes("columns differ")).length, 0);
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const run = conn.prepare("SELECT unknown_columns FROM runs WHERE id = ?").get(result.runId) as { unknown_columns: string };
  assert.deepEqual(JSON.parse(run.unknown_columns), []);
});

function row(casenumber: string, death: string, extra: Record<string, string> = {}): RawRow {
  return {
    ":id": `row-${casenumber.toLowerCase()}`,
    ":updated_at": "2022-04-01T12:00:00.000Z",
    casenumber,
    death_date: death,
    gender: "Female",
    race: "White",
    latino: false,
    manner: "NATURAL",
    primarycause: "COVID-19",
    covid_related: true,
    ...extra,
  };
}

function stripRunIds(c: unknown) {
  const { first_run_id, changed_run_id, removed_run_id, ...rest } = c as Record<string, unknown>;
  void first_run_id;
  void changed_run_id;
  void removed_run_id;
  return rest;
}

export type { FixturePortal };
