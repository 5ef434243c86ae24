/**
 * The incremental nightly sync against full syncs: over a history of the fixture portal with
 * corrections, removals, restorations, late cases, refused rows and a duplicate, a database kept by
 * default (incremental) runs ends every night exactly as one kept by `--full` runs, while fetching
 * far less.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ARCHIVE_ID, startPortal, type PortalRequest } from "../fixtures/portal.ts";
import { generateArchive, generateCovidView } from "../fixtures/generate.ts";
import { ingest, type IngestOptions } from "../pipeline/ingest/ingest.ts";
import { SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";
import { FAST_HTTP, fixedClock, memoryLogger, recordSnapshot, runMain, tempDir } from "./helpers.ts";

const DATASET = "3trz-enys";

/** Every table of the record, every column, in a fixed order; runs by what they changed; the daily series. */
function record(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      ...recordSnapshot(path),
      runs: db.prepare("SELECT id, status, inserted, updated, removed, restored FROM runs ORDER BY id").all(),
      daily: db.prepare("SELECT * FROM daily_deaths").all(),
    };
  } finally {
    db.close();
  }
}

const day = (n: number) => new Date(Date.parse("2026-11-20T09:00:00Z") + n * 86_400_000).toISOString();

test("incremental runs leave exactly the database full runs leave, night after night", async (t) => {
  const dir = tempDir(t);
  const base = generateCovidView({ seed: 23, count: 1000 });
  const portal = await startPortal({ datasets: { [DATASET]: base } });
  t.after(() => portal.close());
  const full = join(dir, "full.db");
  const incremental = join(dir, "incremental.db");
  const options = (db: string, now: string, over: Partial<IngestOptions> = {}): IngestOptions => ({
    config: { db, portal: portal.url, dataset: DATASET },
    log: memoryLogger(),
    now: fixedClock(now),
    http: FAST_HTTP,
    ...over,
  });
  const syncs: string[] = [];
  const bytes: number[] = [];
  let rows: RawRow[] = base;
  const night = async (n: number, what: string) => {
    await ingest(options(full, day(n), { full: true }));
    const before = portal.requests.length;
    const result = await ingest(options(incremental, day(n)));
    bytes.push(portal.requests.slice(before).reduce((sum, r) => sum + (r.bytes ?? 0), 0));
    syncs.push(result.sync);
    assert.deepEqual(record(incremental), record(full), `night ${n} (${what}): the databases differ`);
  };
  const edit = (i: number, change: Partial<RawRow>) => (rows = rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const tomorrow = (n: number) => `${day(n + 1).slice(0, 10)}T10:00:00.000`;
  let serial = 0;
  const late = (death: string, extra: Partial<RawRow> = {}): RawRow => {
    serial++;
    return { ...base[serial], ":id": `row-late-${serial}`, casenumber: `ME2026-9${String(serial).padStart(4, "0")}`, death_date: death, ":updated_at": extra[":updated_at"] ?? day(0), ...extra };
  };

  await night(0, "first load");
  await night(1, "nothing changed");

  // Corrections, a death moved to another day, removals, late cases (one carrying an old
  // :updated_at, as an import can), a row turned bad and a death dated tomorrow.
  edit(10, { age: "77" });
  edit(11, { residence_city: "Evanston" });
  edit(12, { death_date: "2020-12-01T08:00:00.000" });
  edit(13, { covid_related: false });
  edit(14, { death_date: "2021-02-30T00:00:00.000" });
  const removed = [rows[20], rows[21], rows[22]];
  rows = rows.filter((r) => !removed.includes(r));
  rows = [...rows, late("2020-04-02T14:00:00.000"), late("2021-01-05T01:00:00.000", { ":updated_at": "2020-05-01T00:00:00.000Z" }), late(tomorrow(2))];
  portal.setRows(DATASET, rows);
  await night(2, "corrections, removals, late cases");

  // Nothing upstream changed, but the day did: the death dated "tomorrow" yesterday now loads.
  await night(3, "a refused row passes on a later day");

  // Two removed cases come back as they were; the bad row is fixed.
  rows = [...rows, removed[0], removed[1]];
  edit(14, { death_date: "2021-02-03T00:00:00.000" });
  portal.setRows(DATASET, rows);
  await night(4, "restorations and a fix");

  // A case number listed twice: only a full read can settle which row wins.
  rows = [...rows, { ...rows[30], ":id": "row-dupe-1", age: "99" }];
  portal.setRows(DATASET, rows);
  await night(5, "a duplicate case number");
  rows = rows.filter((r) => r[":id"] !== "row-dupe-1");
  edit(31, { age: "64" });
  portal.setRows(DATASET, rows);
  await night(6, "the duplicate gone");

  // A new column in the view.
  portal.setRows(DATASET, rows, { columns: [...SOURCE_COLUMNS, { fieldName: "case_note", name: "Case Note", dataTypeName: "text", description: "" }] });
  await night(7, "a new column");
  portal.setRows(DATASET, rows);
  await night(8, "the column gone again");
  edit(40, { age: "51" });
  portal.setRows(DATASET, rows);
  await night(9, "one correction");
  await night(17, "a week later, nothing changed");
  await night(18, "nothing changed");

  assert.deepEqual(syncs, ["full", "unchanged", "incremental", "incremental", "incremental", "full", "incremental", "full", "full", "incremental", "full", "unchanged"]);
  const fullBytes = bytes[0];
  assert.ok(bytes[1] < fullBytes / 100, `a no-change night reads under 1% of a full sync's bytes (${bytes[1]} of ${fullBytes})`);
  assert.ok(bytes[9] < fullBytes / 10, `a night with one correction reads under 10% (${bytes[9]} of ${fullBytes})`);

  const conn = new Database(incremental, { readonly: true });
  t.after(() => conn.close());
  const reasons = conn.prepare("SELECT sync, sync_reason FROM runs WHERE sync = 'full' ORDER BY id").all() as Array<{ sync: string; sync_reason: string }>;
  assert.deepEqual(
    reasons.map((r) => r.sync_reason.replace(/ME\S+/, "ME…")),
    [
      "no earlier ingest of this dataset from this portal to build on",
      "the source lists case ME… more than once",
      "the view's columns changed",
      "the view's columns changed",
      "the last full sync is more than 7 days old",
    ],
  );
});

test("`vigil ingest --full` reads every row where the default reads none; `vigil run` says how it synced", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: generateCovidView({ seed: 5, count: 200 }) } });
  t.after(() => portal.close());
  const db = join(dir, "vigil.db");
  const env = { VIGIL_DB: db, VIGIL_PORTAL: portal.url };
  const first = await runMain(["ingest"], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^run 1 \(full\): 200 fetched, 200 inserted/);
  const quiet = await runMain(["run"], { env });
  assert.equal(quiet.stdout, "run 2: ingest ok (unchanged upstream), widgets skipped (no --site)\n");
  const forced = await runMain(["ingest", "--full"], { env });
  assert.match(forced.stdout, /^run 3 \(full\): 200 fetched, 0 inserted, 0 updated, 200 unchanged/);
  const help = await runMain(["ingest", "--help"], { env });
  assert.match(help.stdout, /--full/);
});

