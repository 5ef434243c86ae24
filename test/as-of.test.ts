/**
 * Every figure as it stood: a source that corrects itself night after night (fixtures/corrections.ts),
 * served by the fixture portal, one real ingest per night and `vigil widgets` written after each.
 * Afterwards, `vigil widgets --as-of RUN` must write again, byte for byte, what was written right
 * after RUN; the record as of each run must be the one the portal listed that night; and the
 * `daily_deaths_as_of` and `rates` queries must answer what was published after each run, in the
 * private database and in the public snapshot.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CORRECTION_NIGHTS, CORRECTION_RUN_TIMES } from "../fixtures/corrections.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { loadMetadata } from "../datasette/metadata.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { publish } from "../pipeline/publish/publish.ts";
import { summarySchema } from "../schemas/widgets.ts";
import { readWidgetData } from "../site-widgets/read.ts";
import { expectedDaily } from "./datasette-helpers.ts";
import { FAST_HTTP, fixedClock, memoryLogger, runMain, tempDir } from "./helpers.ts";
import { FIXTURE_SITE, listFiles } from "./widgets-site.ts";

const DATASET = "3trz-enys";

let dir: string;
let db: string;
let site: string;
let portal: FixturePortal;
let runs: number[];
/** Every file `vigil widgets` wrote right after each run, by run: path -> sha256. */
const written = new Map<number, Record<string, string>>();

/** The site's files and their digests (vigil's own folders, and the author's files around them). */
function siteFiles(): Record<string, string> {
  return Object.fromEntries(listFiles(site).sort().map((file) => [file, createHash("sha256").update(readFileSync(join(site, file))).digest("hex")]));
}

async function widgets(...extra: string[]) {
  const result = await runMain(["widgets", "--site", site, "--db", db, "--log-format", "json", ...extra]);
  assert.equal(result.code, 0, `vigil widgets ${extra.join(" ")} failed: ${result.stderr}`);
  return result;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-as-of-"));
  db = join(dir, "vigil.db");
  site = join(dir, "site");
  cpSync(FIXTURE_SITE, site, { recursive: true });
  portal = await startPortal({ datasets: { [DATASET]: CORRECTION_NIGHTS[0] } });
  runs = [];
  for (const [night, rows] of CORRECTION_NIGHTS.entries()) {
    if (night > 0) portal.setRows(DATASET, rows);
    const result = await ingest({ config: { db, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(CORRECTION_RUN_TIMES[night]), http: FAST_HTTP });
    runs.push(result.runId);
    await widgets();
    written.set(result.runId, siteFiles());
    copyFileSync(join(site, "data/vigil/summary.json"), join(dir, `summary-after-run-${result.runId}.json`));
  }
});

