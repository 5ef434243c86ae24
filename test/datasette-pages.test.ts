/**
 * What a reader meets on vigil's datasette, private and public, in Debian's Chromium
 * (playwright-core): the home page opens on the people, covid_deaths shows its search box in the
 * first screen, case numbers lead to the case and its corrections, the row page reads top to
 * bottom, nothing scrolls sideways on a 390 px phone, dark mode follows the reader, a refused SQL
 * query explains itself, the public table page stays small and a large load is one short feed
 * entry; axe-core finds no WCAG 2.1 A or AA violation on the public home, table, row and memorial
 * pages, light or dark. The record is the realistic ~15k-case fixture view, loaded at once as a backfill would.
 * With UPDATE_SCREENSHOTS=1, the public covid_deaths page on a phone goes to docs/screenshots/.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { startDatasette, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import { publish } from "../pipeline/publish/publish.ts";
import { audit } from "./a11y-helpers.ts";
import { ensureDatasette, listItems, nextNight, parseAtom } from "./datasette-helpers.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT } from "./helpers.ts";
import { launchChromium, requireTool } from "./widgets-site.ts";

const DATASET = "3trz-enys";
const DAY = "2020-12-01";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const MAX_TABLE_PAGE = 150 * 1024;

const first = generateCovidView({ seed: 1 });
const { second, corrected } = nextNight(first, DAY);

let dir: string;
let portal: FixturePortal;
/** The live database after a second night, with its corrections. */
let live: DatasetteServer;
/** The public record as published after the first load: one run of ~15k people, no correction yet. */
let record: DatasetteServer;
let loadedAt: string;
let browser: Browser;

