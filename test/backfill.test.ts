/**
 * `backfill --file` in process, against real SQLite files: the same validation, rejects, revisions
 * and run record as ingest, either header flavour, date ranges, the archive, errors, resuming.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { generateArchive, generateCovidView } from "../fixtures/generate.ts";
import { bulkCsvChunks, resourceCsv } from "../fixtures/portal-csv.ts";
import { ARCHIVE_COLUMNS } from "../bench/archive-csv.ts";
import { backfill, type BackfillOptions } from "../pipeline/backfill/backfill.ts";
import { RunRefusedError, SourceFormatError, UsageError, VigilError } from "../pipeline/errors.ts";
import { progressLog, type Progress } from "../pipeline/progress.ts";
import { SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";
import { fixedClock, memoryLogger, tempDir } from "./helpers.ts";
import { backfillSnapshot as snapshot } from "./helpers.ts";
import { openDatabase } from "../pipeline/store/db.ts";

type T = Parameters<typeof tempDir>[0];

function bulkCsv(rows: readonly RawRow[]): string {
  return [...bulkCsvChunks(ARCHIVE_COLUMNS, rows)].join("");
}

function setup(t: T, dataset = "3trz-enys") {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const log = memoryLogger();
  const options = (file: string, over: Partial<BackfillOptions> = {}): BackfillOptions => ({
    config: { db, portal: "http://127.0.0.1:9", dataset },
    log,
    now: fixedClock(),
    file,
    // Parsed on this thread: a worker started from the sources loads tsx and takes a second or so.
    // The tests about what crosses threads (results in order, a worker's error, a stop) ask for workers.
    workers: 0,
    ...over,
  });
  const write = (name: string, text: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const query = <R = unknown>(sql: string, ...params: unknown[]): R[] => {
    const conn = new Database(db, { readonly: true });
    try {
      return conn.prepare(sql).all(...params) as R[];
    } finally {
      conn.close();
    }
  };
  return { dir, db, log, options, write, query };
}

const view = generateCovidView({ seed: 11, count: 1500 });
const bad: RawRow = { casenumber: "ME2021-99999", age: "50" }; // no death date
// a later row for the same case, as a corrected re-export would have it: like ingest, the later one wins
const sample = [...view.slice(0, 700), bad, { ...view[10], age: "99" }, ...view.slice(700)];

test("a file goes through ingest's validation: cases, an 'added' revision each, rejects with their line, a run record", async (t) => {
  const { options, write, query, db } = setup(t);
  const file = write("export.csv", bulkCsv(sample));
  const result = await backfill(options(file, { chunkBytes: 8192, commitRows: 500, workers: 2 }));
  assert.equal(result.counts.fetched, sample.length);
  assert.equal(result.counts.inserted, view.length);
  assert.equal(result.counts.rejected, 2);
  assert.equal(result.changed, true);
  const [run] = query<Record<string, unknown>>("SELECT * FROM runs");
  assert.equal(run.kind, "backfill");
  assert.equal(run.status, "success");
  assert.equal(run.source_file, file);
  assert.equal(run.inserted, view.length);
  const rejects = query<{ reasons: string; codes: string; casenumber: string }>("SELECT reasons, codes, casenumber FROM rejects ORDER BY id");
  assert.match(rejects[0].reasons, /death_date is missing; line 702 of export\.csv/);
  assert.deepEqual(rejects.map((r) => r.codes), ['["missing_death_date"]', '["duplicate_casenumber"]']);
  assert.equal(rejects[1].casenumber, String(view[10].casenumber));
  assert.match(rejects[1].reasons, /appears more than once in the source; the row at line 703 replaced this earlier one \(export\.csv\)/);
  assert.deepEqual(query("SELECT age FROM cases WHERE casenumber = ?", view[10].casenumber), [{ age: 99 }]);
  const snap = snapshot(db);
  assert.equal(snap.revisions.length, view.length);
  assert.ok(snap.revisions.every((r) => (r as { change: string }).change === "added"), "only additions");
  assert.equal(snap.leftovers, 0, "a finished backfill leaves no checkpoint behind");
  assert.ok(snap.fts.length > 1000, "full-text search finds the loaded rows");
  const conn = new Database(db);
  t.after(() => conn.close());
  // with rank 1, FTS5 checks its index against the content of `cases`, row by row
  conn.prepare("INSERT INTO cases_fts (cases_fts, rank) VALUES ('integrity-check', 1)").run();
});

test("either header flavour, a byte-order mark, CRLF line ends and quoted line breaks load the same cases", async (t) => {
  const rows = view.slice(0, 300).map((row, i) => (i % 7 === 0 ? { ...row, secondarycause: 'HYPERTENSION;\nDEMENTIA, "MILD"' } : row));
  const a = setup(t);
  await backfill(a.options(a.write("plain.csv", bulkCsv(rows))));
  const b = setup(t);
  const crlf = "\uFEFF" + bulkCsv(rows).replace(/(?<!\r)\n/g, "\r\n");
  await backfill(b.options(b.write("windows.csv", crlf), { chunkBytes: 1000 }));
  const c = setup(t);
  const columns = SOURCE_COLUMNS.map((col) => ({ source: col.fieldName, name: col.fieldName, type: col.dataTypeName }));
  await backfill(c.options(c.write("resource.csv", resourceCsv(columns, rows))));
  const cases = (db: string) => snapshot(db).cases;
  const expected = cases(a.db);
  assert.equal(expected.length, 300);
  const withBreak = expected.find((row) => String((row as { secondary_cause: string }).secondary_cause).includes("MILD")) as { secondary_cause: string };
  assert.equal(withBreak.secondary_cause, 'HYPERTENSION; DEMENTIA, "MILD"', "the quoted line break arrives (and is cleaned like any text)");
  assert.deepEqual(cases(c.db), expected);
  // CRLF inside a quoted field stays part of the text until cleaning, so rows match exactly
  assert.deepEqual(cases(b.db), expected);
});

test("--since and --until load part of history and never mark removals", async (t) => {
  const { options, write, query } = setup(t);
  const file = write("export.csv", bulkCsv(view));
  await backfill(options(file));
  const part = write("part.csv", bulkCsv(view.slice(0, 100)));
  const result = await backfill(options(part, { since: "2020-12-01", until: "2020-12-31" }));
  const inRange = view.slice(0, 100).filter((r) => String(r.death_date).slice(0, 10) >= "2020-12-01" && String(r.death_date).slice(0, 10) <= "2020-12-31").length;
  assert.equal(result.outside, 100 - inRange);
  assert.equal(result.counts.unchanged, inRange);
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM cases WHERE removed_run_id IS NOT NULL")[0].n, 0);
  await assert.rejects(backfill(options(part, { since: "2020-12-31", until: "2020-12-01" })), UsageError);
  await assert.rejects(backfill(options(part, { since: "2020-02-30" })), /--since must be a date like 2020-03-16/);
});

test("the full archive loads: COVID from the flag, else from the causes; the views keep COVID deaths only", async (t) => {
  const { options, write, query } = setup(t, "cjeq-bs86");
  const archive = generateArchive({ count: 4000, seed: 2 });
  const result = await backfill(options(write("archive.csv", bulkCsv(archive))));
  assert.equal(result.counts.inserted, archive.length);
  const mentions = (r: RawRow) => ["primarycause", "primarycause_linea", "primarycause_lineb", "primarycause_linec", "secondarycause"].some((f) => /covid/i.test(String(r[f] ?? "")));
  const expected = archive.filter((r) => (r.covid_related === undefined ? mentions(r) : r.covid_related === true)).length;
  assert.ok(expected > 0 && expected < archive.length, `${expected} COVID rows of ${archive.length}`);
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM cases WHERE is_covid = 1")[0].n, expected);
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM covid_deaths")[0].n, expected);
  assert.equal(query<{ n: number }>("SELECT sum(deaths) AS n FROM daily_deaths")[0].n, expected, "daily_deaths counts COVID deaths only");
  const unflagged = archive.find((r) => r.covid_related === undefined && mentions(r));
  if (unflagged) {
    const [row] = query<{ is_covid: number; covid_related: number | null }>("SELECT is_covid, covid_related FROM cases WHERE casenumber = ?", unflagged.casenumber);
    assert.deepEqual(row, { is_covid: 1, covid_related: null });
  }
});

test("the same file again changes nothing; a corrected file becomes revisions", async (t) => {
  const { options, write, query } = setup(t);
  const rows = view.slice(0, 400);
  const file = write("export.csv", bulkCsv(rows));
  await backfill(options(file));
  const again = await backfill(options(file));
  assert.deepEqual({ ...again.counts }, { fetched: 400, inserted: 0, updated: 0, unchanged: 400, removed: 0, restored: 0, rejected: 0 });
  assert.equal(again.changed, false);
  const corrected = rows.map((r, i) => (i === 5 ? { ...r, age: String(Number(r.age ?? 40) + 1) } : r));
  const third = await backfill(options(write("corrected.csv", bulkCsv(corrected))));
  assert.equal(third.counts.updated, 1);
  const revisions = query<{ field: string; run_id: number; new_value: string }>("SELECT field, run_id, new_value FROM case_revisions WHERE change = 'changed'");
  assert.deepEqual(
    revisions.map(({ field, run_id }) => ({ field, run_id })),
    [{ field: "age", run_id: third.runId }, { field: "memorial_sentence", run_id: third.runId }],
  );
  assert.equal(revisions[0].new_value, String(Number(rows[5].age ?? 40) + 1));
  assert.match(revisions[1].new_value, new RegExp(`\\b${revisions[0].new_value}-year-old\\b`), "the memorial's words follow the age");
});

test("what is not the expected CSV fails at once, naming the file, and loads nothing", async (t) => {
  const { options, write, query, db } = setup(t);
  // a database that was there before: a first run that fails leaves none behind
  openDatabase(db).close();
  const json = write("rows.json", JSON.stringify(view.slice(0, 5)));
  await assert.rejects(backfill(options(json)), (error: Error) => error instanceof SourceFormatError && error.message.startsWith(json) && /is JSON/.test(error.message));
  const other = write("other.csv", "name,city,total\nAda,Chicago,3\n");
  await assert.rejects(backfill(options(other)), /other\.csv: its header has no "Case Number"/);
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM cases")[0].n, 0);
  assert.deepEqual(query("SELECT status FROM runs").map((r) => (r as { status: string }).status), ["failed", "failed"]);
  await assert.rejects(backfill(options(join(tempDir(t), "missing.csv"))), /--file .*missing\.csv: no such file/);
});

test("a broken record names its file and line; the rows before it stay loaded", async (t) => {
  const { options, write, query, db } = setup(t);
  // into a database that exists, which commits as it goes (a new one is loaded whole or not at all)
  openDatabase(db).close();
  const text = bulkCsv(view.slice(0, 600));
  const lines = text.split("\n");
  lines[451] = lines[451].split(",").slice(0, 5).join(",");
  const file = write("broken.csv", lines.join("\n"));
  await assert.rejects(backfill(options(file, { chunkBytes: 4096, commitRows: 100, workers: 2 })), (error: Error) => {
    assert.ok(error instanceof SourceFormatError, String(error));
    assert.equal(error.message, `${file} line 452: 5 fields where the header has ${ARCHIVE_COLUMNS.length}`);
    return true;
  });
  const loaded = query<{ n: number }>("SELECT count(*) AS n FROM cases")[0].n;
  assert.ok(loaded > 0 && loaded < 451, `committed rows before the broken line stay (${loaded})`);
  const [run] = query<{ status: string; error: string; inserted: number }>("SELECT status, error, inserted FROM runs");
  assert.equal(run.status, "failed");
  assert.equal(run.inserted, loaded);
});

test("a file whose rows are mostly rejected is refused before anything is loaded", async (t) => {
  const { options, write, query, db } = setup(t);
  // a database that was there before: a first run that fails leaves none behind
  openDatabase(db).close();
  const rows = view.slice(0, 200).map((r, i) => (i % 3 === 0 ? { ...r, death_date: "someday" } : r));
  await assert.rejects(backfill(options(write("bad.csv", bulkCsv(rows)))), (error: Error) => error instanceof RunRefusedError && /67 of 200 rows failed validation/.test(error.message));
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM cases")[0].n, 0);
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM backfill_checkpoints")[0].n, 0, "a refused run is not resumable");
});

test("off a terminal, progress is plain periodic log lines", async (t) => {
  const { options, write, log } = setup(t);
  await backfill(options(write("export.csv", bulkCsv(view)), { chunkBytes: 8192, progress: progressLog(log, 0) }));
  const lines = log.lines.filter((l) => l.stage === "progress");
  assert.ok(lines.length > 3, `${lines.length} progress lines`);
  const rows = lines.map((l) => l.rows as number);
  assert.deepEqual(rows, [...rows].sort((a, b) => a - b));
  assert.equal(lines.at(-1)?.rows, view.length);
  assert.equal(lines.at(-1)?.percent, 100);
  assert.equal(typeof lines[0].rows_per_s, "number");
  assert.ok(log.lines.some((l) => l.stage === "load" && l.inserted === view.length), "a closing load line");
});

/** Stops a run (like Ctrl-C) once it has read `rows` rows. */
function stopAfter(rows: number, controller: AbortController): Progress {
  return {
    start() {},
    update(done) {
      if (done.rows >= rows && !controller.signal.aborted) controller.abort(new VigilError("stopped by SIGINT"));
    },
    stop() {},
  };
}

