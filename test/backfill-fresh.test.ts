/**
 * A first `backfill --file` into a database that is not there yet loads a fresh file and renames it
 * into place (pipeline/backfill/fresh.ts): what it makes is what a load into an existing empty
 * database makes; a failed or killed one leaves no database and no half file, and the next run
 * starts over and completes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ARCHIVE_COLUMNS, writeArchiveCsv } from "../bench/archive-csv.ts";
import { generateArchive } from "../fixtures/generate.ts";
import { bulkCsvChunks } from "../fixtures/portal-csv.ts";
import { backfill, type BackfillOptions } from "../pipeline/backfill/backfill.ts";
import type { ProfileReport } from "../pipeline/backfill/profile.ts";
import { RunRefusedError, SourceFormatError, VigilError } from "../pipeline/errors.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { backfillSnapshot, fixedClock, killWhen, memoryLogger, runCli, tempDir } from "./helpers.ts";

const archive = generateArchive({ count: 2500, seed: 41 });
// a row refused, a case given twice (the later row wins), a stored-later duplicate kept out
const rows: RawRow[] = [
  ...archive.slice(0, 1200),
  { casenumber: "ME2021-99999", age: "50" },
  { ...archive[10], age: "99" },
  ...archive.slice(1200),
  { ...archive[20], age: "98" },
];
const CSV = [...bulkCsvChunks(ARCHIVE_COLUMNS, rows)].join("");

function options(db: string, file: string, over: Partial<BackfillOptions> = {}): BackfillOptions {
  return {
    config: { db, portal: "http://127.0.0.1:9", dataset: "cjeq-bs86" },
    log: memoryLogger(),
    now: fixedClock(),
    file,
    workers: 0,
    chunkBytes: 16 << 10,
    commitRows: 500,
    ...over,
  };
}

/** What a database holds beyond backfillSnapshot: its indexes and triggers, search hits, soundness. */
function schemaAndSearch(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const hits = (term: string) => db.prepare("SELECT rowid FROM cases_fts WHERE cases_fts MATCH ? ORDER BY rowid").pluck().all(term);
    return {
      schema: db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'table', 'view') ORDER BY type, name").all(),
      search: { gunshot: hits("gunshot"), covid: hits("covid"), overdose: hits("fentanyl OR heroin"), prefix: hits("hyper*") },
      journal: db.pragma("journal_mode", { simple: true }),
      integrity: db.pragma("integrity_check", { simple: true }),
      foreignKeys: db.pragma("foreign_key_check"),
    };
  } finally {
    db.close();
  }
}

