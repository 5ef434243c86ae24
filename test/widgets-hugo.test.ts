/**
 * fixtures/hugo-site, a minimal real site whose posts use every shortcode, built with Debian's
 * Hugo after `vigil widgets` (run through the CLI): what the shortcodes write, what they refuse,
 * and a frozen post that keeps its charts when the data changes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseHTML } from "linkedom";
import { generateCovidView } from "../fixtures/generate.ts";
import { runMain } from "./helpers.ts";
import { covidRow, edgeRows, MARKUP_CAUSE, STREET, syncRows } from "./widgets-db.ts";
import { buildFixtureSite, EVENTS_FIXTURE, hugo, listFiles, page, runHugo, widgets, type BuiltSite } from "./widgets-site.ts";
import { builtInEvents } from "../pipeline/store/events.ts";

/** The public record's address the memorial links to (--records-url). */
const RECORDS = "https://data.vigil.example";

const CHART_IDS = ["daily-deaths", "cumulative-deaths", "deaths-by-age-group", "deaths-by-race-ethnicity", "deaths-per-100k-by-race-ethnicity", "deaths-by-month"];
const rows = () => [...generateCovidView({ seed: 4, count: 3000 }), ...edgeRows()];
const dom = (html: string) => parseHTML(html).document;

// One build for the tests that only read it (the broken-shortcode test builds into a folder of its
// own); the frozen post changes its site and database, so it builds its own.
let shared: BuiltSite;
const cleanups: Array<() => void> = [];
before(async () => {
  shared = await buildFixtureSite({ after: (fn: () => void) => void cleanups.push(fn) }, rows(), ["--events", EVENTS_FIXTURE, "--records-url", RECORDS]);
}, { timeout: 120_000 });
after(() => {
  for (const fn of cleanups.reverse()) fn();
});