test("a stopped backfill resumes where its last commit ended and finishes as a clean run would", async (t) => {
  const rows = [...sample, ...view.slice(0, 20).map((r) => ({ ...r, casenumber: `${String(r.casenumber)}X`, death_date: "2999-01-01T00:00:00" }))];
  const sizes = { chunkBytes: 4096, commitRows: 300 };
  const clean = setup(t);
  const cleanFile = clean.write("export.csv", bulkCsv(rows));
  await backfill(clean.options(cleanFile, sizes));
  const expected = snapshot(clean.db);

  const run = setup(t);
  const file = run.write("export.csv", bulkCsv(rows));
  // an existing (empty) database: a load into a new one starts over instead (backfill-fresh.test.ts)
  openDatabase(run.db).close();
  for (const stopAt of [100, 800, 1300]) {
    const controller = new AbortController();
    await assert.rejects(
      backfill(run.options(file, { ...sizes, workers: 1, signal: controller.signal, progress: stopAfter(stopAt, controller) })),
      (error: Error) => error instanceof VigilError && /stopped by SIGINT/.test(error.message) && /run the same command again to resume from line \d+/.test(error.hint ?? ""),
    );
    const [state] = run.query<{ status: string; records: number }>("SELECT status, records FROM runs JOIN backfill_checkpoints ON run_id = runs.id");
    assert.equal(state.status, "failed");
    // it stops within the chunk (a few dozen rows) that crossed the mark
    assert.ok(state.records < stopAt + 100, `committed ${state.records} rows, stopped at ${stopAt}`);
  }
  const resumed = await backfill(run.options(file, sizes));
  assert.ok(resumed.resumedAt !== undefined && resumed.resumedAt > 1000, `resumed at line ${resumed.resumedAt}`);
  const got = snapshot(run.db);
  assert.deepEqual(got.cases, expected.cases);
  assert.deepEqual(got.revisions, expected.revisions);
  assert.deepEqual(got.rejects, expected.rejects);
  assert.deepEqual(got.runs, expected.runs, "one run, with the counts of a clean run");
  assert.deepEqual(got.fts, expected.fts);
  assert.equal(got.leftovers, 0);
});