before(async () => {
  ensureDatasette(ROOT);
  requireTool("/usr/bin/chromium", "chromium");
  dir = mkdtempSync(join(tmpdir(), "vigil-pages-"));
  const db = join(dir, "vigil.db");
  portal = await startPortal({ datasets: { [DATASET]: first } });
  const config = { db, portal: portal.url, dataset: DATASET };
  await ingest({ config, log: memoryLogger(), now: fixedClock("2026-11-25T12:00:00Z"), http: FAST_HTTP });
  const published = await publish({ db, out: join(dir, "public"), now: fixedClock("2026-11-25T13:00:00Z"), log: memoryLogger() });
  loadedAt = published.manifest.published_at;
  portal.setRows(DATASET, second);
  await ingest({ config, log: memoryLogger(), now: fixedClock("2026-11-26T12:00:00Z"), http: FAST_HTTP });
  [live, record] = await Promise.all([
    startDatasette({ db, port: 0 }),
    startDatasette({ db, snapshot: { path: published.path, manifest: published.manifest }, port: 0 }),
  ]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await Promise.all([live?.stop(), record?.stop(), portal?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const servers = () => [["private", live], ["public", record]] as const;

/** A page in a fresh context; every request it makes is recorded. */
async function open(server: DatasetteServer, path: string, options: { viewport?: { width: number; height: number }; dark?: boolean } = {}) {
  const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP, colorScheme: options.dark ? "dark" : "light" });
  const page = await context.newPage();
  const requests: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  const response = await page.goto(`${server.url}${path}`);
  return { page, status: response?.status() ?? 0, requests, close: () => context.close() };
}

async function html(server: DatasetteServer, path: string): Promise<{ status: number; text: string; bytes: number; url: string }> {
  const response = await fetch(`${server.url}${path}`);
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, text: body.toString("utf8"), bytes: body.length, url: response.url };
}

test("the home and database pages open on the memorial, the people and the daily series", async () => {
  for (const [name, server] of servers()) {
    for (const path of ["/", "/vigil"]) {
      const { page, close } = await open(server, path);
      const start = await page.$$eval("nav.vigil-start a", (links) => links.map((a) => [a.textContent, (a as HTMLAnchorElement).href]));
      assert.deepEqual(start.slice(0, 3).map(([text]) => text), ["The memorial", "The people", "Deaths per day"], `${name} ${path}`);
      assert.match(String(start[1][1]), /\/vigil(-[0-9a-f]{7})?\/covid_deaths$/);
      // it comes first: right under the title, before the description and the list of tables and queries
      const order = await page.evaluate(() => {
        const nav = document.querySelector("nav.vigil-start")!.getBoundingClientRect().top;
        const description = [...document.querySelectorAll(".metadata-description, p")].find((p) => /What this is/.test(p.textContent ?? ""));
        const lists = [...document.querySelectorAll("h2")].filter((h) => !h.closest("nav")).map((h) => h.getBoundingClientRect().top);
        return { nav, description: description?.getBoundingClientRect().top ?? Infinity, lists: Math.min(...lists), height: innerHeight };
      });
      assert.ok(order.nav < order.description && order.nav < order.lists && order.nav < order.height, `${name} ${path}: ${JSON.stringify(order)}`);
      for (const [, href] of start.slice(0, 4)) assert.equal((await fetch(String(href))).status, 200, String(href));
      await close();
    }
  }
});

test("covid_deaths shows its search box in the first screen, the column descriptions in a closed details", async () => {
  for (const [name, server] of servers()) {
    for (const viewport of [DESKTOP, PHONE]) {
      const { page, close } = await open(server, "/vigil/covid_deaths", { viewport });
      const layout = await page.evaluate(() => {
        const details = document.querySelector("details.column-descriptions") as HTMLDetailsElement | null;
        return {
          search: document.querySelector("#_search")!.getBoundingClientRect().top,
          open: details?.open,
          described: details?.querySelectorAll("dt").length ?? 0,
          outside: document.querySelectorAll("dl.column-descriptions").length - (details?.querySelectorAll("dl.column-descriptions").length ?? 0),
          rows: document.querySelectorAll("table.rows-and-columns tbody tr").length,
        };
      });
      assert.ok(layout.search > 0 && layout.search < viewport.height, `${name} ${viewport.width} px: the search box at ${layout.search} px`);
      assert.equal(layout.open, false, "collapsed");
      assert.ok(layout.described >= 40, `${layout.described} columns described`);
      assert.equal(layout.outside, 0, "no description list outside the details");
      assert.equal(layout.rows, 25, "25 people a page");
      if (process.env.UPDATE_SCREENSHOTS === "1" && server === record && viewport === PHONE) {
        await page.screenshot({ path: join(ROOT, "docs", "screenshots", "datasette-covid-deaths-phone.png") });
      }
      await close();
    }
  }
});

test("the memorial shows its people before its SQL, which is a click away", async () => {
  for (const [name, server] of servers()) {
    const { page, close } = await open(server, `/vigil/memorial?date=${DAY}`);
    const top = await page.evaluate(() => document.querySelector("table.rows-and-columns")!.getBoundingClientRect().top);
    assert.ok(top < DESKTOP.height, `${name}: the people start at ${top} px`);
    assert.equal(await page.$("pre#sql-query, textarea#sql-editor"), null, "no SQL until asked");
    await page.goto(`${server.url}/vigil/memorial?date=${DAY}&_show_sql=1`);
    assert.match((await page.textContent("section.content")) ?? "", /memorial_sentence AS description/);
    await close();
  }
});

test("a case number links to the case and to its corrections", async () => {
  const { page, close } = await open(live, `/vigil/covid_deaths?casenumber=${corrected.casenumber}`);
  const links = await page.$$eval("td.col-casenumber a", (as) => as.map((a) => [a.textContent, (a as HTMLAnchorElement).href]));
  assert.deepEqual(links.map(([text]) => text), [corrected.casenumber, "corrections"]);
  await Promise.all([page.waitForURL(/\/revisions\?casenumber=/), page.click("td.col-casenumber a.vigil-corrections")]);
  const changes = await page.$$eval("table.rows-and-columns tbody tr", (rows) => rows.map((row) => [row.querySelector(".col-field")?.textContent, row.querySelector(".col-new_value")?.textContent]));
  assert.ok(changes.some(([field, value]) => field === "age" && value === "47"), JSON.stringify(changes));
  await page.goto(String(links[0][1]));
  assert.equal((await page.textContent("h1"))?.trim(), `cases: ${corrected.casenumber}`);
  assert.equal(await page.title(), `cases: ${corrected.casenumber}`, "the tab names the case");
  await close();
  // the public memorial's case numbers lead into the public record too
  const memorial = await html(record, `/vigil/memorial?date=${DAY}`);
  const hrefs = [...memorial.text.matchAll(/<td class="col-casenumber[^"]*"><span class="vigil-case-links"><a href="([^"]+)">([^<]+)<\/a><a class="vigil-corrections" href="([^"]+)"/g)];
  assert.ok(hrefs.length > 0, "the memorial's case numbers are links");
  for (const [, row, casenumber, corrections] of hrefs.slice(0, 3)) {
    assert.equal((await fetch(`${record.url}${row}`)).status, 200, row);
    assert.match(corrections, new RegExp(`/revisions\\?casenumber=${casenumber}$`));
    assert.equal((await fetch(`${record.url}${corrections}`)).status, 200, corrections);
  }
});

test("the row page reads top to bottom, one field per line under its name", async () => {
  for (const [name, server] of servers()) {
    for (const viewport of [DESKTOP, PHONE]) {
      const { page, close } = await open(server, `/vigil/cases/${corrected.casenumber}`, { viewport });
      const cells = await page.$$eval("table.rows-and-columns tbody td", (tds) =>
        tds.map((td) => ({ top: td.getBoundingClientRect().top, left: td.getBoundingClientRect().left, label: getComputedStyle(td, "::before").content })),
      );
      const columns = await page.$$eval("table.rows-and-columns thead th", (ths) => ths.map((th) => th.getAttribute("data-column")));
      assert.ok(cells.length >= 40, `${cells.length} fields`);
      assert.deepEqual(cells.map((c) => c.label), columns.map((c) => JSON.stringify(c)), "each value under its column's name");
      assert.ok(cells.every((c, i) => i === 0 || (c.top > cells[i - 1].top && c.left === cells[0].left)), `${name} ${viewport.width} px: one field per line`);
      await close();
    }
  }
});

test("nothing scrolls sideways on a 390 px phone: the memorial, the database page with its SQL and hash, the tables, a row", async () => {
  const paths = ["/", "/vigil", `/vigil/memorial?date=${DAY}`, "/vigil/memorial?_show_sql=1", "/vigil/by_month", "/vigil/covid_deaths", `/vigil/cases/${corrected.casenumber}`, "/vigil/daily_deaths", "/vigil/revisions", "/vigil?sql=select+1"];
  for (const [name, server] of servers()) {
    for (const path of paths) {
      const { page, close } = await open(server, path, { viewport: PHONE });
      const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(width.scroll <= width.client, `${name} ${path}: ${width.scroll} px wide in ${width.client}`);
      await close();
    }
  }
  const db = await html(record, "/vigil");
  assert.match(db.text, /SHA-256 [0-9a-f]{64}/, "the hash is there, wrapped rather than cut");
});

/** WCAG relative luminance of a computed `rgb(...)` color. */
function luminance(color: string): number {
  const [r, g, b] = (color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => Number(v) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};

test("dark mode follows the reader's setting, readable, with nothing loaded from another host", async () => {
  for (const [name, server] of servers()) {
    for (const path of ["/", "/vigil/covid_deaths", `/vigil/cases/${corrected.casenumber}`, `/vigil/memorial?date=${DAY}`]) {
      for (const dark of [false, true]) {
        const { page, requests, close } = await open(server, path, { dark });
        // no named helper inside: the page runs this function as its source text
        const colors = await page.evaluate(() => {
          const body = getComputedStyle(document.body);
          const link = document.querySelector(".content a");
          const td = document.querySelector("table.rows-and-columns td");
          const cell = td ? getComputedStyle(td) : null;
          return {
            background: body.backgroundColor,
            text: body.color,
            link: link ? getComputedStyle(link).color : body.color,
            cell: cell ? [cell.color, cell.backgroundColor === "rgba(0, 0, 0, 0)" ? body.backgroundColor : cell.backgroundColor] : null,
          };
        });
        const where = `${name} ${path} ${dark ? "dark" : "light"}`;
        assert.equal(luminance(colors.background) < 0.1, dark, `${where}: background ${colors.background}`);
        assert.ok(contrast(colors.text, colors.background) >= 7, `${where}: text ${colors.text} on ${colors.background}`);
        assert.ok(contrast(colors.link, colors.background) >= 4.5, `${where}: links ${colors.link} on ${colors.background}`);
        if (colors.cell) assert.ok(contrast(colors.cell[0], colors.cell[1]) >= 4.5, `${where}: cells ${colors.cell.join(" on ")}`);
        const elsewhere = requests.filter((url) => !url.startsWith(server.url));
        assert.deepEqual(elsewhere, [], `${where} loads nothing from another host`);
        assert.ok(requests.some((url) => url.endsWith("/assets/vigil.css")), `${where} loads vigil's stylesheet`);
        await close();
      }
    }
  }
});

test("a refused SQL query says why and points to the canned queries and the download", async () => {
  for (const path of ["/vigil?sql=select+1", "/vigil/cases?_where=age%3E1"]) {
    const { page, status, close } = await open(record, path);
    assert.equal(status, 403, path);
    assert.equal(await page.textContent("h1"), "This public record runs only its own queries");
    const links = await page.$$eval("section.content a", (as) => as.map((a) => [a.textContent, new URL((a as HTMLAnchorElement).href).pathname + new URL((a as HTMLAnchorElement).href).hash]));
    assert.ok(links.some(([text, href]) => text === "canned queries" && href === "/vigil#queries"), JSON.stringify(links));
    assert.ok(links.some(([text, href]) => text === "download the whole database" && href === "/vigil.db"), JSON.stringify(links));
    assert.match(await page.textContent("section.content") ?? "", /Arbitrary SQL is turned off/);
    await close();
  }
  const json = await html(record, "/vigil.json?sql=select+1");
  assert.equal(json.status, 403);
  const body = JSON.parse(json.text) as { ok: boolean; error: string };
  assert.equal(body.ok, false);
  assert.match(body.error, /canned queries \(\/vigil#queries\).*download the whole database \(\/vigil\.db\)/);
  assert.equal((await fetch(`${record.url}/vigil.db`)).status, 200, "the download it points to is there");
  assert.equal((await html(live, "/vigil?sql=select+1")).status, 200, "the private server runs SQL");
});

test("the public table pages are at most 150 KB of HTML: 25 people a page, the next page a link away", async () => {
  for (const path of ["/vigil/covid_deaths", "/vigil/cases", "/vigil/covid_deaths?_search=pneumonia"]) {
    const page = await html(record, path);
    assert.equal(page.status, 200, path);
    assert.ok(page.bytes <= MAX_TABLE_PAGE, `${path}: ${page.bytes} bytes`);
    assert.match(page.text, /href="[^"]*_next=[^"]*">Next page<\/a>/, `${path} links to the next page`);
  }
});

test("a load of ~15,000 people is one short feed entry with a link to them; the corrections feed has no placeholder", async () => {
  const people = (await (await fetch(`${record.url}/vigil/covid_deaths.json?_size=0`)).json()) as { filtered_table_rows_count: number };
  assert.ok(people.filtered_table_rows_count > 10_000);
  const added = parseAtom((await html(record, "/vigil/new_deaths.atom")).text);
  assert.equal(added.id, `${record.url}/vigil/new_deaths.atom`);
  assert.equal(added.entries.length, 1);
  const [load] = added.entries;
  assert.equal(load.title, `${people.filtered_table_rows_count.toLocaleString("en-US")} people added to the memorial by run 1`);
  assert.ok(load.content.length < 1000, `${load.content.length} characters`);
  assert.deepEqual(listItems(load.content).items, []);
  assert.equal(load.link, `${record.url}/vigil/covid_deaths?first_run_id=1`);
  const linked = (await (await fetch(`${record.url}/vigil/covid_deaths.json?first_run_id=1&_size=0`)).json()) as { filtered_table_rows_count: number };
  assert.equal(linked.filtered_table_rows_count, people.filtered_table_rows_count, "the link lists every one of them");

  const corrections = parseAtom((await html(record, "/vigil/corrections.atom")).text);
  assert.equal(corrections.id, `${record.url}/vigil/corrections.atom`);
  assert.equal(corrections.self, corrections.id);
  assert.deepEqual(corrections.entries, [], "no placeholder entry before the first correction");
  assert.equal(Date.parse(corrections.updated), Date.parse("2026-11-25T12:00:00Z"), `dated by the last run (published ${loadedAt})`);
});

test("axe-core finds no WCAG 2.1 A or AA violation on the public record's home, table, row and memorial pages, light or dark", { timeout: 120_000 }, async () => {
  const paths = ["/", "/vigil", "/vigil/covid_deaths", `/vigil/cases/${corrected.casenumber}`, `/vigil/memorial?date=${DAY}`];
  for (const dark of [false, true]) {
    for (const path of paths) {
      const { page, status, close } = await open(record, path, { dark });
      assert.equal(status, 200, path);
      // the column descriptions and other collapsed parts are audited open as well
      await page.$$eval("details", (all) => all.forEach((d) => ((d as HTMLDetailsElement).open = true)));
      const violations = await audit(page);
      assert.deepEqual(violations, [], `${path} (${dark ? "dark" : "light"}): ${JSON.stringify(violations, null, 1)}`);
      await close();
    }
  }
});
