/**
 * A lens page end to end: a generated archive loaded through the pipeline, `vigil widgets --lens`
 * for three lenses, a post with the shortcodes' `lens=`, Hugo's build, and Debian's Chromium (the
 * chart upgrades, axe-core finds nothing, light and dark). Deaths by suicide are counted and never
 * listed; the days not final are shaded and said. With UPDATE_SCREENSHOTS=1, the page's screenshot
 * for docs/lenses.md.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { generateArchive } from "../fixtures/generate.ts";
import { ARCHIVE_ID } from "../fixtures/portal.ts";
import { chartsManifestSchema, summarySchema } from "../schemas/widgets.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { LENS_NAMES } from "../schemas/lenses.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { ROOT, tempDir } from "./helpers.ts";
import { audit } from "./a11y-helpers.ts";
import { FIXTURE_SITE, hugo, launchChromium, page, requireTool, runHugo, serveStatic, widgets } from "./widgets-site.ts";
import { syncRows } from "./widgets-db.ts";

/** A run two days after the generated archive's last day, so recent days are not final yet. */
const AT = "2026-08-02T12:00:00.000Z";
const DAY = "2026-07-31";

/** Two gun-related deaths on DAY: a homicide the memorial lists, and a death by suicide it must not. */
const GUN_DEATHS: RawRow[] = [
  { casenumber: "ME2026-90001", death_date: `${DAY}T21:10:00.000`, age: "23", gender: "Male", race: "Black", latino: false, manner: "HOMICIDE", primarycause: "MULTIPLE GUNSHOT WOUNDS", gunrelated: true, residence_city: "Chicago" },
  { casenumber: "ME2026-90002", death_date: `${DAY}T22:40:00.000`, age: "101", gender: "Female", race: "White", latino: false, manner: "SUICIDE", primarycause: "GUNSHOT WOUND OF HEAD", gunrelated: true, residence_city: "Winnetka" },
].map((row, i) => ({ ":id": `row-lens-${i}`, ":updated_at": "2026-08-01T00:00:00.000Z", ...row }));

const POST = `---
title: "Heat and guns"
date: 2026-08-01
---
The Medical Examiner has recorded {{< vigil-stat name="total_deaths" lens="heat" >}} heat-related deaths.

{{< vigil-chart id="daily-deaths" lens="heat" >}}

{{< vigil-memorial lens="gun" date="${DAY}" >}}
`;

let browser: Browser;
let site: string;
let db: string;
let publicDir: string;
let base: string;
const cleanups: Array<() => void> = [];
const context = { after: (fn: () => void) => void cleanups.push(fn) };

before(async () => {
  requireTool("/usr/bin/chromium", "chromium");
  const dir = tempDir(context, "vigil-lens-");
  site = join(dir, "site");
  db = join(dir, "vigil.db");
  publicDir = join(dir, "public");
  cpSync(FIXTURE_SITE, site, { recursive: true });
  syncRows(db, [...generateArchive({ count: 12_000, seed: 7 }), ...GUN_DEATHS], AT, { portal: "https://datacatalog.cookcountyil.gov", dataset: ARCHIVE_ID });
  await widgets(site, db, "--lens", "covid", "--lens", "heat,gun");
  writeFileSync(join(site, "content", "posts", "lenses.md"), POST);
  await hugo(site, publicDir);
  base = await serveStatic(context, publicDir);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const fn of cleanups.reverse()) await fn();
});

const json = (path: string) => JSON.parse(readFileSync(join(site, path), "utf8")) as unknown;