test("the fixture site builds with Hugo and every shortcode renders", { timeout: 120_000 }, async (t) => {
  const built = shared;
  t.diagnostic(`hugo build: ${built.hugoMs} ms`);
  const charts = dom(page(built.public, "posts/charts"));
  const figures = [...charts.querySelectorAll("figure.vigil-chart")];
  assert.deepEqual(figures.map((f) => f.getAttribute("data-vigil-chart")), CHART_IDS);
  for (const figure of figures) {
    const id = figure.getAttribute("data-vigil-chart")!;
    const svg = figure.querySelector(".vigil-chart__static svg")!;
    assert.equal(svg.getAttribute("role"), "img", id);
    assert.ok(svg.getAttribute("aria-label")!.length > 40, `${id}: alt text`);
    assert.equal(figure.getAttribute("data-vigil-spec"), `/vigil/${id}.vl.json`);
    const caption = figure.querySelector("figcaption")!;
    assert.match(caption.textContent!, /Source: Cook County Medical Examiner\. Data as of November 26, 2026\. Get the data \(CSV\)/);
    assert.equal(caption.querySelector("a")!.getAttribute("href"), "https://datacatalog.cookcountyil.gov/d/3trz-enys");
    const csv = caption.querySelector("a.vigil-chart__data")!.getAttribute("href")!;
    assert.equal(csv, `/vigil/${id}.csv`);
    assert.match(readFileSync(join(built.public, csv), "utf8"), /^[a-z_]+,deaths|^date,/);
  }
  const stats = [...charts.querySelectorAll(".vigil-stat")].map((s) => [s.getAttribute("data-vigil-stat"), s.textContent]);
  const summary = JSON.parse(readFileSync(join(built.site, "data/vigil/summary.json"), "utf8"));
  assert.deepEqual(stats[0], ["total_deaths", summary.total_deaths.toLocaleString("en-US")]);
  const rate = (name: string) => stats.find(([stat]) => stat === name)?.[1];
  assert.equal(rate("age_adjusted_per_100k_black"), summary.stats.age_adjusted_per_100k_black);
  assert.match(rate("age_adjusted_per_100k_black") ?? "", /^\d+\.\d{2}$/, "a rate per 100,000, 2 decimals, as datasette's rates query prints it");
  assert.equal(rate("age_adjusted_per_100k_white"), summary.stats.age_adjusted_per_100k_white);

  // The scripts are self-hosted and loaded once per page with a chart, and not on other pages.
  const scripts = (html: string) => [...dom(html).querySelectorAll("script[src]")].map((s) => s.getAttribute("src"));
  assert.deepEqual(scripts(page(built.public, "posts/charts")), ["/vigil/vega.min.js", "/vigil/vega-lite.min.js", "/vigil/vega-embed.min.js", "/vigil/upgrade.js"]);
  assert.deepEqual(scripts(page(built.public, "posts/twice")), scripts(page(built.public, "posts/charts")));
  assert.deepEqual(scripts(page(built.public, "posts/memorial")), []);
  for (const file of ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "upgrade.js", "vigil.css"]) assert.ok(listFiles(built.public).includes(`vigil/${file}`), file);

  const twice = [...dom(page(built.public, "posts/twice")).querySelectorAll("figure.vigil-chart")];
  assert.equal(twice.length, 2);
  assert.notEqual(twice[0].id, twice[1].id, "each figure has its own id");
  assert.equal(dom(page(built.public, "posts/twice")).querySelectorAll("svg [id]").length, 0);

  const memorial = dom(page(built.public, "posts/memorial"));
  const sections = [...memorial.querySelectorAll("section.vigil-memorial")];
  assert.equal(sections.length, 4);
  assert.equal(summary.latest_death_date, "2022-03-31");
  const headline = (section: Element) => section.querySelector(".vigil-memorial__headline")!.textContent!;
  assert.match(headline(sections[0]), /^The Cook County Medical Examiner recorded the COVID-19 deaths of (\d+ people|1 person) on March 31, 2022\.$/, "the latest day with deaths");
  assert.match(headline(sections[1]), /^The Cook County Medical Examiner recorded the COVID-19 deaths of \d+ people on December 3, 2020\.$/);
  const people = [...sections[1].querySelectorAll("li")].map((li) => li.textContent);
  assert.equal(people.length, Number(/deaths of (\d+) people/.exec(headline(sections[1]))![1]));
  assert.ok(people.includes("A 47-year-old man from Chicago."));
  assert.ok(people.every((p) => /^An? .+\.$/.test(p!)), "one sentence per person");
  assert.equal(headline(sections[2]), "The Cook County Medical Examiner recorded no COVID-19 deaths on July 4, 2019.");
  // after 2022-04-01 an empty day is not a day nobody died
  assert.equal(headline(sections[3]), "The Cook County Medical Examiner recorded no COVID-19 deaths on June 15, 2022: this does not mean that nobody died of COVID-19 that day.");
  // and why, once, in the notes line under it
  assert.match(sections[3].querySelector(".vigil-memorial__notes")!.textContent!, /since April 1, 2022, it no longer takes most COVID-19 deaths in hospitals and nursing homes/);
  const days = ["2022-03-31", "2020-12-03", "2019-07-04", "2022-06-15"];
  for (const [i, section] of sections.entries()) {
    assert.match(section.getAttribute("aria-label")!, /^People whose COVID-19 deaths the Cook County Medical Examiner recorded on /);
    const records = section.querySelector(".vigil-memorial__records a")!;
    assert.equal(records.getAttribute("href"), `${RECORDS}/vigil/memorial?date=${days[i]}`, "each day links to its records");
    assert.match(records.textContent!, /^The records of [A-Z][a-z]+ \d{1,2}, \d{4}$/);
    const notes = section.querySelector(".vigil-memorial__notes")!;
    assert.match(notes.textContent!, /^Only deaths the Cook County Medical Examiner investigated are recorded; since April 1, 2022, it no longer takes most COVID-19 deaths in hospitals and nursing homes\. Source: Cook County Medical Examiner\. Data as of /);
    assert.equal(notes.querySelector("a")!.getAttribute("href"), summary.source_url);
  }
  // said once on the page, with the Lifeline, however many memorials it has
  const unlisted = [...memorial.querySelectorAll(".vigil-memorial__unlisted")];
  assert.equal(unlisted.length, 1, "the note on deaths by suicide, once a page");
  assert.match(unlisted[0].textContent!, /^Deaths by suicide are counted in the charts and figures but are not listed here, one by one\. .*call or text 988/);
  assert.equal(dom(page(built.public, "posts/another-day")).querySelectorAll(".vigil-memorial__unlisted").length, 1, "and on every page with a memorial");
  const captions = [...dom(page(built.public, "posts/charts")).querySelectorAll("figure.vigil-chart figcaption")];
  assert.ok(captions.length > 0);
  for (const caption of captions) assert.match(caption.querySelector(".vigil-chart__notes")!.textContent!, /^Only deaths the Cook County Medical Examiner investigated are recorded/);
});

