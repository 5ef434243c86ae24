/**
 * The datasette sidecar for real: datasette from .venv on a free loopback port, serving a database
 * filled by real ingests from the fixture portal. Expected answers are computed from the SQLite file
 * itself, independently of the canned queries' SQL.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse } from "yaml";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { buildMetadata, caseColumnDescriptions, loadMetadata } from "../datasette/metadata.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { DATASETTE_BIN, PUBLIC_PLUGINS, startDatasette, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import { publish } from "../pipeline/publish/publish.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT, runCli, runMain, tempDir, VIGIL_BIN } from "./helpers.ts";
import { memorialSentence, type Person } from "../pipeline/normalize/memorial.ts";
import { builtInEvents, readEventsFile } from "../pipeline/store/events.ts";
import { readWidgetData } from "../site-widgets/read.ts";
import { CANNED_QUERIES, ensureDatasette, expectedDaily, fetchJson, nextNight, tableColumns, type Row } from "./datasette-helpers.ts";

const DATASET = "3trz-enys";
const EVENTS_FILE = join(ROOT, "fixtures", "events.csv");
const DAY = "2020-12-01";

// The first ingest loads 2,000 generated cases; the second brings what a real night brings.
const first = generateCovidView({ seed: 1, count: 2000 });
const { second, onDay, corrected, withdrawn } = nextNight(first, DAY);

let dir: string;
let dbPath: string;
let portal: FixturePortal;
let served: DatasetteServer;
let locked: DatasetteServer;
let db: Database.Database;
/** The daily_deaths view right after the first ingest. */
let firstDaily: Row[];

before(async () => {
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-datasette-"));
  dbPath = join(dir, "vigil.db");
  portal = await startPortal({ datasets: { [DATASET]: first } });
  const config = { db: dbPath, portal: portal.url, dataset: DATASET };
  await ingest({ config, log: memoryLogger(), now: fixedClock("2026-11-25T12:00:00Z"), http: FAST_HTTP });
  const afterFirst = new Database(dbPath, { readonly: true });
  firstDaily = afterFirst.prepare("SELECT * FROM daily_deaths").all() as Row[];
  afterFirst.close();
  portal.setRows(DATASET, second);
  // the second night as the site owner runs it, with their own dated events
  const night = await runMain(["run", "--db", dbPath, "--portal", portal.url, "--dataset", DATASET, "--events", EVENTS_FILE], { now: fixedClock("2026-11-26T12:00:00Z") });
  assert.equal(night.code, 0, night.stderr);
  // --public serves the published snapshot of the public record, not the live database
  const published = await publish({ db: dbPath, out: join(dir, "public"), now: fixedClock("2026-11-26T13:00:00Z"), log: memoryLogger() });
  [served, locked] = await Promise.all([
    startDatasette({ db: dbPath, port: 0 }),
    startDatasette({ db: dbPath, snapshot: { path: published.path, manifest: published.manifest }, port: 0, cors: true }),
  ]);
  db = new Database(dbPath, { readonly: true });
});

