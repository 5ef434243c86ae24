/**
 * `vigil status` as a monitor calls it: exit codes of --max-age on fresh, stale and never-successful
 * databases, the --json shape, and the runs table it prints.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { FAST_HTTP, memoryLogger, runMain, tempDir } from "./helpers.ts";
import { openDatabase } from "../pipeline/store/db.ts";

const DATASET = "3trz-enys";
const rows = generateCovidView({ seed: 11, count: 300 });
const HOUR = 3_600_000;

async function portalWith(t: { after(fn: () => Promise<void>): void }) {
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  return portal;
}

/** An ingest whose clock says it happened `hoursAgo` hours before now. */
async function ingestAt(db: string, portal: string, hoursAgo: number) {
  const at = Date.now() - hoursAgo * HOUR;
  return ingest({ config: { db, portal, dataset: DATASET }, log: memoryLogger(), now: () => new Date(at), http: FAST_HTTP });
}

test("--max-age passes on a fresh database and prints runs with counts and durations", async (t) => {
  const db = join(tempDir(t), "vigil.db");
  const portal = await portalWith(t);
  const run = await runMain(["ingest", "--db", db, "--portal", portal.url]);
  assert.equal(run.code, 0, run.stderr);

  const status = await runMain(["status", "--db", db, "--max-age", "1"]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal(status.stderr, "");
  assert.match(status.stdout, /covid deaths\s+\d+ \(300 cases stored, 0 removed upstream\)/);
  assert.match(status.stdout, /last checked\s+\d{4}-\d\d-\d\dT.*\(0 h ago\)/);
  const line = status.stdout.split("\n").find((l) => /^\s+1\s+ingest\s+success/.test(l));
  assert.ok(line, status.stdout);
  assert.match(line, /\s\d+\.\d\s+300\s+300\s/, "duration in seconds, fetched and inserted");

  const json = await runMain(["status", "--db", db, "--max-age", "1", "--json"]);
  assert.equal(json.code, 0);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.stale, false);
  assert.equal(parsed.cases, 300);
  assert.ok(parsed.covid_deaths > 250 && parsed.covid_deaths <= 300);
  assert.equal(parsed.runs[0].status, "success");
  assert.equal(parsed.runs[0].inserted, 300);
  assert.equal(typeof parsed.runs[0].duration_ms, "number");
  assert.equal(parsed.last_checked, parsed.data_last_changed, "the only run both checked and changed the data");
});

test("--max-age fails on a stale database, and the next run makes it pass again", async (t) => {
  const db = join(tempDir(t), "vigil.db");
  const portal = await portalWith(t);
  await ingestAt(db, portal.url, 50);

  const stale = await runMain(["status", "--db", db, "--max-age", "26"]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /^vigil status: last successful run finished 50 h ago, more than --max-age 26\n$/);
  const json = await runMain(["status", "--db", db, "--max-age", "26", "--json"]);
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.stdout).stale, true);
  const lenient = await runMain(["status", "--db", db, "--max-age", "72"]);
  assert.equal(lenient.code, 0, "older than 26 h but younger than 72 h");

  // A no-change run refreshes "last checked" but not "data last changed".
  await ingestAt(db, portal.url, 0);
  const fresh = await runMain(["status", "--db", db, "--max-age", "26", "--json"]);
  assert.equal(fresh.code, 0, fresh.stderr);
  const status = JSON.parse(fresh.stdout);
  assert.equal(status.stale, false);
  assert.ok(Date.parse(status.last_checked) - Date.parse(status.data_last_changed) > 49 * HOUR);
});

test("--max-age fails when no run ever succeeded, and a missing database is an error", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const portal = await portalWith(t);
  portal.faults.always({ kind: "status", status: 404 });
  // a database that was there before: a first run that fails leaves none behind
  openDatabase(db).close();
  const failed = await runMain(["ingest", "--db", db, "--portal", portal.url]);
  assert.equal(failed.code, 1);

  const status = await runMain(["status", "--db", db, "--max-age", "26"]);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /no successful run yet/);
  assert.match(status.stdout, /last checked\s+never/);
  assert.match(status.stdout, /\s1\s+ingest\s+failed/);

  const missing = await runMain(["status", "--db", join(dir, "nope.db"), "--max-age", "26"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vigil status: no database at .*nope\.db \(run `vigil ingest`/);

  const bad = await runMain(["status", "--db", db, "--max-age", "soon"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-age must be a positive number of hours/);
});