/** Files a load left beside `db` that are not the database, its WAL files or its lock. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes("vigil-tmp"));
}

function ftsSound(path: string): void {
  const db = new Database(path);
  try {
    // throws SQLITE_CORRUPT_VTAB when the index does not match the cases
    db.prepare("INSERT INTO cases_fts (cases_fts, rank) VALUES ('integrity-check', 1)").run();
  } finally {
    db.close();
  }
}

test("a first load into a new database makes what a load into an existing empty one makes", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "export.csv");
  writeFileSync(file, CSV);
  const existing = join(dir, "existing.db");
  openDatabase(existing).close();
  const viaCommits = await backfill(options(existing, file));
  const fresh = join(dir, "sub", "fresh.db");
  const log = memoryLogger();
  const viaFreshFile = await backfill(options(fresh, file, { log }));

  assert.deepEqual(viaFreshFile, viaCommits);
  assert.equal(viaFreshFile.counts.inserted, archive.length);
  assert.equal(viaFreshFile.counts.rejected, 3, "the broken row, and the two rows later ones replaced");
  const a = backfillSnapshot(existing);
  const b = backfillSnapshot(fresh);
  assert.deepEqual(b.cases, a.cases, "the same rows");
  assert.deepEqual(b.revisions, a.revisions, "the same revisions");
  assert.deepEqual(b.rejects, a.rejects);
  assert.deepEqual(b.runs, a.runs);
  assert.deepEqual(b.fts, a.fts);
  assert.equal(b.leftovers, 0);
  const sa = schemaAndSearch(existing);
  const sb = schemaAndSearch(fresh);
  assert.deepEqual(sb.schema, sa.schema, "the same indexes, triggers, tables and views");
  assert.deepEqual(sb.search, sa.search, "the same full-text hits");
  assert.ok(sb.search.gunshot.length > 0 && sb.search.covid.length > 0, JSON.stringify(sb.search).slice(0, 200));
  assert.equal(sb.journal, "wal", "a normal WAL database");
  assert.equal(sb.integrity, "ok");
  assert.deepEqual(sb.foreignKeys, []);
  ftsSound(fresh);
  ftsSound(existing);
  assert.deepEqual(leftovers(join(dir, "sub")), []);
  assert.ok(!log.lines.some((l) => l.level === "warn"), "nothing to warn about");

  // the file placed is a database like any other: the same file again adds nothing
  const again = await backfill(options(fresh, file));
  assert.equal(again.counts.inserted, 0);
  assert.ok(again.counts.unchanged > 2000, `${again.counts.unchanged} unchanged`);
});

test("so does `vigil backfill`, whose parsing worker stages rows in files of their own", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "export.csv");
  // large enough that the worker, started as the load starts, parses most chunks; repeated cases
  // late in the file, so that chunks the worker staged also hold a case given twice
  const many = generateArchive({ count: 20_000, seed: 43 });
  writeFileSync(file, [...bulkCsvChunks(ARCHIVE_COLUMNS, [...many, { ...many[5], age: "97" }, { ...many[19_990], age: "96" }, { ...many[19_990], age: "95" }])].join(""));
  const existing = join(dir, "existing.db");
  openDatabase(existing).close();
  const args = (db: string) => ["backfill", "--file", file, "--db", db, "--dataset", "cjeq-bs86"];
  const committed = await runCli(args(existing));
  assert.equal(committed.code, 0, committed.stderr);
  const fresh = join(dir, "fresh.db");
  const profile = join(dir, "profile.json");
  const staged = await runCli(args(fresh), { env: { VIGIL_PROFILE: profile } });
  assert.equal(staged.code, 0, staged.stderr);
  const { chunks } = JSON.parse(readFileSync(profile, "utf8")) as ProfileReport;
  assert.ok(chunks.workers > chunks.here, `the worker parsed (and staged) most chunks: ${JSON.stringify(chunks)}`);

  const a = backfillSnapshot(existing);
  const b = backfillSnapshot(fresh);
  assert.equal(b.cases.length, 20_000);
  assert.deepEqual(b.cases, a.cases);
  assert.deepEqual(b.revisions, a.revisions);
  assert.deepEqual(b.rejects, a.rejects);
  assert.equal(b.rejects.length, 3, "the three rows a later one replaced or an earlier one kept out");
  assert.deepEqual(b.fts, a.fts);
  assert.deepEqual(schemaAndSearch(fresh), schemaAndSearch(existing));
  ftsSound(fresh);
  assert.deepEqual(leftovers(dir), [], "no staged file is left");
});


test("a first load that fails leaves no database, no temporary file and no folder it made", async (t) => {
  const dir = tempDir(t);
  const broken = join(dir, "broken.csv");
  const lines = CSV.split("\n");
  lines[1800] = lines[1800].split(",").slice(0, 5).join(",");
  writeFileSync(broken, lines.join("\n"));
  const db = join(dir, "new", "vigil.db");
  await assert.rejects(backfill(options(db, broken)), (error: Error) => error instanceof SourceFormatError && / line 1801: 5 fields/.test(error.message));
  assert.equal(existsSync(join(dir, "new")), false, "no database, no folder");

  const refused = join(dir, "refused.csv");
  writeFileSync(refused, [...bulkCsvChunks(ARCHIVE_COLUMNS, archive.slice(0, 300).map((r, i) => (i % 3 ? r : { ...r, death_date: "someday" })))].join(""));
  await assert.rejects(backfill(options(db, refused)), RunRefusedError);
  assert.equal(existsSync(join(dir, "new")), false);

  // a stop says that nothing was kept, and how to load it
  const file = join(dir, "export.csv");
  writeFileSync(file, CSV);
  const controller = new AbortController();
  const progress = { start() {}, stop() {}, update(done: { rows: number }) { if (done.rows > 1000) controller.abort(new VigilError("stopped by SIGINT")); } };
  await assert.rejects(backfill(options(db, file, { signal: controller.signal, progress })), (error: Error) => {
    assert.match(error.message, /stopped by SIGINT/);
    assert.match((error as VigilError).hint ?? "", /keeps nothing until it completes: run the same command again/);
    return true;
  });
  assert.equal(existsSync(join(dir, "new")), false);
  const done = await backfill(options(db, file));
  assert.equal(done.counts.inserted, archive.length);
  assert.equal(done.resumedAt, undefined);
});

test("a database made at the target during a first load is left alone, and the load is not put over it", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "export.csv");
  writeFileSync(file, CSV);
  const db = join(dir, "vigil.db");
  let made = false;
  // a command that does not wait for the write lock makes the database meanwhile, and records a run
  const makeOne = () => {
    const other = openDatabase(db);
    other.prepare("INSERT INTO runs (kind, status, started_at, version) VALUES ('ingest', 'success', '2026-11-26T12:00:00Z', 'test')").run();
    other.close();
  };
  const progress = { start() {}, stop() {}, update(done: { rows: number }) { if (done.rows > 1000 && !made) { made = true; makeOne(); } } };
  await assert.rejects(backfill(options(db, file, { progress })), (error: Error) => {
    assert.match(error.message, /a database appeared at .*vigil\.db while the backfill loaded into a new file: the load was not put in its place/);
    assert.match((error as VigilError).hint ?? "", /run the backfill again/);
    return true;
  });
  assert.equal(made, true);
  const kept = backfillSnapshot(db);
  assert.deepEqual([kept.cases.length, kept.runs.length], [0, 1], "the database made meanwhile is as it was made");
  assert.deepEqual(leftovers(dir), []);
});

/** Files beside `db` named as a fresh load's temporary file. */
function tempFiles(db: string): string[] {
  const dir = join(db, "..");
  return readdirSync(dir).filter((name) => name.startsWith(".killed.db.vigil-tmp-")).map((name) => join(dir, name));
}

