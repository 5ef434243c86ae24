/**
 * The contract between the two ways in: the same rows loaded by `ingest` (JSON pages) and by
 * `backfill` (the bulk CSV export) make the same cases. Against the fixture portal over loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ARCHIVE_ID, COVID_VIEW_ID, startPortal } from "../fixtures/portal.ts";
import { generateArchive, generateCovidView } from "../fixtures/generate.ts";
import { backfill, type BackfillOptions } from "../pipeline/backfill/backfill.ts";
import { HttpError, SourceFormatError, VigilError } from "../pipeline/errors.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { CASE_FIELDS } from "../schemas/case.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT, tempDir } from "./helpers.ts";

type T = Parameters<typeof tempDir>[0];

const edgeRows: RawRow[] = readdirSync(join(ROOT, "fixtures", "rows"))
  .filter((f) => f.endsWith(".json"))
  .sort()
  .flatMap((f) => JSON.parse(readFileSync(join(ROOT, "fixtures", "rows", f), "utf8")) as RawRow[]);

async function setup(t: T, datasets: Record<string, readonly RawRow[]>) {
  const portal = await startPortal({ datasets });
  t.after(() => portal.close());
  const dir = tempDir(t);
  const options = (name: string, dataset: string, over: Partial<BackfillOptions> = {}): BackfillOptions => ({
    config: { db: join(dir, name), portal: portal.url, dataset },
    log: memoryLogger(),
    now: fixedClock(),
    http: FAST_HTTP,
    // parsed on this thread: a worker started from the sources takes a second to load (backfill.test.ts tests the workers)
    workers: 0,
    ...over,
  });
  return { portal, dir, options };
}

function cases(path: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT ${CASE_FIELDS.join(", ")} FROM cases ORDER BY casenumber`).all();
  } finally {
    db.close();
  }
}

function count(path: string, sql: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

test("ingest (JSON) and backfill (CSV) of the same rows make the same cases", async (t) => {
  // the edge files reuse a few real-looking case numbers: keep their duplicates to the one file about duplicates
  const taken = new Set(edgeRows.map((r) => r.casenumber));
  const rows = [...generateCovidView({ seed: 21, count: 2500 }).filter((r) => !taken.has(r.casenumber)), ...edgeRows];
  const { options, portal } = await setup(t, { [COVID_VIEW_ID]: rows });
  const viaJson = options("json.db", COVID_VIEW_ID);
  const viaCsv = options("csv.db", COVID_VIEW_ID);
  const json = await ingest(viaJson);
  const csv = await backfill(viaCsv);
  assert.ok(portal.requests.some((r) => r.path === `/api/views/${COVID_VIEW_ID}/rows.csv`), "backfill read the bulk export");
  assert.deepEqual({ ...csv.counts }, { ...json.counts });
  assert.deepEqual(csv.drift, json.drift);
  const fromJson = cases(viaJson.config.db);
  assert.ok(fromJson.length > 2500, `${fromJson.length} cases`);
  assert.deepEqual(cases(viaCsv.config.db), fromJson);
  for (const sql of ["SELECT count(*) FROM case_revisions", "SELECT count(*) FROM rejects", "SELECT count(*) FROM cases_fts WHERE cases_fts MATCH 'covid OR pneumonia'"]) {
    assert.equal(count(viaCsv.config.db, sql), count(viaJson.config.db, sql), sql);
  }
  // and the other way round on top: an ingest after a backfill finds nothing to change
  const after = await ingest({ ...viaJson, config: viaCsv.config });
  assert.equal(after.counts.updated, 0);
  assert.equal(after.counts.unchanged, json.counts.inserted);
});

test("a complete download marks cases gone from the view as removed; a date range never does", async (t) => {
  const rows = generateCovidView({ seed: 22, count: 1200 });
  const { options, portal } = await setup(t, { [COVID_VIEW_ID]: rows });
  const first = options("vigil.db", COVID_VIEW_ID);
  await backfill(first);
  const before = count(first.config.db, "SELECT count(*) FROM covid_deaths");
  const kept = rows.slice(0, 1150);
  const keptCases = new Set(kept.map((r) => String(r.casenumber)));
  const db = new Database(first.config.db, { readonly: true });
  // the view's scope is COVID deaths: a case it lists that is not one (flag false) is never marked removed by it
  const gone = (db.prepare("SELECT casenumber FROM cases WHERE is_covid = 1").pluck().all() as string[]).filter((c) => !keptCases.has(c)).length;
  db.close();
  assert.ok(gone >= 45, `${gone} cases leave the view`);
  portal.setRows(COVID_VIEW_ID, kept);
  const ranged = await backfill({ ...first, since: "2020-01-01", until: "2022-12-31" });
  assert.equal(ranged.counts.removed, 0);
  const full = await backfill(first);
  assert.equal(full.counts.removed, gone);
  assert.equal(count(first.config.db, "SELECT count(*) FROM covid_deaths"), before - gone);
  assert.equal(count(first.config.db, `SELECT count(*) FROM case_revisions WHERE change = 'removed' AND run_id = ${full.runId}`), gone);
});

test("the full archive (cjeq-bs86) loads from the portal; the COVID view keeps its own scope", async (t) => {
  const archive = generateArchive({ count: 3000, seed: 23 });
  const { options } = await setup(t, { [ARCHIVE_ID]: archive });
  const opts = options("vigil.db", ARCHIVE_ID);
  const result = await backfill(opts);
  assert.equal(result.counts.inserted, archive.length);
  const covid = count(opts.config.db, "SELECT count(*) FROM cases WHERE is_covid = 1");
  assert.ok(covid > 0 && covid < archive.length, `${covid} COVID cases of ${archive.length}`);
  assert.equal(count(opts.config.db, "SELECT sum(deaths) FROM daily_deaths"), covid);
});

test("portal failures: a wrong dataset, an HTML page instead of CSV, a download that breaks off", async (t) => {
  const rows = generateCovidView({ seed: 24, count: 3000 });
  const { options, portal } = await setup(t, { [COVID_VIEW_ID]: rows });
  await assert.rejects(backfill(options("a.db", "zzzz-zzzz")), (error: Error) => error instanceof HttpError && error.status === 404);

  portal.faults.push({ kind: "html", path: /rows\.csv/ });
  await assert.rejects(backfill(options("b.db", COVID_VIEW_ID)), (error: Error) => error instanceof SourceFormatError && /rows\.csv\?accessType=DOWNLOAD is HTML/.test(error.message));

  portal.faults.push({ kind: "truncate", path: /rows\.csv/ });
  const opts = options("c.db", COVID_VIEW_ID, { commitRows: 500, chunkBytes: 8192 });
  await assert.rejects(backfill(opts), (error: Error) => error instanceof VigilError && /broke off/.test(error.message) && /resume/.test(error.hint ?? ""));
  const resumed = await backfill(opts);
  assert.ok(resumed.resumedAt !== undefined, "the next run resumes the broken download");
  assert.equal(count(opts.config.db, "SELECT count(*) FROM cases"), rows.length);
  assert.equal(count(opts.config.db, "SELECT count(*) FROM runs"), 1, "one run, resumed");
});
