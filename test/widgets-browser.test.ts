/**
 * The built fixture site in Debian's Chromium (playwright-core), served from loopback: the
 * interactive charts replace the static ones with no console error and no request to another
 * host; without JavaScript the static SVGs stay; nothing overflows a 360 px screen; colors follow
 * light and dark mode; markup in the data stays text; axe-core (WCAG 2.1 A and AA) finds no
 * violation on any post or an embed, light or dark (the public datasette's pages are audited in
 * test/datasette-pages.test.ts). Screenshots go to test-artifacts/ (and, with
 * UPDATE_SCREENSHOTS=1, the README's to docs/screenshots/).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { generateCovidView } from "../fixtures/generate.ts";
import { PALETTE } from "../site-widgets/chart.ts";
import { CHART_IDS } from "../schemas/widgets.ts";
import { ROOT } from "./helpers.ts";
import { edgeRows } from "./widgets-db.ts";
import { audit } from "./a11y-helpers.ts";
import { buildFixtureSite, launchChromium, requireTool, serveStatic, type BuiltSite } from "./widgets-site.ts";

const ARTIFACTS = join(ROOT, "test-artifacts");
const SCREENSHOTS = join(ROOT, "docs", "screenshots");

let browser: Browser;
let built: BuiltSite;
let base: string;
const cleanups: Array<() => void> = [];

before(async () => {
  requireTool("/usr/bin/chromium", "chromium");
  const context = { after: (fn: () => void) => void cleanups.push(fn) };
  // The realistic ~15k-case view, so the screenshots look like the real thing, plus the edge cases.
  built = await buildFixtureSite(context, [...generateCovidView({ seed: 1 }), ...edgeRows()], ["--records-url", "https://data.vigil.example"]);
  base = await serveStatic(context, built.public);
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  for (const fn of cleanups.reverse()) await fn();
});

interface Watched {
  page: Page;
  errors: string[];
  outside: string[];
}

/** A page whose console errors and requests to any host but loopback are recorded (and blocked). */
async function open(path: string, options: BrowserContextOptions = {}): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 }, ...options });
  const page = await context.newPage();
  const errors: string[] = [];
  const outside: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" || url.protocol === "data:") return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  await page.goto(base + path);
  return { page, errors, outside };
}

const figureStates = (page: Page) => page.$$eval("figure.vigil-chart", (figures) => figures.map((f) => f.getAttribute("data-vigil-state")));

async function waitInteractive(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const figures = [...document.querySelectorAll("figure.vigil-chart")];
      return figures.length > 0 && figures.every((f) => f.getAttribute("data-vigil-state") !== "loading" && f.hasAttribute("data-vigil-state"));
    },
    null,
    { timeout: 30_000 },
  );
}