test("each lens writes the same files under its own folders; COVID-19's stay where they were", () => {
  for (const file of ["data/vigil/summary.json", "data/vigil/charts.json", "static/vigil/daily-deaths.svg", "static/vigil/embed/daily-deaths/index.html"]) {
    assert.ok(existsSync(join(site, file)), file);
  }
  for (const lens of ["heat", "gun"]) {
    for (const file of ["summary.json", "charts.json"]) assert.ok(existsSync(join(site, "data/vigil", lens, file)), `${lens}: ${file}`);
    for (const file of ["daily-deaths.svg", "daily-deaths.narrow.svg", "daily-deaths.vl.json", "daily-deaths.csv", "deaths-per-100k-by-race-ethnicity.csv", "events.csv"]) {
      assert.ok(existsSync(join(site, "static/vigil", lens, file)), `${lens}: ${file}`);
    }
    assert.ok(existsSync(join(site, "static/vigil/embed", lens, "daily-deaths/index.html")), `${lens}: embed page`);
    const summary = summarySchema.parse(json(`data/vigil/${lens}/summary.json`));
    assert.equal(summary.lens, lens);
    const conn = openDatabase(db, { readonly: true });
    try {
      assert.equal(summary.total_deaths, conn.prepare(`SELECT count(*) FROM ${lens}_deaths`).pluck().get(), `${lens}: the summary counts the lens's view`);
    } finally {
      conn.close();
    }
  }
  assert.ok(!existsSync(join(site, "data/vigil/cold")), "a lens not asked for writes nothing");
  const heatCharts = chartsManifestSchema.parse(json("data/vigil/heat/charts.json"));
  assert.match(heatCharts.charts["daily-deaths"].title, /^Heat-related deaths per day/);
  assert.match(heatCharts.charts["daily-deaths"].notes, /flagged heat related/);
  assert.match(heatCharts.charts["daily-deaths"].embed_code, /vigil\/embed\/heat\/daily-deaths\//);
});

test("the days not final are marked in the CSV, shaded in the SVG, and said in the alt text and the memorial", () => {
  const summary = summarySchema.parse(json("data/vigil/heat/summary.json"));
  assert.ok(summary.provisional_from, "recent heat-related days are not final two days after the last death");
  const from = summary.provisional_from;
  const lines = readFileSync(join(site, "static/vigil/heat/daily-deaths.csv"), "utf8").trim().split("\n");
  assert.equal(lines[0], "date,deaths,deaths_7day_avg,cumulative_deaths,provisional");
  for (const line of lines.slice(1)) {
    const [date, , , , provisional] = line.split(",");
    assert.equal(provisional, date >= from ? "true" : "false", `${date} against ${from}`);
  }
  const svg = readFileSync(join(site, "static/vigil/heat/daily-deaths.svg"), "utf8");
  assert.match(svg, /class="vigil-provisional"/);
  assert.match(svg, /Not final yet/);
  const spec = readFileSync(join(site, "static/vigil/heat/daily-deaths.vl.json"), "utf8");
  assert.match(spec, /Not final yet/);
  const charts = chartsManifestSchema.parse(json("data/vigil/heat/charts.json"));
  assert.match(charts.charts["daily-deaths"].description, /are not final and are expected to rise/);
  const gun = summarySchema.parse(json("data/vigil/gun/summary.json"));
  assert.ok(gun.provisional_from !== null && gun.provisional_from <= DAY, "the gun-related deaths of the last day are not final");
  assert.match(page(publicDir, "posts/lenses"), /class="vigil-memorial__provisional">Counts from/);
});

test("a lens page: the stat, the chart and the memorial of the lens asked for; deaths by suicide counted, never listed", () => {
  const html = page(publicDir, "posts/lenses");
  const heat = summarySchema.parse(json("data/vigil/heat/summary.json"));
  assert.match(html, new RegExp(`data-vigil-stat="total_deaths">${heat.stats.total_deaths}<`));
  const charts = chartsManifestSchema.parse(json("data/vigil/heat/charts.json"));
  assert.ok(html.includes(charts.charts["daily-deaths"].title), "the heat chart's title");
  assert.match(html, /data-vigil-spec="\/vigil\/heat\/daily-deaths\.vl\.json"/);
  assert.match(html, /People whose gun-related deaths the Cook County Medical Examiner recorded on July 31, 2026/);
  assert.ok(html.includes("A 23-year-old man from Chicago."), "the homicide is listed");
  assert.ok(!html.includes("A 101-year-old woman from Winnetka."), "the death by suicide is not");
  assert.equal(html.split("988 Suicide &amp; Crisis Lifeline").length - 1, 1, "the 988 note, once");
  const year = json("data/vigil/gun/memorial/2026.json") as Record<string, { deaths: number; unlisted: number; people: string[] }>;
  assert.ok(year[DAY].unlisted >= 1, "the death by suicide is counted as unlisted");
  const conn = openDatabase(db, { readonly: true });
  try {
    const all = conn.prepare("SELECT count(*) FROM gun_deaths WHERE death_date = ?").pluck().get(DAY) as number;
    assert.equal(year[DAY].deaths + year[DAY].unlisted, all, "every gun-related death of the day is listed or counted as unlisted");
    const csv = readFileSync(join(site, "static/vigil/gun/daily-deaths.csv"), "utf8");
    assert.match(csv, new RegExp(`^${DAY},${all},`, "m"), "the chart counts them all");
  } finally {
    conn.close();
  }
});

test("a lens the site has no data for fails the build, naming the fix", async (t) => {
  const post = join(site, "content", "posts", "cold.md");
  writeFileSync(post, `---\ntitle: Cold\n---\n{{< vigil-chart id="daily-deaths" lens="cold" >}}\n`);
  t.after(() => rmSync(post));
  const built = await runHugo(site, join(publicDir, "..", "public-cold"));
  assert.notEqual(built.code, 0);
  // the lenses named are schemas/lenses.ts's, written into the partial by vigil widgets
  assert.ok((built.stdout + built.stderr).includes(`vigil-chart: no data for lens "cold": run vigil widgets --lens cold --site first (the lenses: ${LENS_NAMES.join(", ")})`), built.stderr);
});

for (const colorScheme of ["light", "dark"] as const) {
  test(`the lens page in Chromium (${colorScheme}): the chart upgrades, nothing reaches another host, axe-core finds no violation`, { timeout: 120_000 }, async () => {
    const browserContext = await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme });
    try {
      const tab = await browserContext.newPage();
      const errors: string[] = [];
      const outside: string[] = [];
      tab.on("pageerror", (error) => errors.push(error.message));
      tab.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
      await browserContext.route("**/*", (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === "127.0.0.1" || url.protocol === "data:") return route.continue();
        outside.push(url.href);
        return route.abort();
      });
      await tab.goto(`${base}/posts/lenses/`);
      await tab.waitForFunction(() => document.querySelector("figure.vigil-chart")?.getAttribute("data-vigil-state") === "interactive", null, { timeout: 30_000 });
      await tab.$$eval("details", (all) => all.forEach((d) => ((d as HTMLDetailsElement).open = true)));
      assert.deepEqual(await audit(tab), [], `${colorScheme}`);
      assert.deepEqual(errors, []);
      assert.deepEqual(outside, []);
      if (process.env.UPDATE_SCREENSHOTS === "1" && colorScheme === "light") {
        // the lens page in the docs (docs/lenses.md): generated people, never real ones
        await tab.$$eval("details", (all) => all.forEach((d) => ((d as HTMLDetailsElement).open = false)));
        await tab.setViewportSize({ width: 720, height: 900 });
        await tab.waitForTimeout(500);
        const file = join(ROOT, "docs", "screenshots", "lens-page.png");
        await tab.screenshot({ path: file, fullPage: true });
        assert.ok(statSync(file).size < 400_000, `${file} is over 400 KB`);
      }
    } finally {
      await browserContext.close();
    }
  });
}