function tempBytes(db: string): number {
  return tempFiles(db).reduce((sum, path) => sum + (existsSync(path) ? statSync(path).size : 0), 0);
}


test("a first load killed with SIGKILL at any moment leaves no half database; run again, it completes", { timeout: 240_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "archive.csv");
  await writeArchiveCsv(file, 30_000, 8);
  const clean = join(dir, "clean.db");
  const first = await runCli(["backfill", "--file", file, "--db", clean, "--dataset", "cjeq-bs86"]);
  assert.equal(first.code, 0, first.stderr);
  const expected = backfillSnapshot(clean);
  const size = statSync(clean).size;

  const db = join(dir, "killed.db");
  const args = ["backfill", "--file", file, "--db", db, "--dataset", "cjeq-bs86"];
  let started = 0;
  const moments: Array<[string, () => boolean]> = [
    ["as the temporary file appears", () => tempFiles(db).length > 0],
    ["a third of the way", () => tempBytes(db) > size / 3],
    ["late in the load", () => tempBytes(db) > size * 0.8],
  ];
  const signals: string[] = [];
  for (const [moment, ready] of moments) {
    started = Date.now();
    const signal = await killWhen(args, ready);
    signals.push(`${moment}: ${signal} after ${Date.now() - started} ms`);
    // before the rename there is no database; after it, the whole load (checked below)
    if (existsSync(db)) break;
    assert.ok(tempFiles(db).length > 0, `${moment}: the killed load left only its temporary file`);
  }
  t.diagnostic(signals.join("; "));
  assert.ok(signals.filter((s) => s.includes("SIGKILL")).length >= 2, signals.join("; "));
  if (!existsSync(db)) {
    const last = await runCli(args);
    assert.equal(last.code, 0, last.stderr);
    assert.match(last.stderr, /left by a first load into .* that did not finish: a load into a new database starts over/);
  }
  const got = backfillSnapshot(db);
  assert.deepEqual(got.cases, expected.cases, "the same cases, with the same provenance");
  assert.deepEqual(got.revisions, expected.revisions);
  assert.deepEqual(got.rejects, expected.rejects);
  assert.deepEqual(got.runs, expected.runs, "one run: the killed ones kept nothing");
  assert.deepEqual(got.fts, expected.fts);
  assert.equal(got.leftovers, 0);
  assert.deepEqual(tempFiles(db), [], "the temporary files are gone");
  ftsSound(db);
});
