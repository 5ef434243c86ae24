/**
 * `vigil backfill` as a user runs it: a real process, killed with SIGKILL at different moments and
 * started again; flags and errors; the progress bar on a terminal and log lines elsewhere.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { writeArchiveCsv } from "../bench/archive-csv.ts";
import { killWhen, runCli, runMain, ROOT, tempDir, VIGIL_BIN } from "./helpers.ts";
import { backfillSnapshot as snapshot } from "./helpers.ts";
import { openDatabase } from "../pipeline/store/db.ts";

/** Rows the interrupted run has committed (0 before its first checkpoint or before the database exists). */
function committed(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare("SELECT coalesce(max(records), 0) FROM backfill_checkpoints").pluck().get() as number) ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}


test("a backfill killed with SIGKILL at any moment finishes, once restarted, exactly as a clean run", { timeout: 240_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "archive.csv");
  // two commits of the CLI's 20,000 rows and a last part: a kill before, between and after them
  await writeArchiveCsv(file, 50_000, 5);
  const clean = join(dir, "clean.db");
  const first = await runCli(["backfill", "--file", file, "--db", clean, "--dataset", "cjeq-bs86"]);
  assert.equal(first.code, 0, first.stderr);
  const expected = snapshot(clean);
  assert.equal((expected.runs[0] as { inserted: number }).inserted, 50_000);

  const db = join(dir, "killed.db");
  // a database that exists (empty): it commits as it goes and resumes; a new one is loaded whole (backfill-fresh.test.ts)
  openDatabase(db).close();
  const args = ["backfill", "--file", file, "--db", db, "--dataset", "cjeq-bs86"];
  const kills: Array<[string, () => boolean, number]> = [
    ["during start-up", () => true, 250],
    ["before the first commit", () => committed(db) === 0 && snapshotRuns(db) > 0, 0],
    ["after a commit", () => committed(db) >= 20_000, 40],
    ["late in the file", () => committed(db) >= 40_000, 40],
  ];
  const signals: string[] = [];
  for (const [, ready, delay] of kills) signals.push(String(await killWhen(args, ready, delay)));
  assert.ok(signals.filter((s) => s === "SIGKILL").length >= 3, `killed: ${signals.join(", ")}`);
  const last = await runCli(args);
  assert.equal(last.code, 0, last.stderr);
  const got = snapshot(db);
  assert.equal(got.cases.length, expected.cases.length);
  assert.deepEqual(got.cases, expected.cases, "the same cases, with the same provenance");
  assert.deepEqual(got.revisions, expected.revisions, "the same revisions, none twice");
  assert.deepEqual(got.rejects, expected.rejects);
  assert.deepEqual(got.runs, expected.runs, "one run, with the counts of a clean run");
  assert.equal(got.leftovers, 0);
});

function snapshotRuns(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT count(*) FROM runs").pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

test("flags: --help documents them; bad dates and missing files are usage errors; a non-CSV fails in one line", async (t) => {
  const dir = tempDir(t);
  const help = await runMain(["backfill", "--help"]);
  assert.equal(help.code, 0);
  for (const flag of ["--file PATH", "--since DATE", "--until DATE", "--restart", "--dataset ID", "--max-reject-share"]) assert.ok(help.stdout.includes(flag), flag);
  const db = join(dir, "vigil.db");
  const date = await runMain(["backfill", "--db", db, "--since", "2020-13-01"]);
  assert.equal(date.code, 2);
  assert.equal(date.stderr, 'vigil backfill: --since must be a date like 2020-03-16 (YYYY-MM-DD, Chicago time), got "2020-13-01"\n');
  const missing = await runMain(["backfill", "--db", db, "--file", join(dir, "nope.csv")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^vigil backfill: --file .*nope\.csv: no such file\n$/);
  const html = join(dir, "export.csv");
  writeFileSync(html, "<html><body>Service Unavailable</body></html>\n");
  const notCsv = await runMain(["backfill", "--db", db, "--file", html]);
  assert.equal(notCsv.code, 1);
  assert.equal(notCsv.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n"), `vigil backfill: ${html} is HTML or XML (an error page?), not a CSV export\n`);
});

test("on a terminal a progress bar shows rows, rate and ETA; elsewhere, log lines", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "archive.csv");
  await writeArchiveCsv(file, 5_000, 6);
  const plain = await runMain(["backfill", "--file", file, "--db", join(dir, "a.db")]);
  assert.equal(plain.code, 0, plain.stderr);
  const progress = plain.stderr.split("\n").filter((l) => l.includes('"stage":"progress"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(progress.length >= 1, "at least the closing progress line");
  assert.equal(progress.at(-1)?.rows, 5_000);
  assert.doesNotMatch(plain.stderr, /\[[█░]+\]/, "no bar off a terminal");

  const script = spawnSync("script", ["--version"], { encoding: "utf8" });
  if (script.status !== 0) return t.skip("no `script` to give the command a terminal");
  const command = [process.execPath, VIGIL_BIN, "backfill", "--file", file, "--db", join(dir, "b.db")].map((a) => `'${a}'`).join(" ");
  const tty = spawnSync("script", ["-qec", command, "/dev/null"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, COLUMNS: "120" }, timeout: 120_000 });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /backfill \[[█░]+\] 100% \| 5,000 rows \| [\d,]+ rows\/s \| ETA /);
});