/** A portal and two databases, one kept by incremental runs and one by full runs, compared every night. */
async function pair(t: { after: (fn: () => unknown) => void }, dir: string, rows: RawRow[]) {
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  const at = (db: string, n: number, full: boolean): IngestOptions => ({
    config: { db: join(dir, db), portal: portal.url, dataset: DATASET },
    log: memoryLogger(),
    now: fixedClock(day(n)),
    http: FAST_HTTP,
    full,
  });
  return {
    portal,
    /** One night on both databases: the incremental run's result and the requests it made. */
    async night(n: number) {
      await ingest(at("full.db", n, true));
      const before = portal.requests.length;
      const result = await ingest(at("incremental.db", n, false));
      const requests = portal.requests.slice(before);
      assert.deepEqual(record(join(dir, "incremental.db")), record(join(dir, "full.db")), `night ${n}: the databases differ`);
      return { result, requests, bytes: requests.reduce((sum, r) => sum + (r.bytes ?? 0), 0) };
    },
  };
}

const listings = (requests: readonly PortalRequest[]) => requests.filter((r) => r.query.$select?.startsWith(":id,casenumber")).map((r) => r.query.$where ?? "every row");
const monthWhere = (month: string) => {
  const [y, m] = month.split("-").map(Number);
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return `(death_date >= '${month}-01T00:00:00' AND death_date < '${next}-01T00:00:00')`;
};