test("the interactive charts replace the static ones, with no console error and no request to another host", { timeout: 90_000 }, async () => {
  const { page, errors, outside } = await open("/posts/charts/");
  await waitInteractive(page);
  assert.deepEqual(await figureStates(page), Array(CHART_IDS.length).fill("interactive"));
  for (const figure of await page.$$("figure.vigil-chart")) {
    const id = await figure.getAttribute("data-vigil-chart");
    assert.equal(await (await figure.$(".vigil-chart__static"))!.isHidden(), true, `${id}: the static SVG is hidden once the chart is interactive`);
    const interactive = (await figure.$(".vigil-chart__interactive svg"))!;
    const box = (await interactive.boundingBox())!;
    assert.ok(box.width > 300 && box.height > 150, `${id}: the interactive chart has a size (${box.width}x${box.height})`);
    // vega labels its container with the spec's description, the same takeaway as the SVG's.
    const container = (await figure.$(".vigil-chart__interactive"))!;
    const label = await figure.$eval(".vigil-chart__static svg", (svg) => svg.getAttribute("aria-label"));
    assert.equal(await container.getAttribute("aria-label"), label, `${id}: the interactive chart carries the takeaway too`);
    assert.equal(await container.getAttribute("role"), "graphics-document");
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(outside, []);
  await page.screenshot({ path: join(ARTIFACTS, "widgets-charts-interactive.png"), fullPage: true });
  await page.context().close();
});

/** The Content-Security-Policy values deploy/nginx/vigil.conf sends: the site's, and the embeds' (which any site may frame). */
function shippedPolicies(): { site: string; embed: string } {
  const conf = readFileSync(join(ROOT, "deploy", "nginx", "vigil.conf"), "utf8");
  const policies = [...conf.matchAll(/add_header Content-Security-Policy "([^"]+)" always;/g)].map((m) => m[1]);
  const site = policies.find((p) => p.endsWith("frame-ancestors 'self'"));
  const embed = policies.find((p) => p.endsWith("frame-ancestors *"));
  assert.ok(site && embed, "vigil.conf has the site's policy and the embeds'");
  return { site, embed };
}

test("under the shipped policy, with no 'unsafe-eval', the post's charts and an embed upgrade; another site frames the embed, sized to it, and not the post", { timeout: 120_000 }, async () => {
  const policies = shippedPolicies();
  assert.doesNotMatch(policies.site, /unsafe-eval/);
  const context = { after: (fn: () => void) => void cleanups.push(fn) };
  const strict = await serveStatic(context, built.public, (path) => ({ "content-security-policy": path.startsWith("/vigil/embed/") ? policies.embed : policies.site }));
  const violations = async (page: Page) => page.evaluate(() => (window as unknown as { violations: string[] }).violations);
  const watch = async (page: Page) => page.addInitScript(() => {
    const w = window as unknown as { violations: string[] };
    w.violations = [];
    document.addEventListener("securitypolicyviolation", (e) => w.violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`));
  });

  for (const path of ["/posts/charts/", "/vigil/embed/deaths-per-100k-by-race-ethnicity/"]) {
    const browserContext = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const page = await browserContext.newPage();
    const errors: string[] = [];
    page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
    page.on("response", (response) => void (response.status() >= 400 && errors.push(`${response.status()} ${response.url()}`)));
    await watch(page);
    await page.goto(strict + path);
    await waitInteractive(page);
    assert.ok((await figureStates(page)).every((state) => state === "interactive"), `${path}: every chart upgraded`);
    const marks = await page.$$eval("figure.vigil-chart", (figures) =>
      figures.map((f) => f.querySelectorAll(".vigil-chart__interactive g.role-mark path, .vigil-chart__interactive g.role-mark rect, .vigil-chart__interactive g.role-mark text").length),
    );
    assert.ok(marks.length > 0 && marks.every((n) => n > 0), `${path}: every chart draws its data (${marks.join(", ")} marks)`);
    assert.deepEqual(await violations(page), [], `${path}: no policy violation`);
    assert.deepEqual(errors, [], path);
    await browserContext.close();
  }

  // another site (another origin) pastes the embed code of charts.json, pointed at this server
  const manifest = JSON.parse(readFileSync(join(built.site, "data/vigil/charts.json"), "utf8"));
  const code = String(manifest.charts["deaths-by-age-group"].embed_code).replaceAll("https://vigil.example/", `${strict}/`);
  const elsewhere = mkdtempSync(join(tmpdir(), "vigil-elsewhere-"));
  cleanups.push(() => rmSync(elsewhere, { recursive: true, force: true }));
  writeFileSync(
    join(elsewhere, "index.html"),
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A newsroom</title></head><body><h1>A story</h1>${code}` +
      `<iframe id="post" src="${strict}/posts/charts/" title="a post"></iframe></body></html>`,
  );
  const other = await serveStatic(context, elsewhere);
  const browserContext = await browser.newContext({ viewport: { width: 700, height: 900 } });
  const page = await browserContext.newPage();
  await page.goto(other + "/");
  const frame = page.frameLocator("iframe[data-vigil-embed]");
  await frame.locator('figure[data-vigil-state="interactive"]').waitFor({ timeout: 30_000 });
  // sized to what its page posted, with no scroll bar inside
  await page.waitForFunction(() => {
    const iframe = document.querySelector("iframe[data-vigil-embed]") as HTMLIFrameElement;
    return iframe.getAttribute("height") !== "520";
  }, null, { timeout: 30_000 });
  const sizes = await page.$eval("iframe[data-vigil-embed]", (iframe) => {
    const inner = (iframe as HTMLIFrameElement).contentDocument;
    return { frame: iframe.getBoundingClientRect().height, content: inner ? inner.documentElement.scrollHeight : -1 };
  });
  assert.equal(sizes.content, -1, "another origin cannot read the embed's document");
  const inside = await frame.locator("html").evaluate((html) => Math.ceil(html.getBoundingClientRect().height));
  assert.ok(Math.abs(sizes.frame - inside) <= 2, `the iframe is as tall as its page: ${sizes.frame} and ${inside}`);
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    const file = join(SCREENSHOTS, "embed-on-another-site.png");
    const box = (await page.$("iframe[data-vigil-embed]"))!;
    const bottom = (await box.boundingBox())!;
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width: 700, height: Math.ceil(bottom.y + bottom.height + 8) } });
    assert.ok(statSync(file).size < 200_000, `${file} is over 200 KB`);
  }
  // the post itself may not be framed by another site
  const post = page.frames().find((f) => f.url().includes("/posts/charts/"));
  const framed = post ? await post.evaluate(() => document.querySelectorAll("figure.vigil-chart").length).catch(() => 0) : 0;
  assert.equal(framed, 0, "frame-ancestors 'self' keeps the post out of other sites' frames");
  await browserContext.close();
});

