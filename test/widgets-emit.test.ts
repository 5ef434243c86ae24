/**
 * `writeWidgets` into a real folder from a real database: the memorial for a known day, the
 * files and their contracts, no street address anywhere, nothing rewritten when nothing changed,
 * and a failed run that leaves the previous widgets as they were.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { loadMetadata } from "../datasette/metadata.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { CHART_IDS, chartsManifestSchema, memorialYearSchema, oembedSchema, summarySchema, vegaLiteSpecSchema } from "../schemas/widgets.ts";
import { writeWidgets } from "../site-widgets/emit.ts";
import { describePerson, placeName, titleCase } from "../pipeline/normalize/memorial.ts";
import { fixedClock, runMain, tempDir } from "./helpers.ts";
import { covidRow, edgeRows, MARKUP_CAUSE, MARKUP_DAY, MEMORIAL_DAY, MEMORIAL_SENTENCES, REMOVED_ROW, STREET, syncRows } from "./widgets-db.ts";
import { listFiles } from "./widgets-site.ts";

type T = Parameters<typeof tempDir>[0];

/** The test site's baseURL, which the embed code names. */
const BASE_URL = "https://news.example/blog/";

function setup(t: T) {
  const dir = tempDir(t);
  const site = join(dir, "site");
  mkdirSync(site);
  writeFileSync(join(site, "hugo.toml"), `title = "emit"\nbaseURL = "${BASE_URL}"\n`);
  const db = join(dir, "vigil.db");
  const log = memoryLogger();
  const write = () => writeWidgets({ db, site, now: fixedClock(), log });
  return { dir, site, db, log, write };
}

const read = (site: string, path: string) => readFileSync(join(site, path), "utf8");
const snapshot = (site: string) => new Map(listFiles(site).map((f) => [f, { bytes: readFileSync(join(site, f)), mtime: statSync(join(site, f)).mtimeMs }]));

test("people are described in humane words", () => {
  const person = (age: number | null, gender: string | null, residence_city: string | null) => describePerson({ age, gender, residence_city });
  assert.equal(person(47, "Male", "CHICAGO"), "a 47-year-old man from Chicago");
  assert.equal(person(0, "Female", "OAK LAWN"), "a baby under one year old from Oak Lawn");
  assert.equal(person(8, "Female", null), "an 8-year-old girl");
  assert.equal(person(85, "Male", "LA GRANGE PARK"), "an 85-year-old man from La Grange Park");
  assert.equal(person(null, "Female", "EVANSTON"), "a woman from Evanston");
  assert.equal(person(null, null, null), "a person");
  assert.equal(person(16, "X", null), "a 16-year-old child");
  assert.equal(person(101, "Female", "UNK"), "a 101-year-old woman");
  assert.equal(titleCase("MCCOOK"), "McCook");
  assert.equal(titleCase("O'HARE"), "O'Hare");
  assert.equal(titleCase("D'ARCY"), "D'Arcy");
  assert.equal(titleCase("RIVER'S EDGE"), "River's Edge");
  assert.equal(titleCase("VILLAGE OF OAK PARK"), "Village of Oak Park");
  assert.equal(placeName("1234 W MADISON ST"), null, "something with a house number is never shown as a city");
});

test("the memorial for a known day lists the right people, in order, and no one else", async (t) => {
  const { db, site, write } = setup(t);
  syncRows(db, [...edgeRows(), REMOVED_ROW], "2026-11-25T12:00:00Z");
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  await write();
  const year = memorialYearSchema.parse(JSON.parse(read(site, "data/vigil/memorial/2020.json")));
  const day = year[MEMORIAL_DAY];
  assert.equal(day.headline, `The Cook County Medical Examiner recorded the COVID-19 deaths of 6 people on December 3, 2020.`);
  assert.deepEqual(day.people, MEMORIAL_SENTENCES, "the removed case and the case not caused by COVID-19 are left out");
  assert.deepEqual(Object.keys(year), [MEMORIAL_DAY, MARKUP_DAY]);
  const summary = summarySchema.parse(JSON.parse(read(site, "data/vigil/summary.json")));
  assert.equal(summary.total_deaths, 8);
  assert.equal(summary.latest_death_date, MARKUP_DAY);
  assert.equal(summary.stats.total_deaths, "8");
  assert.equal(summary.run_id, 2);
  assert.equal(summary.data_last_changed, "2026-11-26T12:00:00.000Z", "the second run removed a case");
  assert.equal(summary.last_checked_text, "November 26, 2026 at 6:00 AM CST");
});

