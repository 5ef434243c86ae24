/**
 * Accessibility, audited rather than assumed: axe-core (WCAG 2.1 A and AA) in Debian's Chromium,
 * light and dark, on the built fixture site's posts (every shortcode) and a chart's embed page.
 * Zero violations. The public datasette's pages are audited in test/datasette-pages.test.ts, which
 * already runs them.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { generateCovidView } from "../fixtures/generate.ts";
import { audit } from "./a11y-helpers.ts";
import { edgeRows } from "./widgets-db.ts";
import { buildFixtureSite, launchChromium, requireTool, serveStatic, type BuiltSite } from "./widgets-site.ts";


let browser: Browser;
let built: BuiltSite;
let base: string;
const cleanups: Array<() => unknown> = [];

before(async () => {
  requireTool("/usr/bin/chromium", "chromium");
  const context = { after: (fn: () => unknown) => void cleanups.push(fn) };
  built = await buildFixtureSite(context, [...generateCovidView({ seed: 3 }), ...edgeRows()], ["--records-url", "https://data.vigil.example"]);
  base = await serveStatic(context, built.public);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const fn of cleanups.reverse()) await fn();
});

/** The audit once the page's charts have settled. */
async function settledAudit(page: Page) {
  await page.waitForFunction(() => [...document.querySelectorAll("figure.vigil-chart")].every((f) => f.getAttribute("data-vigil-state") !== "loading"), null, { timeout: 30_000 });
  return audit(page);
}

const PAGES = ["/posts/charts/", "/posts/memorial/", "/posts/twice/", "/posts/another-day/", "/posts/frozen/", "/vigil/embed/daily-deaths/", "/vigil/embed/deaths-per-100k-by-race-ethnicity/"];

for (const colorScheme of ["light", "dark"] as const) {
  test(`axe-core finds no WCAG 2.1 A or AA violation on the posts and an embed (${colorScheme})`, { timeout: 180_000 }, async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, colorScheme });
    try {
      for (const path of PAGES) {
        const page = await context.newPage();
        await page.goto(base + path);
        const violations = await settledAudit(page);
        assert.deepEqual(violations, [], `${path} (${colorScheme}): ${JSON.stringify(violations, null, 1)}`);
        // the data tables open: their contents are audited too
        await page.$$eval("details", (all) => all.forEach((d) => ((d as HTMLDetailsElement).open = true)));
        const opened = await settledAudit(page);
        assert.deepEqual(opened, [], `${path} (${colorScheme}, details open): ${JSON.stringify(opened, null, 1)}`);
        await page.close();
      }
    } finally {
      await context.close();
    }
  });
}