after(async () => {
  db?.close();
  await Promise.all([served?.stop(), locked?.stop(), portal?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const covid = (where = "1", ...params: unknown[]) =>
  db.prepare(`SELECT * FROM cases WHERE is_covid = 1 AND removed_run_id IS NULL AND (${where}) ORDER BY casenumber`).all(...params) as Row[];

test("memorial lists each person who died that day, in words, without addresses, withdrawn or non-COVID cases", async () => {
  const { status, body } = await fetchJson(served, `/vigil/memorial.json?date=${DAY}&_shape=array`);
  assert.equal(status, 200);
  const rows = body as Row[];
  const expected = covid("death_date = ?", DAY);
  assert.deepEqual(rows.map((r) => r.casenumber).sort(), expected.map((r) => r.casenumber));
  for (const row of rows) {
    const stored = expected.find((r) => r.casenumber === row.casenumber)!;
    // The words stored with the case, which the site shows too (test/memorial-contract.test.ts).
    assert.equal(row.description, stored.memorial_sentence);
    assert.equal(row.description, memorialSentence(stored as unknown as Person));
    assert.equal(row.death_date, DAY);
  }
  const said = Object.fromEntries(rows.map((r) => [r.casenumber, r.description]));
  assert.equal(said["ME2022-05807"], "An 8-year-old girl from Oak Park.", "a backdated case appears on its day of death");
  assert.equal(said["ME2022-05808"], "A person.", "nothing known but the death");
  assert.equal(said["ME2022-05809"], "A baby under one year old from La Grange Park.");
  assert.equal(said["ME2022-05810"], "An 83-year-old man from Chicago.");
  const correctedNow = expected.find((r) => r.casenumber === corrected.casenumber)!;
  assert.equal(correctedNow.age, 47, "the corrected age is stored");
  assert.match(said[String(corrected.casenumber)], /^A 47-year-old /, "the corrected age");
  assert.ok(!(String(withdrawn.casenumber) in said), "a withdrawn case is left out");
  assert.ok(!("ME2020-99001" in said), "a non-COVID case is left out");
  const text = JSON.stringify(rows);
  assert.doesNotMatch(text, /TEST ST|incident_address|_zip|latitude/);
  for (const row of onDay) if (row.incident_street) assert.ok(!text.includes(String(row.incident_street)), "no street address");

  const latest = (await fetchJson(served, "/vigil/memorial.json?_shape=array")).body as Row[];
  const lastDay = db.prepare("SELECT max(death_date) FROM cases WHERE is_covid = 1 AND removed_run_id IS NULL").pluck().get();
  assert.ok(latest.length > 0 && latest.every((r) => r.death_date === lastDay), "no date: the latest day with deaths");
});

test("daily_deaths and by_month match counts taken straight from the cases", async () => {
  const daily = expectedDaily(covid().map((r) => String(r.death_date)));
  const window = daily.filter((d) => d.date >= "2020-11-25" && d.date <= "2020-12-07");
  const got = (await fetchJson(served, "/vigil/daily_deaths.json?start_date=2020-11-25&end_date=2020-12-07&_shape=array")).body;
  assert.deepEqual(got, window);
  assert.equal(window.find((d) => d.date === DAY)!.deaths, covid("death_date = ?", DAY).length);
  const whole = (await fetchJson(served, "/vigil/daily_deaths.json?_shape=array")).body as Row[];
  assert.equal(whole.length, daily.length, "the whole zero-filled series fits in one answer");
  assert.equal(whole.at(-1)!.cumulative_deaths, covid().length);

  const months = new Map<string, number>();
  for (const d of daily) months.set(d.date.slice(0, 7), (months.get(d.date.slice(0, 7)) ?? 0) + d.deaths);
  let total = 0;
  const expectedMonths = [...months].map(([month, deaths]) => ({ month, deaths, cumulative_deaths: (total += deaths) }));
  const byMonth = (await fetchJson(served, "/vigil/by_month.json?_shape=array")).body as Row[];
  assert.deepEqual(byMonth, expectedMonths);
  assert.ok(byMonth.some((m) => m.month === "2021-01") && byMonth.every((m) => /^\d{4}-\d{2}$/.test(String(m.month))), "YYYY-MM, in order across years");
});

test("daily_deaths_as_of gives the series as each run left it, the same privately and publicly, and what the widgets read", async () => {
  for (const run of [1, 2]) {
    const expected = readWidgetData(db, run).daily;
    for (const server of [served, locked]) {
      const { status, body } = await fetchJson(server, `/vigil/daily_deaths_as_of.json?run_id=${run}&_shape=array`);
      assert.equal(status, 200);
      assert.deepEqual(body, expected, `as of run ${run}${server === locked ? ", public" : ""}`);
    }
  }
  // what daily_deaths said right after the first night, corrections and all undone
  assert.deepEqual((await fetchJson(locked, "/vigil/daily_deaths_as_of.json?run_id=1&_shape=array")).body, firstDaily);
  assert.notDeepEqual(firstDaily, (await fetchJson(served, "/vigil/daily_deaths.json?_shape=array")).body, "the second night changed the series");
});

test("by_age_group, by_race_ethnicity and by_residence_city count every published COVID death once", async () => {
  const all = covid();
  const expected = (key: (r: Row) => string) => {
    const counts = new Map<string, number>();
    for (const r of all) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
    return Object.fromEntries(counts);
  };
  const check = async (query: string, column: string, key: (r: Row) => string) => {
    const rows = (await fetchJson(served, `/vigil/${query}.json?_shape=array`)).body as Row[];
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r[column], r.deaths])), expected(key), query);
    const percent = rows.reduce((sum, r) => sum + Number(r.percent), 0);
    assert.ok(Math.abs(percent - 100) < 0.5 + rows.length * 0.05, `${query} shares add up to 100 (${percent})`);
    return rows;
  };
  const ages = await check("by_age_group", "age_group", (r) => (r.age_group as string | null) ?? "Unknown");
  assert.deepEqual(
    ages.map((r) => r.age_group),
    ["0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+", "Unknown"].filter((g) => ages.some((r) => r.age_group === g)),
    "age groups in age order",
  );
  const races = await check("by_race_ethnicity", "race_ethnicity", (r) => String(r.race_ethnicity));
  assert.ok(races.some((r) => r.race_ethnicity === "Latino"), "Latino is its own category");
  const cities = await check("by_residence_city", "residence_city", (r) => (r.residence_city as string | null) ?? "UNKNOWN");
  assert.equal(cities[0].residence_city, "CHICAGO", "most first");
});

