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
import { buildChart, buildManifest, type BuiltChart } from "../site-widgets/site-plan.ts";
import { draftCharts } from "../site-widgets/chart-registry.ts";
import { buildSummary } from "../site-widgets/summary.ts";
import { memorialYears } from "../site-widgets/memorial.ts";
import { readWidgetData, type WidgetData } from "../site-widgets/read.ts";
import { assertGolden } from "./golden.ts";
import { ROOT, tempDir } from "./helpers.ts";
import { covidRow, goldenRows, syncRows } from "./widgets-db.ts";
import { MARK } from "../site-widgets/chart.ts";
import { builtInEvents, mergeEvents, readEventsFile } from "../pipeline/store/events.ts";

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
    assertGolden(`widgets/${id}.narrow.svg`, chart.narrowSvg);
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
  for (const { draft, svg } of charts.flatMap((c) => [{ draft: c.draft, svg: c.svg }, { draft: c.draft, svg: c.narrowSvg }])) {
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
  assert.equal(sum("deaths-per-100k-by-race-ethnicity"), total, "the rates' groups, Unknown included, hold every person once");
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
  assert.match(text("deaths-by-month"), /^The deadliest month in the Cook County Medical Examiner's record was [A-Z][a-z]+ 20\d\d, with \d{3} COVID-19 deaths/);
  for (const chart of charts) {
    const description = chart.draft.description;
    // words that claim no more than the record: deaths the Medical Examiner recorded, never a county's total
    for (const words of [chart.draft.title, description]) {
      assert.match(words, /Cook County Medical Examiner/, `${chart.draft.id}: says whose record it is`);
      assert.doesNotMatch(words, /died of COVID-19 in Cook County|deaths in Cook County|died at/, `${chart.draft.id}: claims more than the record`);
    }
    assert.match(chart.draft.notes, /Only deaths the Cook County Medical Examiner investigated are recorded; since April 1, 2022, it no longer takes most COVID-19 deaths in hospitals and nursing homes\./);
    if (chart.draft.id === "deaths-per-100k-by-race-ethnicity") assert.match(chart.draft.notes, /U\.S\. Census Bureau's population estimates for Cook County for July 1, 2020/);
    assert.doesNotMatch(description, /\d{4}-\d{2}/, `${chart.draft.id}: dates in words`);
    for (const n of description.match(/\b\d{4,}\b/g) ?? []) assert.match(n, /^20\d\d$/, `${chart.draft.id}: ${n} needs a thousands separator`);
  }
});

/** The fixture's days, from the county's first confirmed death on, with the site owner's events of fixtures/events.csv. */
async function withEvents(t: Parameters<typeof tempDir>[0]): Promise<{ data: WidgetData; charts: BuiltChart[] }> {
  const db = join(tempDir(t), "vigil.db");
  syncRows(db, [...goldenRows(), covidRow("ME2020-00001", "2020-03-16T18:00:00.000", { age: "61", gender: "Female", residence_city: "CHICAGO" })], NOW);
  const conn = openDatabase(db, { readonly: true });
  try {
    const data = readWidgetData(conn);
    data.events = mergeEvents(builtInEvents(), readEventsFile(join(ROOT, "fixtures", "events.csv"), "site"));
    return { data, charts: await Promise.all(draftCharts(data).filter((d) => TIME_CHARTS.includes(d.id)).map(buildChart)) };
  } finally {
    conn.close();
  }
}

const TIME_CHARTS: readonly string[] = ["daily-deaths", "cumulative-deaths"];

/** A label as a reader sees it: its lines (tspans) joined by spaces. */
const labelText = (text: Element) => {
  const lines = [...text.querySelectorAll("tspan")].map((t) => t.textContent);
  return lines.length > 0 ? lines.join(" ") : text.textContent;
};

test("the time charts mark the events within their days: a dashed line and a label, a spec layer, a sentence of the alt text", async (t) => {
  const { data, charts } = await withEvents(t);
  const [first, last] = [data.daily[0].date, data.daily.at(-1)!.date];
  assert.deepEqual([first, last], ["2020-03-16", "2021-03-30"]);
  const on = (date: string) => data.events.find((e) => e.date === date)!;
  const drawn = [on("2020-03-16"), on("2020-12-03")];
  assert.equal(drawn[0].origin, "built-in", "the built-in first death; the fixture's copy of it is the same event");
  assert.equal(data.events.filter((e) => e.date === "2020-03-16").length, 1);
  assert.equal(on("2022-04-01").origin, "built-in");
  assert.deepEqual(charts.map((c) => c.draft.id), TIME_CHARTS);

  for (const { draft, svg, spec } of charts) {
    const root = parseHTML(`<!doctype html><html><body>${svg}</body></html>`).document.querySelector("svg")!;
    const labels = [...root.querySelectorAll(`g.${MARK.eventLabel} text`)].map(labelText);
    assert.deepEqual(labels, drawn.map((e) => e.label), `${draft.id}: one label per event within its days, and no other`);
    const rules = [...root.querySelectorAll(`g.${MARK.eventRule} line`)];
    assert.equal(rules.length, 2, `${draft.id}: one line per event`);
    for (const rule of rules) {
      assert.ok(rule.getAttribute("stroke-dasharray") ?? rule.parentElement!.getAttribute("stroke-dasharray"), `${draft.id}: dashed`);
    }
    assert.equal(root.querySelectorAll("i").length, 0, `${draft.id}: markup in a label stays text`);
    assert.equal(root.querySelectorAll("[id]").length, 0, `${draft.id}: still no ids`);
    assert.ok(!/\d\.\d{3,}/.test(svg.replace(/aria-label="[^"]*"|<desc>.*<\/desc>/g, "")), `${draft.id}: coordinates are rounded`);
    assert.match(svg, /Candles lit &amp; &lt;i&gt;names read&lt;\/i&gt;/);

    assert.ok(draft.description.includes(" Dashed lines mark March 16, 2020: First confirmed COVID-19 death in Cook County; December 3, 2020: Candles lit & <i>names read</i>, \"together\"."), draft.description);
    assert.doesNotMatch(draft.description, /April 1, 2022/, `${draft.id}: an event outside its days is not named`);

    const parsed = vegaLiteSpecSchema.parse(JSON.parse(spec));
    const layers = (parsed.layer as Array<{ data?: { values: Array<Record<string, unknown>> }; mark: { type: string }; encoding: { tooltip?: Array<{ field: string }> } }>).filter((l) => l.data);
    assert.ok(layers.some((l) => l.mark.type === "rule") && layers.some((l) => l.mark.type === "text"), `${draft.id}: a rule layer and a text layer`);
    for (const layer of layers) {
      assert.ok(layer.data!.values.every((v) => drawn.some((e) => e.date === v.date && e.label === v.label && e.source_url === v.source_url)), `${draft.id}: only the events within its days`);
      assert.deepEqual(layer.encoding.tooltip!.map((f) => f.field), ["label", "date", "source_url"], `${draft.id}: the tooltip names the event, its day and its source`);
    }
    assert.deepEqual(layers.find((l) => l.mark.type === "rule")!.data!.values.map((v) => v.label), drawn.map((e) => e.label));

    const vl = await import("vega-lite");
    const vega = await import("vega");
    const warnings: string[] = [];
    const logger = vega.logger(vega.Warn);
    logger.warn = (...args: unknown[]) => (warnings.push(args.join(" ")), logger);
    const csv = charts.find((c) => c.draft.id === draft.id)!.csv;
    const inline = { ...parsed, data: { values: vega.read(csv, parsed.data.format as never) } };
    const view = new vega.View(vega.parse(vl.compile(inline as never, { logger }).spec), { renderer: "none" });
    const rendered = await view.toSVG();
    view.finalize();
    assert.deepEqual(warnings, [], `${draft.id}: vega-lite warnings`);
    // the words drawn, line by line (tspans), not an aria-label: marks stay out of the accessibility tree
    const drawnText = [...parseHTML(`<!doctype html><html><body>${rendered}</body></html>`).document.querySelectorAll("text")]
      .map((text) => [...text.querySelectorAll("tspan")].map((line) => line.textContent).join(" ") || text.textContent)
      .join("\n");
    assert.match(drawnText, /First confirmed COVID-19/, `${draft.id}: vega draws the labels`);
    assert.match(drawnText, /Candles lit & <i>names read/, `${draft.id}: as text`);
    assert.doesNotMatch(rendered, /aria-label="date/, `${draft.id}: no mark describes itself to screen readers`);
  }
});

test("a chart whose days hold no event draws none and names none", async (t) => {
  const { data, charts } = await fixture(t);
  assert.ok(data.events.length >= 2 && data.events.every((e) => e.date < data.daily[0].date || e.date > data.daily.at(-1)!.date), "the golden days hold no event");
  for (const { draft, svg, spec } of charts.filter((c) => TIME_CHARTS.includes(c.draft.id))) {
    assert.doesNotMatch(draft.description, /dashed line/i, draft.id);
    assert.doesNotMatch(svg, /vigil-event/, draft.id);
    assert.doesNotMatch(spec, /source_url/, draft.id);
  }
});