test("a removal lists the ids of its month alone, and tombstones the case there", async (t) => {
  const base = generateCovidView({ seed: 31, count: 1000 });
  const { portal, night } = await pair(t, tempDir(t), base);
  await night(0);
  const gone = base[100];
  const month = (gone.death_date as string).slice(0, 7);
  portal.setRows(DATASET, base.filter((row) => row !== gone));
  const { result, requests } = await night(1);
  assert.equal(result.sync, "incremental");
  assert.equal(result.counts.removed, 1);
  assert.deepEqual(listings(requests), [monthWhere(month)]);
  const inMonth = base.filter((row) => (row.death_date as string).startsWith(month)).length;
  assert.ok(inMonth < base.length / 10, `the month holds ${inMonth} of ${base.length} rows`);
});

test("a new row stamped before the watermark is found by its month's count", async (t) => {
  const base = generateCovidView({ seed: 32, count: 1000 });
  const { portal, night } = await pair(t, tempDir(t), base);
  await night(0);
  const late: RawRow = { ...base[7], ":id": "row-late-old", casenumber: "ME2020-99999", objectid: "990001", ":updated_at": "2020-06-01T00:00:00.000Z" };
  portal.setRows(DATASET, [...base, late]);
  const { result, requests } = await night(1);
  assert.equal(result.sync, "incremental");
  assert.equal(result.counts.inserted, 1);
  assert.deepEqual(listings(requests), [monthWhere((late.death_date as string).slice(0, 7))]);
  // a removal and an old-stamped arrival in one month, told apart by their objectids
  const removed = base.find((row) => row !== base[7] && (row.death_date as string).startsWith((late.death_date as string).slice(0, 7))) as RawRow;
  const other: RawRow = { ...removed, ":id": "row-late-older", casenumber: "ME2020-99998", objectid: "990002" };
  portal.setRows(DATASET, [...base.filter((row) => row !== removed), late, other]);
  const swap = await night(2);
  assert.deepEqual([swap.result.sync, swap.result.counts.inserted, swap.result.counts.removed], ["incremental", 1, 1]);
  assert.deepEqual(listings(swap.requests), [monthWhere((late.death_date as string).slice(0, 7))]);
});

test("a row moved to another month without a new stamp is read again, and the next night lists nothing", async (t) => {
  const base = generateCovidView({ seed: 34, count: 1000 });
  const { portal, night } = await pair(t, tempDir(t), base);
  await night(0);
  const moved = base.findIndex((row) => (row.death_date as string).startsWith("2020-11"));
  const rows = base.map((row, i) => (i === moved ? { ...row, death_date: "2020-12-02T08:00:00.000" } : row));
  portal.setRows(DATASET, rows, { keepTimestamps: true, rowsUpdatedAt: Math.ceil(Date.now() / 1000) });
  const { result, requests } = await night(1);
  assert.deepEqual([result.sync, result.counts.updated], ["incremental", 1]);
  assert.deepEqual(listings(requests), [`${monthWhere("2020-11")} OR ${monthWhere("2020-12")}`]);
  portal.setRows(DATASET, rows.map((row, i) => (i === moved + 1 ? { ...row, age: "33" } : row)));
  const next = await night(2);
  assert.deepEqual([next.result.sync, listings(next.requests)], ["incremental", []]);
});