test("rates and rates_by_age_group print the site's figures digit for digit, live and in the public record", async () => {
  const { rates } = readWidgetData(db);
  const site = [rates.all, ...rates.groups];
  const line = (r: Row) => [r.race_ethnicity, r.deaths, r.population, r.crude_per_100k, r.age_adjusted_per_100k, r.reliable, r.deaths_unknown_age];
  for (const server of [served, locked]) {
    const rows = (await fetchJson(server, "/vigil/rates.json?_shape=array")).body as Row[];
    assert.deepEqual(rows.map(line), site.map((g) => line(g as unknown as Row)), "the same groups, order and strings");
    assert.equal(rows[0].race_ethnicity, "All residents");
    const groups = rows.slice(1);
    assert.equal(groups.reduce((n, r) => n + r.deaths, 0), covid().length, "every published death is in one group");
    assert.equal(rows[0].deaths, covid().length, "all residents: every published death");
    assert.equal(groups.reduce((n, r) => n + (r.population ?? 0), 0), 5_180_493, "every resident is in one group");
    assert.deepEqual(groups.filter((r) => r.population === null).map((r) => r.race_ethnicity), ["Unknown"]);

    const byAge = (await fetchJson(server, "/vigil/rates_by_age_group.json?_shape=array")).body as Row[];
    const ageLine = (r: Row) => [r.race_ethnicity, r.age_group, r.deaths, r.population, r.crude_per_100k, r.reliable];
    assert.deepEqual(byAge.map(ageLine), rates.byAgeGroup.map((r) => ageLine(r as unknown as Row)));
    const everyone = byAge.filter((r) => r.race_ethnicity === "All residents");
    assert.equal(everyone.reduce((n, r) => n + r.deaths, 0), covid("age IS NOT NULL").length, "all residents: every death of known age, once");
  }
});