test("markup in the data stays text, and no street address, cause or coordinate is emitted", async (t) => {
  const { db, site, write } = setup(t);
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  await write();
  const markupDay = memorialYearSchema.parse(JSON.parse(read(site, "data/vigil/memorial/2020.json")))[MARKUP_DAY];
  // JSON keeps the text as it is; Hugo's templates escape it when they write HTML (see the Hugo test).
  assert.deepEqual(markupDay.people, [
    "A 70-year-old man from <script>window.vigilinjected=true</script>.",
    "A 71-year-old woman from <em Class=vigil-Injected>oak Park</em> & Sons.",
  ]);
  for (const file of listFiles(site)) {
    if (file.endsWith(".min.js")) continue;
    const text = read(site, file);
    for (const secret of [STREET, "FAKE MEMORIAL", "ELM AVE", "5678", "41.7802969", "87.61213873", MARKUP_CAUSE, "HYPERTENSION"]) {
      assert.ok(!text.toUpperCase().includes(secret.toUpperCase()), `${file} contains ${secret}`);
    }
  }
});

test("every emitted JSON file matches its contract", async (t) => {
  const { db, site, write } = setup(t);
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  const result = await write();
  assert.equal(result.changed, true);
  const files = listFiles(site);
  assert.deepEqual(files.filter((f) => f.endsWith(".json")).sort(), [
    "data/vigil/charts.json",
    "data/vigil/memorial/2020.json",
    "data/vigil/summary.json",
    "static/vigil/cumulative-deaths.vl.json",
    "static/vigil/daily-deaths.vl.json",
    "static/vigil/deaths-by-age-group.vl.json",
    "static/vigil/deaths-by-month.vl.json",
    "static/vigil/deaths-by-race-ethnicity.vl.json",
    "static/vigil/deaths-per-100k-by-race-ethnicity.vl.json",
    ...CHART_IDS.map((id) => `static/vigil/embed/${id}/oembed.json`).sort(),
  ]);
  const manifest = chartsManifestSchema.parse(JSON.parse(read(site, "data/vigil/charts.json")));
  for (const spec of files.filter((f) => f.endsWith(".vl.json"))) vegaLiteSpecSchema.parse(JSON.parse(read(site, spec)));
  // oEmbed 1.0, rich, with the embed code the chart's caption offers: absolute URLs from the site's baseURL
  for (const id of CHART_IDS) {
    const oembed = oembedSchema.parse(JSON.parse(read(site, `static/vigil/embed/${id}/oembed.json`)));
    assert.equal(oembed.html, manifest.charts[id].embed_code);
    assert.match(oembed.html, new RegExp(`^<iframe src="${BASE_URL}vigil/embed/${id}/" title="[^"]+" data-vigil-embed="${id}" [^>]*></iframe><script src="${BASE_URL}vigil/embed\\.js" async></script>$`));
    assert.equal(oembed.provider_url, BASE_URL);
    const page = read(site, `static/vigil/embed/${id}/index.html`);
    assert.ok(page.includes(`<link rel="alternate" type="application/json+oembed" href="${BASE_URL}vigil/embed/${id}/oembed.json"`), id);
    assert.ok(page.includes(manifest.charts[id].headline), `${id}: its headline`);
  }
  for (const name of ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "upgrade.js", "vigil.css"]) assert.ok(files.includes(`static/vigil/${name}`), name);
  for (const name of ["vigil-chart", "vigil-memorial", "vigil-stat"]) assert.ok(files.includes(`layouts/shortcodes/${name}.html`), name);
  assert.ok(!files.some((f) => f.startsWith("data/") && f.endsWith(".csv")), "no CSV under data/: it breaks Hugo 0.111");
  assert.ok(!files.some((f) => f.includes("vigil-tmp")), "no temporary file left behind");
});

test("re-running with unchanged data rewrites nothing: same bytes, same mtimes", async (t) => {
  const { db, site, write, log } = setup(t);
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  const first = await write();
  const before = snapshot(site);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await write();
  assert.equal(second.changed, false);
  assert.deepEqual(second.written, []);
  assert.equal(second.unchanged, first.written.length);
  assert.deepEqual(snapshot(site), before);
  assert.ok(log.lines.some((l) => l.stage === "emit" && l.written === 0), "one log line for the emit step");

  // A later run that finds nothing new moves "last checked" only: not a change of what the site shows.
  syncRows(db, edgeRows(), "2026-11-26T18:00:00Z");
  const checked = await write();
  assert.equal(checked.changed, false);
  assert.deepEqual([...checked.written].sort(), ["data/vigil/charts.json", "data/vigil/summary.json"]);

  // One more death: the charts and data change, the bundles and templates do not.
  syncRows(db, [...edgeRows(), covidRow("ME2021-00001", "2021-01-05", { age: "60", gender: "Male" })], "2026-11-27T12:00:00Z");
  const third = await write();
  assert.equal(third.changed, true);
  assert.ok(third.written.includes("static/vigil/daily-deaths.csv"));
  assert.ok(third.written.includes("data/vigil/memorial/2021.json"));
  assert.ok(!third.written.some((f) => /\.min\.js$|shortcodes|upgrade\.js/.test(f)), `rewrote ${third.written.join(", ")}`);
});