test("with JavaScript disabled the static SVGs stay, readable and described", { timeout: 60_000 }, async () => {
  const { page, outside } = await open("/posts/charts/", { javaScriptEnabled: false });
  assert.deepEqual(await figureStates(page), Array(CHART_IDS.length).fill(null));
  assert.equal(await page.$$eval(".vigil-chart__interactive", (e) => e.length), 0);
  for (const svg of await page.$$("figure.vigil-chart .vigil-chart__wide svg.vigil-svg")) {
    assert.equal(await svg.isVisible(), true);
    const box = (await svg.boundingBox())!;
    assert.ok(box.width > 500, `the static chart fills the column (${box.width} px)`);
    assert.equal(await svg.getAttribute("role"), "img");
  }
  assert.deepEqual(outside, []);
  await page.context().close();
});

for (const javaScriptEnabled of [true, false]) {
  test(`nothing overflows a 360 px wide screen (JavaScript ${javaScriptEnabled ? "on" : "off"})`, { timeout: 90_000 }, async () => {
    for (const path of ["/posts/charts/", "/posts/memorial/", "/posts/twice/", "/posts/frozen/"]) {
      const { page } = await open(path, { viewport: { width: 360, height: 740 }, javaScriptEnabled });
      if (javaScriptEnabled && path !== "/posts/memorial/") await waitInteractive(page);
      const widths = await page.evaluate(() => ({
        document: document.documentElement.scrollWidth,
        widest: Math.max(0, ...[...document.querySelectorAll("figure, figure svg, section.vigil-memorial")].map((e) => e.getBoundingClientRect().right)),
      }));
      assert.ok(widths.document <= 360, `${path}: the page is ${widths.document} px wide`);
      assert.ok(widths.widest <= 360, `${path}: a widget reaches ${widths.widest} px`);
      if (path === "/posts/charts/") await page.screenshot({ path: join(ARTIFACTS, `widgets-charts-360-js-${javaScriptEnabled ? "on" : "off"}.png`), fullPage: true });
      await page.context().close();
    }
  });
}