test("revisions shows the night's corrections newest first; rejects says what was refused and why; last_run reports health", async () => {
  const revisions = (await fetchJson(served, "/vigil/revisions.json?_shape=array")).body as Row[];
  const stored = db.prepare("SELECT id, casenumber, change, field, old_value, new_value FROM case_revisions WHERE change != 'added' ORDER BY id DESC").all() as Row[];
  assert.deepEqual(
    revisions.map((r) => [r.revision, r.casenumber, r.change, r.field, r.old_value, r.new_value]),
    stored.map((r) => [r.id, r.casenumber, r.change, r.field, r.old_value, r.new_value]),
  );
  assert.ok(revisions.some((r) => r.casenumber === corrected.casenumber && r.field === "age" && r.old_value === String(Number(corrected.age)) && r.new_value === "47"));
  assert.ok(revisions.some((r) => r.casenumber === withdrawn.casenumber && r.change === "removed"));
  assert.ok(revisions.every((r) => r.run_id === 2 && r.run_finished_at === "2026-11-26T12:00:00.000Z"));
  const one = (await fetchJson(served, `/vigil/revisions.json?casenumber=${String(corrected.casenumber).toLowerCase()}&_shape=array`)).body as Row[];
  assert.ok(one.length > 0 && one.every((r) => r.casenumber === corrected.casenumber), "one case's history");

  const rejects = (await fetchJson(served, "/vigil/rejects.json?_shape=array")).body as Row[];
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0].casenumber, "ME2099-00001");
  assert.equal(rejects[0].first_refused_by_run, 2);
  assert.equal(rejects[0].first_refused_at, "2026-11-26T12:00:00.000Z");
  assert.match(String(rejects[0].reasons), /after today/);
  assert.deepEqual(JSON.parse(String(rejects[0].codes)), ["death_date_after_today"], "the reason as a code too");

  const [last] = (await fetchJson(served, "/vigil/last_run.json?_shape=array")).body as Row[];
  const run = db.prepare("SELECT * FROM runs ORDER BY id DESC LIMIT 1").get() as Row;
  assert.equal(last.run_id, 2);
  assert.equal(last.status, "success");
  assert.equal(last.finished_at, "2026-11-26T12:00:00.000Z");
  assert.equal(last.last_success_at, "2026-11-26T12:00:00.000Z");
  assert.equal(last.data_last_changed, "2026-11-26T12:00:00.000Z");
  for (const field of ["fetched", "inserted", "updated", "unchanged", "removed", "rejected"]) assert.equal(last[field], run[field], field);
  assert.deepEqual([last.inserted, last.updated, last.removed, last.rejected], [5, 1, 1, 1]);
});

test("rejects keeps listing a row the county never fixes, under the run that first refused it, newest first", async (t) => {
  const work = tempDir(t);
  const live = join(work, "vigil.db");
  const good = first.slice(0, 5);
  const never = { ":id": "row-never-fixed", casenumber: "ME2099-00002", death_date: "2099-02-02T00:00:00.000", age: "60", primarycause: "COVID-19", covid_related: true };
  const later = { ":id": "row-later", casenumber: "ME2099-00003", death_date: "2099-03-03T00:00:00.000", age: "61", primarycause: "COVID-19", covid_related: true };
  const source = await startPortal({ datasets: { [DATASET]: [...good, never] } });
  t.after(() => source.close());
  const config = { db: live, portal: source.url, dataset: DATASET };
  const night = (n: number) => ingest({ config, log: memoryLogger(), now: fixedClock(`2026-12-${String(n).padStart(2, "0")}T12:00:00Z`), http: FAST_HTTP });
  const server = await startDatasette({ db: live, port: 0 });
  t.after(() => server.stop());
  const listed = async () =>
    ((await fetchJson(server, "/vigil/rejects.json?_shape=array")).body as Row[]).map((r) => [r.casenumber, r.first_refused_by_run, r.first_refused_at]);

  // More runs than any "recent runs" window, each refusing the same row again.
  for (let n = 1; n <= 11; n++) await night(n);
  assert.deepEqual(await listed(), [["ME2099-00002", 1, "2026-12-01T12:00:00.000Z"]], "still listed after 11 runs, once, under the first");
  source.setRows(DATASET, [...good, never, later]);
  await night(12);
  const rows = await listed();
  assert.ok(rows.some((r) => r[0] === "ME2099-00003" && r[1] === 12 && r[2] === "2026-12-12T12:00:00.000Z"), "the new refusal");
  assert.deepEqual(rows.map((r) => r[1]), rows.map((r) => r[1]).sort((a, b) => b - a), "newest first");
  assert.deepEqual(rows.at(-1), ["ME2099-00002", 1, "2026-12-01T12:00:00.000Z"], "the row never fixed is still there");

  const check = new Database(live, { readonly: true });
  t.after(() => check.close());
  assert.deepEqual(check.prepare("SELECT rejected FROM runs ORDER BY id").pluck().all(), [...Array(11).fill(1), 2], "every run counts its refusals");
});