test("the time charts mark their events in the built page: dashed lines, labels, alt text, and the list to download", { timeout: 120_000 }, async () => {
  const built = shared;
  const charts = dom(page(built.public, "posts/charts"));
  const summary = JSON.parse(readFileSync(join(built.site, "data/vigil/summary.json"), "utf8"));
  assert.deepEqual([summary.first_death_date, summary.latest_death_date], ["2020-03-16", "2022-03-31"], "the days the charts span");
  const firstDeath = builtInEvents().find((e) => e.date === "2020-03-16")!;
  const endOfJurisdiction = builtInEvents().find((e) => e.date === "2022-04-01")!;
  for (const id of ["daily-deaths", "cumulative-deaths"]) {
    const svg = charts.querySelector(`figure[data-vigil-chart="${id}"] .vigil-chart__static svg`)!;
    const labels = [...svg.querySelectorAll("g.vigil-event-label text")].map((text) => {
      const lines = [...text.querySelectorAll("tspan")].map((t) => t.textContent);
      return lines.length > 0 ? lines.join(" ") : text.textContent;
    });
    assert.deepEqual(labels, [firstDeath.label, 'Candles lit & <i>names read</i>, "together"'], `${id}: the built-in first death and the owner's event, in date order`);
    assert.equal(svg.querySelectorAll("g.vigil-event-rule line").length, 2, `${id}: a line for each`);
    assert.equal(svg.querySelectorAll("i").length, 0, `${id}: the owner's markup is text`);
    const alt = svg.getAttribute("aria-label")!;
    assert.ok(alt.includes(`March 16, 2020: ${firstDeath.label}`) && alt.includes("December 3, 2020: Candles lit"), `${id}: ${alt}`);
    assert.ok(!alt.includes(endOfJurisdiction.label), `${id}: 2022-04-01 is after the last day of the chart`);
  }
  for (const id of ["deaths-by-age-group", "deaths-by-month"]) {
    assert.equal(charts.querySelectorAll(`figure[data-vigil-chart="${id}"] [class*="vigil-event"]`).length, 0, `${id}: not a time chart`);
  }
  const listed = readFileSync(join(built.public, "vigil", "events.csv"), "utf8").trim().split("\n");
  assert.equal(listed[0], "date,label,source_url");
  assert.deepEqual(listed.slice(1).map((line) => line.slice(0, 10)), ["2020-03-16", "2020-12-03", "2022-04-01"], "every event once, drawn or not");
});

test("markup in the data is shown as text, and no street address reaches the site", { timeout: 120_000 }, async () => {
  const built = shared;
  const html = page(built.public, "posts/another-day");
  const latest = dom(html).querySelector("section.vigil-memorial")!;
  assert.equal(latest.querySelectorAll("script, em").length, 0, "no element came from the data");
  const texts = [...latest.querySelectorAll("li")].map((li) => li.textContent);
  assert.ok(texts.includes("A 70-year-old man from <script>window.vigilinjected=true</script>."), texts.join("\n"));
  assert.ok(texts.includes("A 71-year-old woman from <em Class=vigil-Injected>oak Park</em> & Sons."));
  assert.match(html, /from &lt;script&gt;window\.vigilinjected=true&lt;\/script&gt;\./);
  for (const root of [built.site, built.public]) {
    for (const file of listFiles(root)) {
      if (file.endsWith(".min.js") || file.startsWith("content/")) continue;
      const text = readFileSync(join(root, file), "utf8");
      assert.ok(!text.includes(STREET) && !text.includes("ELM AVE"), `${file} holds a street address`);
      assert.ok(!text.includes(MARKUP_CAUSE), `${file} holds a cause of death`);
    }
  }
});