test("a memorial year whose deaths were all withdrawn leaves the site", async (t) => {
  const { db, site, write } = setup(t);
  const late = covidRow("ME2021-00001", "2021-01-05", { age: "60", gender: "Male" });
  syncRows(db, [...edgeRows(), late], "2026-11-26T12:00:00Z");
  await write();
  const year = join(site, "data", "vigil", "memorial", "2021.json");
  assert.ok(existsSync(year));
  const stray = join(site, "static", "vigil", "retired-chart.svg");
  writeFileSync(stray, "<svg/>");
  syncRows(db, edgeRows(), "2026-11-27T12:00:00Z");
  const after = await write();
  assert.equal(existsSync(year), false, "the withdrawn death is no longer listed");
  assert.equal(existsSync(stray), false, "vigil's own folders hold only what it writes");
  assert.deepEqual(after.removed, ["data/vigil/memorial/2021.json", "static/vigil/retired-chart.svg"]);
  assert.equal(after.changed, true);
});

test("a run that fails leaves the previous widgets intact", async (t) => {
  const { db, site, write } = setup(t);
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  await write();
  const before = snapshot(site);
  syncRows(db, [...edgeRows(), covidRow("ME2021-00001", "2021-01-05", { age: "60" })], "2026-11-27T12:00:00Z");

  // A folder where the new year's memorial file has to go: the run fails before renaming anything.
  mkdirSync(join(site, "data/vigil/memorial/2021.json"));
  await assert.rejects(write(), /EISDIR|illegal operation on a directory/);
  const after = snapshot(site);
  assert.deepEqual(after, before, "every previous file has its old bytes and mtime, and nothing half-written is left");

  // A database with no deaths at all is refused with a clear message, before anything is written.
  const empty = join(site, "..", "empty.db");
  syncRows(empty, [], "2026-11-27T12:00:00Z");
  await assert.rejects(writeWidgets({ db: empty, site, now: fixedClock(), log: memoryLogger() }), /holds no COVID-19 deaths/);
  assert.deepEqual(snapshot(site), before);
});

test("a missing site or database is a clear error", async (t) => {
  const { db, site, dir } = setup(t);
  await assert.rejects(writeWidgets({ db, site: join(dir, "nope"), now: fixedClock(), log: memoryLogger() }), /the Hugo site .*nope does not exist/);
  await assert.rejects(writeWidgets({ db: join(dir, "missing.db"), site, now: fixedClock(), log: memoryLogger() }), /no database at/);
  writeFileSync(join(dir, "file"), "");
  await assert.rejects(writeWidgets({ db, site: join(dir, "file"), now: fixedClock(), log: memoryLogger() }), /does not exist/);
});