test("the cases table searches the causes of death and shows its default facets and sort", async () => {
  const { status, body } = await fetchJson(served, "/vigil/cases.json?_search=pneumonia&_shape=objects&_size=max");
  assert.equal(status, 200);
  const causes = ["primary_cause", "primary_cause_line_a", "primary_cause_line_b", "primary_cause_line_c", "secondary_cause"];
  const word = /\bpneumonia\b/i;
  const matching = (db.prepare("SELECT * FROM cases").all() as Row[]).filter((r) => causes.some((c) => word.test(String(r[c] ?? ""))));
  assert.ok(matching.length > 10);
  assert.equal(body.filtered_table_rows_count, matching.length);
  assert.ok((body.rows as Row[]).every((r) => causes.some((c) => word.test(String(r[c] ?? "")))));

  const table = (await fetchJson(served, "/vigil/cases.json?_shape=objects")).body;
  for (const facet of ["manner", "race_ethnicity", "age_group", "gender", "residence_city"]) assert.ok(facet in table.facet_results, `facet ${facet}`);
  const latino = table.facet_results.race_ethnicity.results.find((r: Row) => r.value === "Latino");
  assert.equal(latino.count, db.prepare("SELECT count(*) FROM cases WHERE race_ethnicity = 'Latino'").pluck().get());
  const dates = (table.rows as Row[]).map((r) => String(r.death_date));
  assert.deepEqual(dates, [...dates].sort().reverse(), "newest deaths first");

  const view = (await fetchJson(served, "/vigil/covid_deaths.json?_shape=objects")).body;
  assert.equal(view.filtered_table_rows_count, covid().length);
  for (const facet of ["manner", "race_ethnicity", "age_group", "gender", "residence_city"]) assert.ok(facet in view.facet_results, `covid_deaths facet ${facet}`);
  // Search works on the view of published COVID deaths too, and finds only those.
  const searched = (await fetchJson(served, "/vigil/covid_deaths.json?_search=pneumonia&_shape=objects&_size=max")).body;
  const expected = db.prepare("SELECT count(*) FROM covid_deaths WHERE case_rowid IN (SELECT rowid FROM cases_fts WHERE cases_fts MATCH 'pneumonia')").pluck().get();
  const all = db.prepare("SELECT count(*) FROM covid_deaths").pluck().get() as number;
  assert.ok((expected as number) > 0 && (expected as number) < all, "the search narrows the list");
  assert.equal(searched.filtered_table_rows_count, expected);
});

test("the events table lists the built-in events and the owner's from `vigil run --events`, privately and publicly", async () => {
  const owner = readEventsFile(EVENTS_FILE, "site");
  const builtIn = builtInEvents();
  const expected = [...builtIn, ...owner.filter((o) => !builtIn.some((b) => b.date === o.date && b.label === o.label))]
    .map(({ date, label, source_url, origin }) => ({ date, label, source_url, origin }))
    .sort((a, b) => a.date.localeCompare(b.date));
  assert.ok(expected.some((e) => e.origin === "site") && expected.length === builtIn.length + 1, "one owner event, and one that is a built-in one");
  for (const server of [served, locked]) {
    const { status, body } = await fetchJson(server, "/vigil/events.json?_shape=array&_sort=date");
    assert.equal(status, 200);
    assert.deepEqual((body as Row[]).map(({ rowid: _, ...e }) => e), expected, server === locked ? "public" : "private");
    const page = await fetch(`${server.url}/vigil/events`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Dated events that shaped the series/, "described");
    assert.match(html, /Candles lit &amp; &lt;i&gt;names read&lt;\/i&gt;/, "the owner's label, as text");
  }
});

test("every table, view and column of the database has a description, and the case columns come from the schema", async () => {
  const metadata = (await fetchJson(served, "/-/metadata.json")).body;
  const tables = metadata.databases.vigil.tables;
  const missing: string[] = [];
  for (const [name, columns] of tableColumns(db)) {
    if (!tables[name]?.description) missing.push(name);
    for (const column of columns) if (!tables[name]?.columns?.[column]) missing.push(`${name}.${column}`);
  }
  assert.deepEqual(missing, [], "described in datasette/metadata.yml (or schemas/case.ts for cases)");
  assert.deepEqual(tables.cases.columns, caseColumnDescriptions());
  assert.deepEqual(tables.covid_deaths.columns, { ...caseColumnDescriptions(), case_rowid: tables.covid_deaths.columns.case_rowid });
  for (const name of CANNED_QUERIES) {
    const query = metadata.databases.vigil.queries[name];
    assert.ok(query?.title && query?.description, `canned query ${name} has a title and a description`);
  }
  assert.equal(metadata.source_url, "https://datacatalog.cookcountyil.gov/d/3trz-enys");
  assert.match(metadata.description_html, /2022-03-31/);
});

