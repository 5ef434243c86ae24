/**
 * Accessibility, audited rather than assumed: axe-core (WCAG 2.1 A and AA) in Debian's Chromium,
 * light and dark, on the built fixture site's posts (every shortcode) and a chart's embed page.
 * Zero violations.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { generateCovidView } from "../fixtures/generate.ts";
import { edgeRows } from "./widgets-db.ts";
import { buildFixtureSite, requireTool, serveStatic, type BuiltSite } from "./widgets-site.ts";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

let browser: Browser;
let built: BuiltSite;
let base: string;
const cleanups: Array<() => unknown> = [];

before(async () => {
  requireTool("/usr/bin/chromium", "chromium");
  const context = { after: (fn: () => unknown) => void cleanups.push(fn) };
  built = await buildFixtureSite(context, [...generateCovidView({ seed: 3 }), ...edgeRows()], ["--records-url", "https://data.vigil.example"]);
  base = await serveStatic(context, built.public);
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
});

after(async () => {
  await browser?.close();
  for (const fn of cleanups.reverse()) await fn();
});

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** axe-core's WCAG 2.1 A and AA violations on the page, once its charts have settled. */
async function audit(page: Page): Promise<Violation[]> {
  await page.waitForFunction(() => [...document.querySelectorAll("figure.vigil-chart")].every((f) => f.getAttribute("data-vigil-state") !== "loading"), null, { timeout: 30_000 });
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  }, WCAG);
}

const PAGES = ["/posts/charts/", "/posts/memorial/", "/posts/twice/", "/posts/another-day/", "/posts/frozen/", "/vigil/embed/daily-deaths/", "/vigil/embed/deaths-per-100k-by-race-ethnicity/"];

for (const colorScheme of ["light", "dark"] as const) {
  test(`axe-core finds no WCAG 2.1 A or AA violation on the posts and an embed (${colorScheme})`, { timeout: 180_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme });
    try {
      for (const path of PAGES) {
        const page = await context.newPage();
        await page.goto(base + path);
        const violations = await audit(page);
        assert.deepEqual(violations, [], `${path} (${colorScheme}): ${JSON.stringify(violations, null, 1)}`);
        // the data tables open: their contents are audited too
        await page.$$eval("details", (all) => all.forEach((d) => ((d as HTMLDetailsElement).open = true)));
        const opened = await audit(page);
        assert.deepEqual(opened, [], `${path} (${colorScheme}, details open): ${JSON.stringify(opened, null, 1)}`);
        await page.close();
      }
    } finally {
      await context.close();
    }
  });
}