test("the CLI: --help, a missing --site, a post outside the site", async (t) => {
  const { db, site } = setup(t);
  const help = await runMain(["widgets", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--freeze POST/);
  assert.match(help.stdout, /vigil-head\.html/);
  const noSite = await runMain(["widgets", "--db", db]);
  assert.equal(noSite.code, 2);
  assert.equal(noSite.stderr, "vigil widgets: --site is required (or set VIGIL_SITE)\n");
  const outside = await runMain(["widgets", "--site", site, "--freeze", "../elsewhere"]);
  assert.equal(outside.code, 2);
  assert.match(outside.stderr, /is not a post under .*content/);
  const unfrozen = await runMain(["widgets", "--site", site, "--freeze", "content/posts/x"]);
  assert.equal(unfrozen.code, 1);
  assert.match(unfrozen.stderr, /is not a page bundle/);
});

test("--records-url links the memorial's days to the public record; anything but an http(s) address is refused", async (t) => {
  const { db, site } = setup(t);
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  const linked = await runMain(["widgets", "--site", site, "--db", db, "--records-url", "https://data.news.example/"]);
  assert.equal(linked.code, 0, linked.stderr);
  assert.equal(summarySchema.parse(JSON.parse(read(site, "data/vigil/summary.json"))).records_url, "https://data.news.example/vigil/memorial?date=");
  const plain = await runMain(["widgets", "--site", site, "--db", db]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(summarySchema.parse(JSON.parse(read(site, "data/vigil/summary.json"))).records_url, null, "no link without it");
  for (const bad of ["data.news.example", "ftp://data.news.example", "https://data.news.example/?x=1"]) {
    const refused = await runMain(["widgets", "--site", site, "--db", db, "--records-url", bad]);
    assert.equal(refused.code, 2, bad);
    assert.match(refused.stderr, /--records-url must be an http\(s\) address/);
  }
});

test("a death by suicide is counted in every chart and figure, never listed on the memorial, its datasette query or feed", async (t) => {
  const { db, site, write } = setup(t);
  const day = "2020-12-05";
  syncRows(db, [
    ...edgeRows(),
    covidRow("ME2020-90001", day, { age: "51", gender: "Male", residence_city: "Chicago" }),
    covidRow("ME2020-90002", day, { age: "34", gender: "Female", residence_city: "Chicago", manner: "Suicide" }),
    covidRow("ME2020-90003", "2020-12-06", { age: "40", gender: "Male", residence_city: "Cicero", manner: "SUICIDE" }),
  ], "2026-11-26T12:00:00Z");
  await write();
  const year = memorialYearSchema.parse(JSON.parse(read(site, "data/vigil/memorial/2020.json")));
  assert.deepEqual([year[day].deaths, year[day].unlisted, year[day].people], [1, 1, ["A 51-year-old man from Chicago."]]);
  assert.equal(year[day].headline, "The Cook County Medical Examiner recorded the COVID-19 deaths of 1 person on December 5, 2020.", "the headline counts the people listed");
  assert.deepEqual([year["2020-12-06"].deaths, year["2020-12-06"].unlisted, year["2020-12-06"].people], [0, 1, []]);
  assert.equal(year["2020-12-06"].headline, "No one is listed here for December 6, 2020.");
  const summary = summarySchema.parse(JSON.parse(read(site, "data/vigil/summary.json")));
  assert.match(summary.unlisted_note, /^Deaths by suicide are counted in the charts and figures but are not listed here, one by one\. .*988 Suicide & Crisis Lifeline/);
  const daily = read(site, "static/vigil/daily-deaths.csv");
  assert.match(daily, new RegExp(`^${day},2,`, "m"), "both deaths counted that day");
  assert.match(daily, /^2020-12-06,1,/m);
  const { queries } = loadMetadata().databases.vigil;
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  assert.equal(conn.prepare("SELECT count(*) FROM covid_deaths WHERE manner = 'SUICIDE'").pluck().get(), 2);
  assert.equal(summary.total_deaths, conn.prepare("SELECT count(*) FROM covid_deaths").pluck().get(), "every death in the total");
  const listed = (date: string) => (conn.prepare(queries.memorial.sql).all({ date, lens: "" }) as Array<{ casenumber: string }>).map((r) => r.casenumber);
  assert.deepEqual(listed(day), ["ME2020-90001"]);
  assert.deepEqual(listed("2020-12-06"), []);
  const feed = (conn.prepare(queries.new_deaths.sql).all({ lens: "" }) as Array<{ atom_content_html: string }>).map((e) => e.atom_content_html).join("\n");
  assert.ok(feed.includes("ME2020-90001"), "the feed lists the others, one by one");
  assert.ok(!feed.includes("ME2020-90002") && !feed.includes("ME2020-90003"), "and never a death by suicide");
  // a correction to such a case is not listed in the corrections feed either
  syncRows(db, [
    ...edgeRows(),
    covidRow("ME2020-90001", day, { age: "52", gender: "Male", residence_city: "Chicago" }),
    covidRow("ME2020-90002", day, { age: "35", gender: "Female", residence_city: "Chicago", manner: "Suicide" }),
    covidRow("ME2020-90003", "2020-12-06", { age: "40", gender: "Male", residence_city: "Cicero", manner: "SUICIDE" }),
  ], "2026-11-27T12:00:00Z");
  const corrections = (conn.prepare(queries.corrections.sql).all() as Array<{ atom_content_html: string }>).map((e) => e.atom_content_html).join("\n");
  assert.ok(corrections.includes("ME2020-90001"), "the other case's correction is listed");
  assert.ok(!corrections.includes("ME2020-90002"), "a death by suicide's correction is not");
});