test("metadata.yml may not describe a case column itself: the schema is the one source", () => {
  const base = parse(readFileSync(join(ROOT, "datasette", "metadata.yml"), "utf8"));
  base.databases.vigil.tables.cases.columns = { age: "Age, described a second time" };
  assert.throws(() => buildMetadata(base), /schemas\/case\.ts already describes/);
  delete base.databases.vigil.tables.cases.columns;
  base.databases.vigil.queries.memorial.title = "";
  assert.throws(() => buildMetadata(base), /queries\.memorial\.title/);
  assert.ok("other" in loadMetadata({ database: "other" }).databases, "renamed for the served file");
});

test("SQL never writes, not even through a canned query, and the database stays as it was", async () => {
  const digest = () => db.prepare("SELECT count(*) || ':' || total(age) || ':' || (SELECT count(*) FROM runs) || ':' || (SELECT count(*) FROM case_revisions) FROM cases").pluck().get();
  const before = digest();
  const attempts = [
    "/vigil.json?sql=delete+from+cases",
    "/vigil.json?sql=update+cases+set+age%3D1",
    "/vigil.json?sql=select+1%3B+delete+from+cases",
    "/vigil.json?sql=drop+table+runs",
    "/vigil.json?sql=insert+into+runs+(kind)+values+('x')",
    `/vigil/memorial.json?date=${DAY}&sql=delete+from+cases`,
  ];
  for (const path of attempts) {
    const { status, body } = await fetchJson(served, path);
    if (path.includes("memorial")) assert.ok(Array.isArray(body.rows) && body.query_name === "memorial", "the canned query ignores ?sql=");
    else assert.ok(status >= 400 && status < 500, `${path} answered ${status}`);
  }
  const post = await fetch(`${served.databaseUrl}/memorial`, { method: "POST", body: new URLSearchParams({ date: DAY, sql: "delete from cases" }) });
  await post.arrayBuffer();
  assert.notEqual(post.status, 200);
  assert.equal(digest(), before);
});

test("--public refuses arbitrary SQL but still answers canned queries, tables, facets and search; --cors opens the JSON", async () => {
  for (const path of ["/vigil.json?sql=select+1", "/vigil/cases.json?_where=age%3E1"]) {
    const { status } = await fetchJson(locked, path);
    assert.equal(status, 403, path);
  }
  const memorial = await fetch(`${locked.url}/vigil/memorial.json?date=${DAY}&_shape=array`);
  assert.equal(memorial.status, 200);
  assert.equal(memorial.headers.get("access-control-allow-origin"), "*");
  assert.equal(((await memorial.json()) as Row[]).length, covid("death_date = ?", DAY).length);
  const csv = await fetch(`${locked.url}/vigil/memorial.csv?date=${DAY}`);
  const lines = (await csv.text()).trim().split(/\r?\n/);
  assert.equal(lines[0], "casenumber,death_date,description,age,age_group,gender,race_ethnicity,residence_city");
  assert.equal(lines.length - 1, covid("death_date = ?", DAY).length);
  const search = await fetchJson(locked, "/vigil/cases.json?_search=pneumonia&_facet=manner");
  assert.equal(search.status, 200);
  assert.ok(search.body.filtered_table_rows_count > 0 && "manner" in search.body.facet_results);
  const plain = await fetch(`${served.url}/vigil/last_run.json`);
  await plain.arrayBuffer();
  assert.equal(plain.headers.get("access-control-allow-origin"), null, "no CORS unless asked");
  assert.equal((await fetchJson(served, "/vigil.json?sql=select+1")).status, 200, "without --public SQL is open");
});