test("--restart, other options or another file start a new run instead of resuming", async (t) => {
  const { options, write, query, log, db } = setup(t);
  const sizes = { chunkBytes: 4096, commitRows: 300 };
  const file = write("export.csv", bulkCsv(view));
  openDatabase(db).close();
  const interrupt = async (over: Partial<BackfillOptions> = {}) => {
    const controller = new AbortController();
    await assert.rejects(backfill(options(file, { ...sizes, ...over, signal: controller.signal, progress: stopAfter(700, controller) })));
  };
  await interrupt();
  const second = await backfill(options(file, { ...sizes, restart: true }));
  assert.equal(second.resumedAt, undefined);
  assert.equal(second.counts.inserted + second.counts.unchanged, view.length);
  assert.ok(log.lines.some((l) => l.stage === "resume" && /--restart was given/.test(String(l.msg))), "the log says why it did not resume");
  const [first] = query<{ status: string; error: string }>("SELECT status, error FROM runs WHERE id = 1");
  assert.equal(first.status, "failed");
  assert.match(first.error, /^stopped after loading \d+ rows .* not resumed: --restart was given/);

  await interrupt();
  const ranged = await backfill(options(file, { ...sizes, since: "2021-01-01" }));
  assert.equal(ranged.resumedAt, undefined, "other options do not resume");
  assert.equal(query<{ n: number }>("SELECT count(*) AS n FROM backfill_checkpoints")[0].n, 0);
});