test("on a 390 px phone with JavaScript off, the charts drawn for phones show, with text of 12 px or more and nothing cut off", { timeout: 90_000 }, async () => {
  for (const path of ["/posts/charts/", "/vigil/embed/deaths-per-100k-by-race-ethnicity/"]) {
    const { page } = await open(path, { viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
    const charts = await page.$$eval("figure.vigil-chart", (figures) =>
      figures.map((figure) => {
        const shown = [...figure.querySelectorAll(".vigil-chart__static svg")].filter((svg) => svg.getBoundingClientRect().width > 0) as SVGSVGElement[];
        const svg = shown[0];
        const box = svg.getBoundingClientRect();
        const scale = svg.getScreenCTM()!.a;
        const texts = [...svg.querySelectorAll("text")].filter((t) => (t.textContent ?? "").trim() !== "");
        return {
          id: figure.getAttribute("data-vigil-chart"),
          shown: shown.length,
          narrow: svg.closest(".vigil-chart__narrow") !== null,
          smallest: Math.min(...texts.map((t) => parseFloat(getComputedStyle(t).fontSize) * scale)),
          cut: texts.filter((t) => t.getBoundingClientRect().left < box.left - 1 || t.getBoundingClientRect().right > box.right + 1).map((t) => t.textContent),
        };
      }),
    );
    assert.ok(charts.length > 0, path);
    for (const chart of charts) {
      assert.equal(chart.shown, 1, `${path} ${chart.id}: one static chart shows`);
      assert.ok(chart.narrow, `${path} ${chart.id}: the one drawn for phones`);
      assert.ok(chart.smallest >= 12, `${path} ${chart.id}: its smallest text is ${chart.smallest.toFixed(1)} px`);
      assert.deepEqual(chart.cut, [], `${path} ${chart.id}: text cut off at the edges`);
    }
    await page.screenshot({ path: join(ARTIFACTS, `widgets-390-js-off${path.includes("embed") ? "-embed" : ""}.png`), fullPage: true });
    await page.context().close();
  }
});

test("colors follow the reader's light or dark mode, static and interactive; screenshots of both", { timeout: 90_000 }, async () => {
  for (const colorScheme of ["light", "dark"] as const) {
    const palette = PALETTE[colorScheme];
    const still = await open("/posts/charts/", { colorScheme, javaScriptEnabled: false });
    const bar = await still.page.$eval(".vigil-deaths-by-age-group .vigil-fill-accent", (g) => getComputedStyle(g).fill);
    assert.equal(bar, hexToRgb(palette.accent), `${colorScheme}: static bars`);
    const [label, text] = await still.page.$eval('figure[data-vigil-chart="daily-deaths"]', (f) => [getComputedStyle(f.querySelector(".vigil-event-label text")!).fill, getComputedStyle(f).color]);
    assert.equal(label, text, `${colorScheme}: the static chart's event labels are in the page's text color`);
    await still.page.screenshot({ path: join(ARTIFACTS, `widgets-charts-static-${colorScheme}.png`), fullPage: true });
    await still.page.context().close();

    const live = await open("/posts/charts/", { colorScheme });
    await waitInteractive(live.page);
    const fills = await live.page.$$eval('figure[data-vigil-chart="deaths-by-age-group"] .vigil-chart__interactive path', (paths) => paths.map((p) => p.getAttribute("fill")));
    assert.ok(fills.includes(palette.accent), `${colorScheme}: interactive bars use ${palette.accent}, saw ${[...new Set(fills)].join(" ")}`);
    const events = await live.page.$eval('figure[data-vigil-chart="daily-deaths"]', (f) => {
      const chart = f.querySelector(".vigil-chart__interactive svg")!.getBoundingClientRect();
      // the built-in first confirmed death: the realistic view starts that day and ends before 2022-04-01
      const labels = [...f.querySelectorAll(".vigil-chart__interactive text")].filter((t) => /First confirmed|Medical Examiner/.test(t.textContent ?? ""));
      return {
        text: getComputedStyle(f).color,
        labels: labels.map((t) => {
          const box = t.getBoundingClientRect();
          return { fill: getComputedStyle(t).fill, inside: box.left >= chart.left && box.right <= chart.right && box.top >= chart.top && box.bottom <= chart.bottom };
        }),
      };
    });
    assert.equal(events.labels.length, 1, `${colorScheme}: the interactive chart labels the one event within its days`);
    for (const label of events.labels) {
      assert.equal(label.fill, events.text, `${colorScheme}: interactive event labels in the page's text color`);
      assert.ok(label.inside, `${colorScheme}: an event label is cut off by the chart's edge`);
    }
    await live.page.screenshot({ path: join(ARTIFACTS, `widgets-charts-${colorScheme}.png`), fullPage: true });
    const memorial = await open("/posts/memorial/", { colorScheme });
    await memorial.page.screenshot({ path: join(ARTIFACTS, `widgets-memorial-${colorScheme}.png`), fullPage: true });
    assert.deepEqual([...live.errors, ...memorial.errors], []);
    if (process.env.UPDATE_SCREENSHOTS === "1" && colorScheme === "light") await readmeScreenshots(live.page, memorial.page);
    await live.page.context().close();
    await memorial.page.context().close();
  }
});

test("a chart that cannot load its spec keeps its static SVG", { timeout: 60_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  await context.route("**/*.vl.json", (route) => route.abort());
  const page = await context.newPage();
  await page.goto(base + "/posts/charts/");
  await waitInteractive(page);
  assert.deepEqual(await figureStates(page), Array(CHART_IDS.length).fill("static"));
  assert.equal(await page.$$eval(".vigil-chart__interactive", (e) => e.length), 0);
  for (const svg of await page.$$("figure.vigil-chart .vigil-chart__wide svg.vigil-svg")) assert.equal(await svg.isVisible(), true);
  await context.close();
});

test("the interactive charts follow a change of color scheme while the page is open", { timeout: 60_000 }, async () => {
  const { page, errors } = await open("/posts/charts/", { colorScheme: "light" });
  await waitInteractive(page);
  const fills = () => page.$$eval('figure[data-vigil-chart="deaths-by-age-group"] .vigil-chart__interactive path', (paths) => paths.map((p) => p.getAttribute("fill")));
  assert.ok((await fills()).includes(PALETTE.light.accent));
  await page.emulateMedia({ colorScheme: "dark" });
  await page.waitForFunction(
    (accent) => [...document.querySelectorAll('figure[data-vigil-chart="deaths-by-age-group"] .vigil-chart__interactive path')].some((p) => p.getAttribute("fill") === accent),
    PALETTE.dark.accent,
    { timeout: 10_000 },
  );
  assert.equal(await page.$$eval('figure[data-vigil-chart="deaths-by-age-group"] .vigil-chart__interactive', (e) => e.length), 1, "the old chart is replaced, not added to");
  assert.deepEqual(errors, []);
  await page.context().close();
});

test("markup in the data is shown as text in the browser, never run", { timeout: 60_000 }, async () => {
  const { page, errors } = await open("/posts/another-day/");
  const items = await page.$$eval(".vigil-memorial li", (lis) => lis.map((li) => li.textContent));
  assert.ok(items.includes("A 70-year-old man from <script>window.vigilinjected=true</script>."), items.join("\n"));
  assert.ok(items.includes("A 71-year-old woman from <em Class=vigil-Injected>oak Park</em> & Sons."));
  assert.equal(await page.evaluate(() => (window as unknown as { vigilinjected?: boolean }).vigilinjected), undefined);
  assert.equal(await page.$$eval(".vigil-memorial script, .vigil-memorial em", (e) => e.length), 0);
  assert.deepEqual(errors, []);
  await page.context().close();
});

test("the standalone SVG files open as images of their own", { timeout: 60_000 }, async () => {
  const { page } = await open("/vigil/daily-deaths.svg");
  const root = await page.evaluate(() => ({ name: document.documentElement.localName, ns: document.documentElement.namespaceURI, error: document.querySelector("parsererror") !== null }));
  assert.deepEqual(root, { name: "svg", ns: "http://www.w3.org/2000/svg", error: false });
  await page.context().close();
});

/** The README's pictures: the daily and the rates charts and one memorial, light mode, small PNGs. */
async function readmeScreenshots(charts: Page, memorial: Page): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await charts.setViewportSize({ width: 720, height: 900 });
  await waitInteractive(charts);
  await charts.waitForTimeout(500);
  const chart = join(SCREENSHOTS, "daily-deaths.png");
  await (await charts.$('figure[data-vigil-chart="daily-deaths"]'))!.screenshot({ path: chart });
  const rates = join(SCREENSHOTS, "deaths-per-100k-by-race-ethnicity.png");
  await (await charts.$('figure[data-vigil-chart="deaths-per-100k-by-race-ethnicity"]'))!.screenshot({ path: rates });
  await memorial.setViewportSize({ width: 720, height: 900 });
  const section = (await memorial.$("section.vigil-memorial"))!;
  const file = join(SCREENSHOTS, "memorial.png");
  await section.screenshot({ path: file });
  for (const path of [chart, rates, file]) assert.ok(statSync(path).size < 150_000, `${path} is over 150 KB`);
}

function hexToRgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgb(${n >> 16}, ${(n >> 8) & 255}, ${n & 255})`;
}

/** The audit once the page's charts have settled. */
async function settledAudit(page: Page) {
  await page.waitForFunction(() => [...document.querySelectorAll("figure.vigil-chart")].every((f) => f.getAttribute("data-vigil-state") !== "loading"), null, { timeout: 30_000 });
  return audit(page);
}

/** Every shortcode (charts with their stats, memorials, a frozen post) and an embed page. */
const PAGES = ["/posts/charts/", "/posts/memorial/", "/posts/frozen/", "/vigil/embed/deaths-per-100k-by-race-ethnicity/"];

for (const colorScheme of ["light", "dark"] as const) {
  test(`axe-core finds no WCAG 2.1 A or AA violation on the posts and an embed (${colorScheme})`, { timeout: 180_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme });
    try {
      for (const path of PAGES) {
        const page = await context.newPage();
        await page.goto(base + path);
        // with every <details> open: the data tables and embed codes are audited too, the rest as ever
        await page.$$eval("details", (all) => all.forEach((d) => ((d as HTMLDetailsElement).open = true)));
        const violations = await settledAudit(page);
        assert.deepEqual(violations, [], `${path} (${colorScheme}): ${JSON.stringify(violations, null, 1)}`);
        await page.close();
      }
    } finally {
      await context.close();
    }
  });
}