test("pages render, plugins load, robots are turned away", async () => {
  for (const path of ["/", "/vigil", "/vigil/cases?_search=covid", "/vigil/covid_deaths", `/vigil/memorial?date=${DAY}`, "/vigil/runs"]) {
    const response = await fetch(`${locked.url}${path}`);
    const html = await response.text();
    assert.equal(response.status, 200, path);
    assert.match(html, /Cook County Medical Examiner/, path);
  }
  const plugins = ((await fetchJson(served, "/-/plugins.json")).body as Row[]).map((p) => p.name);
  assert.ok(plugins.includes("datasette-cluster-map") && plugins.includes("datasette-block-robots"), plugins.join(", "));
  const robots = await fetch(`${served.url}/robots.txt`);
  assert.match(await robots.text(), /Disallow: \//);
});

test("the public record loads only the plugins it serves: no map code on its pages; the private server keeps the maps", async () => {
  const names = async (server: DatasetteServer) => ((await fetchJson(server, "/-/plugins.json")).body as Row[]).map((p) => String(p.name));
  const maps = /cluster[-_]map|leaflet/i;
  const privately = await names(served);
  assert.ok(privately.includes("datasette-cluster-map") && privately.includes("datasette-leaflet"), privately.join(", "));
  const publicly = await names(locked);
  assert.deepEqual(publicly.filter((name) => maps.test(name)), [], "no map plugin in the public record");
  assert.deepEqual(publicly.filter((name) => name.startsWith("datasette-")).sort(), [...PUBLIC_PLUGINS].sort(), publicly.join(", "));
  for (const path of ["/", "/vigil", "/vigil/cases", "/vigil/covid_deaths", `/vigil/memorial?date=${DAY}`]) {
    const [privatePage, publicPage] = await Promise.all([fetch(`${served.url}${path}`), fetch(`${locked.url}${path}`)]);
    assert.match(await privatePage.text(), maps, `${path}: the private page carries the map plugins`);
    const html = await publicPage.text();
    assert.equal(publicPage.status, 200, path);
    assert.doesNotMatch(html, maps, `${path}: map plugin code on a public page`);
  }
  const asset = await fetch(`${locked.url}/-/static-plugins/datasette-leaflet/leaflet-v1.7.1.js`);
  await asset.arrayBuffer();
  assert.equal(asset.status, 404, "the public server does not even hold the map scripts");
});

test("datasette --get answers the canned queries without a server", (t) => {
  const work = tempDir(t);
  const metadata = join(work, "metadata.json");
  writeFileSync(metadata, JSON.stringify(loadMetadata()));
  const get = (path: string) => spawnSync(DATASETTE_BIN, [dbPath, "-m", metadata, "--get", path], { encoding: "utf8" });
  const ok = get("/vigil/by_race_ethnicity.json?_shape=array");
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as Row[]).reduce((n, r) => n + Number(r.deaths), 0), covid().length);
  assert.equal(get("/vigil.json?sql=delete+from+cases").status, 1, "a write is an error");
});

test("readers never wait on a writer: an open write transaction blocks no query and its commit shows up at once", async (t) => {
  const live = join(tempDir(t), "vigil.db");
  copyFileSync(dbPath, live);
  const server = await startDatasette({ db: live, port: 0 });
  t.after(() => server.stop());
  const writer = new Database(live);
  t.after(() => writer.close());
  writer.exec("BEGIN IMMEDIATE");
  writer.prepare("INSERT INTO runs (kind, status, started_at, version) VALUES ('ingest', 'running', '2026-11-27T00:00:00.000Z', 'test')").run();
  const during = await fetchJson(server, "/vigil/last_run.json?_shape=array");
  assert.equal(during.status, 200);
  assert.equal((during.body as Row[])[0].run_id, 2, "the uncommitted run is not visible");
  writer.exec("COMMIT");
  const afterCommit = (await fetchJson(server, "/vigil/last_run.json?_shape=array")).body as Row[];
  assert.deepEqual([afterCommit[0].run_id, afterCommit[0].status], [3, "running"]);
});