after(async () => {
  await portal?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The deaths the portal listed on a night, as the county counts them: the COVID Related flag. */
const deathDates = (night: number) => CORRECTION_NIGHTS[night].filter((row) => row.covid_related === true).map((row) => String(row.death_date).slice(0, 10));

function open(path = db) {
  return new Database(path, { readonly: true });
}

test("`--as-of` each run writes again, byte for byte, what `vigil widgets` wrote right after it: a correction never erases what was published", async () => {
  assert.equal(new Set([...written.values()].map((files) => JSON.stringify(files))).size, runs.length, "every run wrote something of its own");
  for (const run of runs) {
    const result = await widgets("--as-of", String(run));
    assert.match(result.stdout, new RegExp(`\\(the record as of run ${run}\\)\\n$`));
    assert.deepEqual(siteFiles(), written.get(run), `as of run ${run}: every file as it was written then, and no other`);
  }
  // the first run's figures, with the later corrections all in the database
  const summary = summarySchema.parse(JSON.parse(readFileSync(join(site, "data/vigil/summary.json"), "utf8")));
  assert.equal(summary.run_id, runs.at(-1));
  await widgets("--as-of", String(runs[0]));
  const first = summarySchema.parse(JSON.parse(readFileSync(join(site, "data/vigil/summary.json"), "utf8")));
  assert.deepEqual(
    { total: first.total_deaths, run: first.run_id, checked: first.last_checked, changed: first.data_last_changed },
    { total: deathDates(0).length, run: runs[0], checked: new Date(CORRECTION_RUN_TIMES[0]).toISOString(), changed: new Date(CORRECTION_RUN_TIMES[0]).toISOString() },
  );
  const csv = readFileSync(join(site, "static/vigil/daily-deaths.csv"), "utf8");
  assert.match(csv, /^2020-04-03,1,/m, "D died on April 3 as the first run had it");
  // and without --as-of, the record as it stands comes back
  await widgets();
  assert.deepEqual(siteFiles(), written.get(runs.at(-1)!));
});

test("the record as of each run is the one the portal listed that night", () => {
  const conn = open();
  try {
    for (const [night, run] of runs.entries()) {
      const data = readWidgetData(conn, run);
      assert.deepEqual(data.daily, expectedDaily(deathDates(night)), `daily series as of run ${run}`);
      assert.equal(data.people.length, deathDates(night).length);
      assert.equal(data.freshness.run_id, run);
      assert.equal(data.freshness.last_checked, new Date(CORRECTION_RUN_TIMES[night]).toISOString());
    }
    const on = (day: string) => runs.map((run) => readWidgetData(conn, run).daily.find((d) => d.date === day)?.deaths ?? 0);
    assert.deepEqual(on("2020-04-03"), [1, 0, 0, 0, 0, 0], "D's death moved from April 3...");
    assert.deepEqual(on("2020-04-05"), [0, 1, 1, 1, 0, 0], "...to April 5...");
    assert.deepEqual(on("2020-04-07"), [0, 0, 0, 0, 1, 1], "...to April 7");
    assert.deepEqual(on("2020-04-02"), [1, 1, 1, 2, 1, 1], "C withdrawn, the late case added, C back, C withdrawn again");
    assert.deepEqual(on("2020-04-04"), [1, 1, 0, 0, 0, 0], "E no longer counted as COVID-19");
    assert.deepEqual(on("2020-04-06"), [1, 1, 2, 2, 2, 2], "F now counted");
    const words = runs.map((run) => readWidgetData(conn, run).people.find((p) => p.death_date === "2020-04-01" && p.gender === "Female")?.memorial_sentence);
    assert.deepEqual(words, [
      "A 70-year-old woman from Chicago.",
      ...Array(3).fill("A 71-year-old woman from Oak Lawn."),
      ...Array(2).fill("A 72-year-old woman from Oak Lawn."),
    ]);
    // the unchanged last night checked the record; it last changed the night before
    const last = readWidgetData(conn, runs[5]).freshness;
    assert.equal(last.data_last_changed, new Date(CORRECTION_RUN_TIMES[4]).toISOString());
    assert.deepEqual(readWidgetData(conn, runs[5]), readWidgetData(conn), "as of the last run is the record as it stands");
  } finally {
    conn.close();
  }
});

test("the memorial's words follow the person as they stood, even where the log holds no revision of them", (t) => {
  // a database whose words came later (a migration filled them) than the corrections of age and city
  const copy = join(tempDir(t), "vigil.db");
  copyFileSync(db, copy);
  const writer = new Database(copy);
  writer.prepare("DELETE FROM case_revisions WHERE field = 'memorial_sentence'").run();
  writer.close();
  const conn = open(copy);
  try {
    const year = readWidgetData(conn, runs[0]).people.filter((p) => p.death_date === "2020-04-01").map((p) => p.memorial_sentence);
    assert.deepEqual(year, ["A 70-year-old woman from Chicago.", "An 81-year-old man."]);
  } finally {
    conn.close();
  }
});

test("daily_deaths_as_of and rates answer what was published after every run, in the private database and in the public snapshot", async (t) => {
  const { queries } = loadMetadata().databases.vigil;
  const published = await publish({ db, out: join(tempDir(t), "public"), now: fixedClock("2026-11-07T12:00:00Z"), log: memoryLogger() });
  const conn = open();
  const snapshot = open(published.path);
  const line = (r: Record<string, unknown>) => [r.race_ethnicity, r.deaths, r.population, r.crude_per_100k, r.age_adjusted_per_100k, r.deaths_unknown_age].join("|");
  try {
    for (const [night, run] of runs.entries()) {
      const expected = expectedDaily(deathDates(night));
      assert.deepEqual(conn.prepare(queries.daily_deaths_as_of.sql).all({ run_id: String(run), lens: "" }), expected, `private, as of run ${run}`);
      assert.deepEqual(snapshot.prepare(queries.daily_deaths_as_of.sql).all({ run_id: ` ${run} `, lens: "" }), expected, `public snapshot, as of run ${run}`);
      // the rates the summary written right after that run printed, digit for digit
      const summary = summarySchema.parse(JSON.parse(readFileSync(join(dir, `summary-after-run-${run}.json`), "utf8")));
      const printed = [summary.rates.all, ...summary.rates.groups].map((r) => line(r));
      for (const database of [conn, snapshot]) assert.deepEqual((database.prepare(queries.rates.sql).all({ run_id: String(run), lens: "" }) as Array<Record<string, unknown>>).map(line), printed, `rates as of run ${run}`);
    }
    assert.deepEqual(conn.prepare(queries.daily_deaths_as_of.sql).all({ run_id: "", lens: "" }), conn.prepare("SELECT * FROM daily_deaths").all(), "no run: the record as it stands");
    assert.deepEqual(conn.prepare(queries.daily_deaths_as_of.sql).all({ run_id: "0", lens: "" }), [], "before the first run there was nothing");
  } finally {
    conn.close();
    snapshot.close();
  }
});

test("--as-of takes the id of a successful run, and goes before --freeze rather than with it", async (t) => {
  const before = siteFiles();
  for (const bad of ["abc", "0", "1.5", "-1", ""]) {
    const result = await runMain(["widgets", "--site", site, "--db", db, `--as-of=${bad}`]);
    assert.equal(result.code, 2, `--as-of "${bad}": ${result.stderr}`);
    assert.match(result.stderr, /--as-of must be a run id/);
  }
  const unknown = await runMain(["widgets", "--site", site, "--db", db, "--as-of", "99"]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.trim().split("\n").length, 1, "one line");
  assert.match(unknown.stderr, /there is no run 99 in the database .*vigil status/);

  // a night the portal failed: recorded, but no record stood after it
  const copy = join(tempDir(t), "vigil.db");
  copyFileSync(db, copy);
  portal.faults.always({ kind: "status", status: 503 });
  try {
    await assert.rejects(ingest({ config: { db: copy, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock("2026-11-08T12:00:00Z"), http: { ...FAST_HTTP, maxAttempts: 1 } }));
  } finally {
    portal.faults.clear();
  }
  const failed = runs.at(-1)! + 1;
  const refused = await runMain(["widgets", "--site", site, "--db", copy, "--as-of", String(failed)]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`run ${failed} did not succeed \\(failed\\)`));

  const both = await runMain(["widgets", "--site", site, "--db", db, "--as-of", "1", "--freeze", "content/posts/frozen"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--as-of and --freeze go one after the other/);
  assert.deepEqual(siteFiles(), before, "nothing written by a refused command");
});
