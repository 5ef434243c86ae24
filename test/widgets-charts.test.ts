/**
 * The charts from a fixed fixture and clock: golden SVG, spec, CSV and description for each;
 * every spec compiles with vega-lite and renders with vega on its own CSV; the numbers add up.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseHTML } from "linkedom";
import { openDatabase } from "../pipeline/store/db.ts";
import { CHART_IDS, chartsManifestSchema, summarySchema, vegaLiteSpecSchema } from "../schemas/widgets.ts";
import { buildChart, buildManifest, buildSummary, draftCharts, type BuiltChart } from "../site-widgets/build.ts";
import { memorialYears } from "../site-widgets/memorial.ts";
import { readWidgetData, type WidgetData } from "../site-widgets/read.ts";
import { assertGolden } from "./golden.ts";
import { tempDir } from "./helpers.ts";
import { goldenRows, syncRows } from "./widgets-db.ts";

const NOW = "2026-11-26T12:00:00.000Z";
const SOURCE = "https://datacatalog.cookcountyil.gov/d/3trz-enys";

async function fixture(t: Parameters<typeof tempDir>[0]): Promise<{ data: WidgetData; charts: BuiltChart[] }> {
  const db = join(tempDir(t), "vigil.db");
  syncRows(db, goldenRows(), NOW);
  const conn = openDatabase(db, { readonly: true });
  try {
    const data = readWidgetData(conn);
    return { data, charts: await Promise.all(draftCharts(data).map(buildChart)) };
  } finally {
    conn.close();
  }
}

test("each chart's SVG, spec, CSV and description match their golden files", async (t) => {
  const { data, charts } = await fixture(t);
  assert.deepEqual(charts.map((c) => c.draft.id), [...CHART_IDS]);
  for (const chart of charts) {
    const id = chart.draft.id;
    assertGolden(`widgets/${id}.svg`, chart.svg);
    assertGolden(`widgets/${id}.vl.json`, chart.spec);
    assertGolden(`widgets/${id}.csv`, chart.csv);
    assertGolden(`widgets/${id}.description.txt`, chart.draft.description + "\n");
  }
  const memorial = memorialYears(data.people);
  assertGolden("widgets/summary.json", JSON.stringify(summarySchema.parse(buildSummary(data, SOURCE, memorial)), null, 2) + "\n");
  assertGolden("widgets/charts.json", JSON.stringify(chartsManifestSchema.parse(buildManifest(charts.map((c) => c.draft), data.freshness, SOURCE)), null, 2) + "\n");
});

test("each SVG stands alone and describes itself: xmlns, role, viewBox, title, desc, aria-label", async (t) => {
  const { charts } = await fixture(t);
  for (const { draft, svg } of charts) {
    const { document } = parseHTML(`<!doctype html><html><body>${svg}</body></html>`);
    const root = document.querySelector("svg")!;
    assert.equal(root.getAttribute("xmlns"), "http://www.w3.org/2000/svg", draft.id);
    assert.equal(root.getAttribute("role"), "img", draft.id);
    assert.match(root.getAttribute("viewBox") ?? "", /^0 0 \d+ \d+$/, draft.id);
    assert.equal(root.getAttribute("aria-label"), draft.description, `${draft.id}: the aria-label is the takeaway`);
    assert.equal(root.querySelector("title")?.textContent, draft.title);
    assert.equal(root.querySelector("desc")?.textContent, draft.description);
    assert.equal(root.querySelectorAll("[id]").length, 0, `${draft.id}: no ids, so a chart can appear twice on a page`);
    assert.match(svg, /@media \(prefers-color-scheme: dark\)/, `${draft.id}: follows dark mode`);
    assert.doesNotMatch(svg, /plot-[0-9a-f]{6}/, `${draft.id}: Plot's generated class names are replaced`);
    assert.ok(!/\d\.\d{3,}/.test(svg.replace(/aria-label="[^"]*"|<desc>.*<\/desc>/g, "")), `${draft.id}: coordinates are rounded`);
  }
});

test("each spec is valid Vega-Lite 6 and renders with vega on its own CSV", async (t) => {
  const { charts } = await fixture(t);
  const vl = await import("vega-lite");
  const vega = await import("vega");
  for (const { draft, spec, csv } of charts) {
    const parsed = vegaLiteSpecSchema.parse(JSON.parse(spec));
    assert.equal(parsed.description, draft.description);
    assert.equal(parsed.data.url, `${draft.id}.csv`);
    const warnings: string[] = [];
    const logger = vega.logger(vega.Warn);
    logger.warn = (...args: unknown[]) => (warnings.push(args.join(" ")), logger);
    const inline = { ...parsed, data: { values: vega.read(csv, parsed.data.format as never) } };
    const compiled = vl.compile(inline as never, { logger }).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: "none" });
    const rendered = await view.toSVG();
    view.finalize();
    assert.deepEqual(warnings, [], `${draft.id}: vega-lite warnings`);
    assert.match(rendered, /<path|<rect|<line/, `${draft.id}: marks were drawn`);
  }
});

test("the CSV behind daily-deaths sums to the total, and every chart counts every person once", async (t) => {
  const { data, charts } = await fixture(t);
  const total = goldenRows().length;
  assert.equal(data.people.length, total);
  const rows = (id: string) => {
    const [header, ...lines] = charts.find((c) => c.draft.id === id)!.csv.trimEnd().split("\n");
    const columns = header.split(",");
    return lines.map((line) => Object.fromEntries(line.split(",").map((v, i) => [columns[i], v])));
  };
  const sum = (id: string) => rows(id).reduce((n, r) => n + Number(r.deaths), 0);
  assert.equal(sum("daily-deaths"), total);
  assert.equal(Number(rows("daily-deaths").at(-1)!.cumulative_deaths), total);
  assert.equal(Number(rows("cumulative-deaths").at(-1)!.cumulative_deaths), total);
  assert.equal(sum("deaths-by-month"), total);
  assert.equal(sum("deaths-by-age-group"), total);
  assert.equal(sum("deaths-by-race-ethnicity"), total);
  const daily = rows("daily-deaths");
  assert.deepEqual(
    daily.map((r) => r.date),
    [...daily.map((r) => r.date)].sort(),
    "days in order",
  );
  assert.ok(daily.some((r) => r.deaths === "0"), "days without deaths are listed as 0, not left out");
});

test("descriptions speak plainly: numbers with separators, dates in words", async (t) => {
  const { charts } = await fixture(t);
  const text = (id: string) => charts.find((c) => c.draft.id === id)!.draft.description;
  assert.match(text("daily-deaths"), /^From March \d+, 2020 to March \d+, 2021, the Cook County Medical Examiner recorded 1,\d{3} COVID-19 deaths\. The deadliest day was [A-Z][a-z]+ \d{1,2}, 20\d\d, with \d+ deaths/);
  assert.match(text("deaths-by-month"), /^The deadliest month was [A-Z][a-z]+ 20\d\d, with \d{3} COVID-19 deaths/);
  for (const chart of charts) {
    const description = chart.draft.description;
    assert.doesNotMatch(description, /\d{4}-\d{2}/, `${chart.draft.id}: dates in words`);
    for (const n of description.match(/\b\d{4,}\b/g) ?? []) assert.match(n, /^20\d\d$/, `${chart.draft.id}: ${n} needs a thousands separator`);
  }
});