test("queries keep answering while `vigil ingest` loads the full view, and the new cases appear after its commit", async (t) => {
  const work = tempDir(t);
  const live = join(work, "vigil.db");
  const full = generateCovidView({ seed: 1 });
  const source = await startPortal({ datasets: { [DATASET]: full.filter((_, i) => i % 8 === 0) } });
  t.after(() => source.close());
  await ingest({ config: { db: live, portal: source.url, dataset: DATASET }, log: memoryLogger(), now: () => new Date(), http: FAST_HTTP });
  const server = await startDatasette({ db: live, port: 0 });
  t.after(() => server.stop());
  const count = async () => ((await fetchJson(server, "/vigil/covid_deaths.json?_size=0")).body.filtered_table_rows_count as number);
  const beforeCount = await count();

  source.setRows(DATASET, full);
  let done = false;
  const child = runCli(["ingest", "--db", live, "--portal", source.url, "--dataset", DATASET]).finally(() => (done = true));
  const statuses: number[] = [];
  const failures: string[] = [];
  const seen = new Set<string>();
  const paths = [`/vigil/memorial.json?date=${DAY}`, "/vigil/daily_deaths.json", "/vigil/covid_deaths.json?_size=5", "/vigil/cases.json?_search=pneumonia&_size=5", "/vigil/by_month.json"];
  const loop = async (pick: (i: number) => string) => {
    for (let i = 0; !done && i < 5_000; i++) {
      const { status, body, text } = await fetchJson(server, pick(i));
      statuses.push(status);
      if (status !== 200 || /locked|busy/i.test(text)) failures.push(`${status} ${text.slice(0, 200)}`);
      if (body?.query_name === "last_run" && body.rows?.[0]) seen.add(String(body.rows[0].status));
    }
  };
  await Promise.all([loop(() => "/vigil/last_run.json?_shape=objects"), loop((i) => paths[i % paths.length])]);
  const result = await child;
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(failures, []);
  assert.ok(statuses.length > 10, `${statuses.length} queries answered during the run`);
  assert.ok(seen.has("running"), `queries ran while the run was under way (saw ${[...seen].join(", ")})`);

  const writer = new Database(live, { readonly: true });
  t.after(() => writer.close());
  const expected = writer.prepare("SELECT count(*) FROM cases WHERE is_covid = 1 AND removed_run_id IS NULL").pluck().get() as number;
  assert.ok(expected > beforeCount * 5);
  assert.equal(await count(), expected, "datasette sees the committed run without a restart");
});

test("`vigil serve` prints its URL, serves a brand-new database, and stops datasette on SIGTERM", async (t) => {
  const work = tempDir(t);
  const fresh = join(work, "new", "other.db");
  const child = spawn(process.execPath, [VIGIL_BIN, "serve", "--db", fresh, "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const url = await new Promise<string>((done, fail) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/other) /.exec(out);
      if (match) done(match[1]);
    });
    child.on("exit", (code) => fail(new Error(`vigil serve exited ${code}: ${stderr}`)));
  });
  const response = await fetch(`${url}/last_run.json?_shape=array`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), [], "no run yet on a new database, but the schema is there");
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  child.kill("SIGTERM");
  assert.equal(await exited, 0, stderr);
  await assert.rejects(fetch(`${url}/last_run.json`), "datasette is gone too");
});

test("`vigil serve` rejects a bad port and prints the metadata under the served name", async (t) => {
  const bad = await runMain(["serve", "--port", "eighty"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port must be a whole number/);
  const printed = await runMain(["serve", "--db", join(tempDir(t), "other.db"), "--print-metadata"]);
  assert.equal(printed.code, 0, printed.stderr);
  const metadata = parse(printed.stdout);
  assert.equal(metadata.databases.other.tables.cases.columns.age, caseColumnDescriptions().age);
});

test("datasette/install.sh does nothing when .venv is current and explains a missing Python", (t) => {
  const again = spawnSync("bash", [join(ROOT, "datasette", "install.sh")], { encoding: "utf8" });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stderr, "", "nothing to do, nothing said");

  const copy = tempDir(t);
  mkdirSync(join(copy, "datasette"));
  for (const file of ["install.sh", "requirements.txt"]) copyFileSync(join(ROOT, "datasette", file), join(copy, "datasette", file));
  const missing = spawnSync("bash", [join(copy, "datasette", "install.sh")], { encoding: "utf8", env: { ...process.env, VIGIL_PYTHON: "/nonexistent/python3" } });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /python3 not found: datasette needs Python 3\.8 or newer/);
  assert.equal(existsSync(join(copy, ".venv")), false, "nothing half-made left behind");
});