test("objectids renumbered in every month without new stamps: every row listed, then read in full, then quiet again", async (t) => {
  const base = generateArchive({ count: 3000, seed: 35 });
  const { portal, night } = await pair(t, tempDir(t), base);
  await night(0);
  const renumbered = base.map((row) => ({ ...row, objectid: String(Number(row.objectid) + 1) }));
  portal.setRows(DATASET, renumbered, { keepTimestamps: true, rowsUpdatedAt: Math.ceil(Date.now() / 1000) });
  const { result, requests } = await night(1);
  assert.equal(result.sync, "full");
  // all but the rows the overlap of a day fetched anyway
  assert.ok(Number(/^(\d+) listed rows are not in the record as they stand$/.exec(result.syncReason)?.[1]) > 2500, result.syncReason);
  assert.deepEqual(listings(requests), ["every row"]);
  portal.setRows(DATASET, renumbered.map((row, i) => (i === 5 ? { ...row, age: "41" } : row)));
  const next = await night(2);
  assert.deepEqual([next.result.sync, listings(next.requests)], ["incremental", []]);
});

test("refused rows are read again by id and keep the counts in balance: no listing night after night", async (t) => {
  const base = generateCovidView({ seed: 33, count: 600 });
  const undated = Object.fromEntries(Object.entries(base[7]).filter(([key]) => key !== "death_date")) as RawRow;
  let rows = base.map((row, i) => (i === 7 ? undated : i === 8 ? { ...row, death_date: "2021-02-30T00:00:00.000" } : row));
  const { portal, night } = await pair(t, tempDir(t), rows);
  const first = await night(0);
  assert.equal(first.result.counts.rejected, 2);
  for (const n of [1, 2]) {
    rows = rows.map((row, i) => (i === 50 + n ? { ...row, age: String(20 + n) } : row));
    portal.setRows(DATASET, rows);
    const { result, requests } = await night(n);
    assert.deepEqual([result.sync, result.counts.updated, result.counts.rejected], ["incremental", 1, 2], `night ${n}`);
    assert.deepEqual(listings(requests), [], `night ${n}: nothing listed`);
    const byId = requests.filter((r) => r.query.$where?.startsWith(":id IN"));
    assert.deepEqual(byId.map((r) => r.query.$where), [`:id IN ('${base[7][":id"]}', '${base[8][":id"]}')`], `night ${n}: the refused rows read again`);
  }
});

test("a night with 10 changed rows on a generated archive of 20,000 reads under 2% of a full read", async (t) => {
  const dir = tempDir(t);
  const rows = generateArchive({ count: 20_000, seed: 20_200_316 });
  const portal = await startPortal({ datasets: { [ARCHIVE_ID]: rows } });
  t.after(() => portal.close());
  const db = join(dir, "archive.db");
  const run = async (n: number, full = false) => {
    const before = portal.requests.length;
    const result = await ingest({ config: { db, portal: portal.url, dataset: ARCHIVE_ID }, log: memoryLogger(), now: fixedClock(day(n)), http: FAST_HTTP, full });
    const requests = portal.requests.slice(before);
    return { result, requests, bytes: requests.reduce((sum, r) => sum + (r.bytes ?? 0), 0) };
  };
  const full = await run(0, true);
  const newest = rows.reduce((max, row) => (String(row[":updated_at"]) > max ? String(row[":updated_at"]) : max), "");
  const base = Math.ceil(Date.parse(newest) / 1000);
  const edit = (round: number) => {
    const stamp = new Date((base + round * 86_400) * 1000).toISOString();
    const step = Math.floor(rows.length / 10);
    portal.setRows(ARCHIVE_ID, rows.map((row, i) => (i % step === 0 ? { ...row, age: String((Number(row.age ?? 50) + round) % 100), ":updated_at": stamp } : row)), { rowsUpdatedAt: base + round * 86_400 });
  };
  // the first night after the load reads again the day before the newest stamp: thousands of rows here
  edit(1);
  assert.equal((await run(1)).result.sync, "incremental");
  edit(2);
  const ten = await run(2);
  assert.deepEqual([ten.result.sync, ten.result.counts.updated], ["incremental", 10]);
  assert.deepEqual(listings(ten.requests), []);
  assert.ok(ten.bytes < full.bytes / 50, `a 10-change night reads ${ten.bytes} bytes, ${((100 * ten.bytes) / full.bytes).toFixed(3)}% of a full read's ${full.bytes}`);
});
