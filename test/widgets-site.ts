/**
 * The real Hugo site for the widget tests: a copy of fixtures/hugo-site with a database loaded
 * through the pipeline, `vigil widgets` run through the CLI's main(), Hugo's build, and a loopback
 * static server for the browser.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import type { RawRow } from "../schemas/source-columns.ts";
import { ROOT, runMain, tempDir } from "./helpers.ts";
import { syncRows } from "./widgets-db.ts";

export const FIXTURE_SITE = join(ROOT, "fixtures", "hugo-site");
export const NOW = "2026-11-26T12:00:00.000Z";
/** A site owner's own dated events, for `--events`. */
export const EVENTS_FIXTURE = join(ROOT, "fixtures", "events.csv");

type TestContext = Parameters<typeof tempDir>[0];

/** Fails with the fix when a system tool the tests need is missing. */
export function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) assert.fail(`${path} is missing: run \`bash test/setup.sh\` (it installs Debian's ${pkg}) or \`apt-get install ${pkg}\``);
}

export interface BuiltSite {
  dir: string;
  site: string;
  db: string;
  public: string;
  hugoMs: number;
}

/** Copies the fixture site, loads `rows`, runs `vigil widgets` (with `widgetsArgs`) through the CLI, builds with Hugo. */
export async function buildFixtureSite(t: TestContext, rows: readonly RawRow[], widgetsArgs: readonly string[] = []): Promise<BuiltSite> {
  requireTool("/usr/bin/hugo", "hugo");
  const dir = tempDir(t, "vigil-site-");
  const site = join(dir, "site");
  cpSync(FIXTURE_SITE, site, { recursive: true });
  const db = join(dir, "vigil.db");
  syncRows(db, rows, NOW);
  await widgets(site, db, ...widgetsArgs);
  const built = await hugo(site, join(dir, "public"));
  return { dir, site, db, public: join(dir, "public"), hugoMs: built.ms };
}

export async function widgets(site: string, db: string, ...extra: string[]): Promise<string> {
  const result = await runMain(["widgets", "--site", site, "--db", db, "--log-format", "json", ...extra]);
  assert.equal(result.code, 0, `vigil widgets failed: ${result.stderr}`);
  return result.stdout;
}

export interface HugoResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runHugo(site: string, destination: string): Promise<HugoResult> {
  requireTool("/usr/bin/hugo", "hugo");
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("hugo", ["--source", site, "--destination", destination, "--cleanDestinationDir"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) }));
  });
}

/** A Hugo build that must succeed without errors or warnings. */
export async function hugo(site: string, destination: string): Promise<HugoResult> {
  const result = await runHugo(site, destination);
  assert.equal(result.code, 0, `hugo failed:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr + result.stdout, /\b(ERROR|WARN)\b/, "hugo printed warnings or errors");
  return result;
}

export function page(publicDir: string, path: string): string {
  return readFileSync(join(publicDir, path, "index.html"), "utf8");
}

/** Every file under `dir`, as paths relative to it. */
export function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix)).flatMap((name) => {
    const rel = prefix ? `${prefix}/${name}` : name;
    return statSync(join(dir, rel)).isDirectory() ? listFiles(dir, rel) : [rel];
  });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".csv": "text/csv; charset=utf-8",
  ".png": "image/png",
};

/** Serves a built site on 127.0.0.1 at a free port, with `headers(path)` added to each answer; stops when the test ends. */
export async function serveStatic(t: TestContext, root: string, headers: (path: string) => Record<string, string> = () => ({})): Promise<string> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    let file = join(root, path);
    if (!file.startsWith(root + sep) && file !== root) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) return void res.writeHead(404).end("not found");
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", ...headers(path) });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Debian's Chromium, headless, with a fresh throwaway profile and nothing phoning home. */
export async function launchChromium(): Promise<import("playwright-core").Browser> {
  const { chromium } = await import("playwright-core");
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
  return chromium.launch({ executablePath: "/usr/bin/chromium", args });
}