test("a shortcode with a wrong argument fails the build with a message that says how to fix it", { timeout: 120_000 }, async (t) => {
  const built = shared;
  const post = join(built.site, "content", "posts", "broken.md");
  t.after(() => rmSync(post, { force: true }));
  const cases: Array<[string, RegExp]> = [
    [`{{< vigil-chart id="deaths-by-mood" >}}`, /vigil-chart: unknown chart id "deaths-by-mood"; known ids: cumulative-deaths, daily-deaths, deaths-by-age-group, deaths-by-month, deaths-by-race-ethnicity, deaths-per-100k-by-race-ethnicity/],
    [`{{< vigil-chart >}}`, /vigil-chart: the id parameter is missing/],
    [`{{< vigil-stat name="totl_deaths" >}}`, /vigil-stat: unknown name "totl_deaths"; known names: .*total_deaths/],
    [`{{< vigil-memorial date="12/03/2020" >}}`, /vigil-memorial: date "12\/03\/2020" must be written YYYY-MM-DD/],
  ];
  for (const [shortcode, message] of cases) {
    writeFileSync(post, `---\ntitle: Broken\n---\n${shortcode}\n`);
    const result = await runHugo(built.site, join(built.dir, "broken"));
    assert.notEqual(result.code, 0, shortcode);
    assert.match(result.stdout + result.stderr, message, shortcode);
  }
});

test("a frozen post keeps its charts, figures and memorial after the data changes", { timeout: 180_000 }, async (t) => {
  const built = await buildFixtureSite(t, rows());
  const frozenBefore = page(built.public, "posts/frozen");
  const chartsBefore = page(built.public, "posts/charts");
  const freeze = await runMain(["widgets", "--site", built.site, "--freeze", "content/posts/frozen"]);
  assert.equal(freeze.code, 0, freeze.stderr);
  assert.match(freeze.stdout, /^froze 29 files into .*content\/posts\/frozen\/vigil\n$/);
  await hugo(built.site, built.public);
  const frozen = page(built.public, "posts/frozen");
  const figure = dom(frozen).querySelector("figure.vigil-chart")!;
  assert.equal(figure.getAttribute("data-vigil-spec"), "/posts/frozen/vigil/daily-deaths.vl.json", "the frozen copy is used");
  assert.equal(figure.getAttribute("data-vigil-csv"), "/posts/frozen/vigil/daily-deaths.csv");
  assert.equal(strip(frozen).replaceAll("/posts/frozen/vigil/", "/vigil/"), strip(frozenBefore), "freezing changes nothing a reader sees but where the files are");

  // A later run: 30 more deaths on the memorial's day and a new latest day.
  const more = Array.from({ length: 30 }, (_, i) => covidRow(`ME2020-95${String(i).padStart(3, "0")}`, "2020-12-03", { age: String(50 + i), gender: "Female", residence_city: "SKOKIE" }));
  syncRows(built.db, [...rows(), ...more, covidRow("ME2022-99999", "2022-04-02", { age: "77" })], "2026-11-27T12:00:00Z");
  await widgets(built.site, built.db);
  await hugo(built.site, built.public);

  assert.equal(page(built.public, "posts/frozen"), frozen, "the frozen post is byte for byte the same");
  // the new latest day is after 2022-04-01: the live charts now mark it, the frozen copy does not
  const altOf = (html: string) => dom(html).querySelector('figure[data-vigil-chart="daily-deaths"] svg')!.getAttribute("aria-label")!;
  assert.match(altOf(page(built.public, "posts/charts")), /April 1, 2022: Medical Examiner stops/);
  assert.doesNotMatch(altOf(frozen), /April 1, 2022/);
  assert.notEqual(strip(page(built.public, "posts/charts")), strip(chartsBefore), "a post that is not frozen follows the data");
  const liveTotal = dom(page(built.public, "posts/charts")).querySelector(".vigil-stat")!.textContent;
  const frozenTotal = dom(frozen).querySelector(".vigil-stat")!.textContent;
  assert.equal(Number(liveTotal!.replace(/,/g, "")), Number(frozenTotal!.replace(/,/g, "")) + 31);
  assert.equal(readFileSync(join(built.public, "posts/frozen/vigil/daily-deaths.csv"), "utf8"), readFileSync(join(built.site, "content/posts/frozen/vigil/daily-deaths.csv"), "utf8"));

  const again = await runMain(["widgets", "--site", built.site, "--freeze", "content/posts/frozen"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds a frozen copy \(a frozen post never changes; delete that folder first to freeze it again\)/);
  const single = await runMain(["widgets", "--site", built.site, "--freeze", "content/posts/charts"]);
  assert.match(single.stderr, /is not a page bundle \(make it a page bundle first: move content\/posts\/charts\.md to content\/posts\/charts\/index\.md\)/);
});

/** The page without the head's scripts, which do not depend on the data. */
function strip(html: string): string {
  return html.replace(/<head>[\s\S]*<\/head>/, "");
}
