/**
 * `vigil ingest` as a real child process (crashes, concurrent runs), and its contract through the
 * CLI's main() in this process (exit codes, the app token, usage errors and --help).
 */
import { after as afterAll, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { ROOT, runCli, runMain, tempDir, VIGIL_BIN, type CliResult } from "./helpers.ts";
import { openDatabase } from "../pipeline/store/db.ts";

const DATASET = "3trz-enys";
const rows = generateCovidView({ seed: 3 });

function counts(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      cases: db.prepare("SELECT count(*) FROM cases").pluck().get() as number,
      revisions: db.prepare("SELECT count(*) FROM case_revisions").pluck().get() as number,
      running: db.prepare("SELECT count(*) FROM runs WHERE status = 'running'").pluck().get() as number,
      integrity: db.pragma("integrity_check", { simple: true }),
    };
  } finally {
    db.close();
  }
}

function startIngest(db: string, portal: string, extraEnv: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [VIGIL_BIN, "ingest", "--db", db, "--portal", portal, "--log-format", "json"], {
    cwd: ROOT,
    env: { ...process.env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function waitFor(check: () => boolean, timeoutMs = 30_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await sleep(25);
  }
}

function runningRuns(db: string): number {
  try {
    return counts(db).running;
  } catch {
    return 0;
  }
}

// Six attempts at an HTML page, with the HTTP client's real backoff between them, take about ten
// seconds of waiting: that run starts with the file, beside the other tests, and its test checks it.
const ECHOED_TOKEN = "echoed-t0ken-value";
let echoed: Promise<{ db: string; result: CliResult }>;
const cleanups: Array<() => unknown> = [];
before(() => {
  echoed = echoingPortalRun({ after: (fn) => void cleanups.push(fn) });
  echoed.catch(() => {}); // its test awaits it and reports the failure
});
afterAll(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function echoingPortalRun(t: { after(fn: () => unknown): void }) {
  const dir = tempDir(t);
  const db = join(dir, "v.db");
  // a database that was there before: a first run that fails leaves none behind
  openDatabase(db).close();
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 10) } });
  t.after(() => portal.close());
  portal.faults.always({ kind: "html", body: `<html><body><h1>Bad gateway</h1><pre>X-App-Token: ${ECHOED_TOKEN}</pre></body></html>` });
  const result = await runMain(["ingest", "--db", db, "--portal", portal.url], { env: { SOCRATA_APP_TOKEN: ECHOED_TOKEN } });
  return { db, result };
}

test("a run killed mid-way leaves the last good state, and the next run completes", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 5000) } });
  t.after(() => portal.close());
  const first = await runCli(["ingest", "--db", db, "--portal", portal.url]);
  assert.equal(first.code, 0, first.stderr);
  const good = counts(db);
  assert.equal(good.cases, 5000);

  // The publisher adds 10,000 cases; kill the ingest at several points of fetching and loading.
  portal.setRows(DATASET, rows);
  for (const delayMs of [0, 150, 400, 700, 1000]) {
    const child = startIngest(db, portal.url);
    // Listening from the start: a run that finishes before the kill has closed already.
    const closed = new Promise((resolve) => child.on("close", resolve));
    await waitFor(() => runningRuns(db) > 0);
    await sleep(delayMs);
    child.kill("SIGKILL");
    await closed;
    const after = counts(db);
    assert.equal(after.integrity, "ok");
    assert.ok(after.cases === good.cases || after.cases === rows.length, `all or nothing: ${after.cases} cases`);
    if (after.cases === good.cases) assert.equal(after.revisions, good.revisions);
  }
  const next = await runCli(["ingest", "--db", db, "--portal", portal.url]);
  assert.equal(next.code, 0, next.stderr);
  const final = counts(db);
  assert.equal(final.cases, rows.length);
  assert.equal(final.running, 0, "runs left by killed processes are marked abandoned");
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  assert.ok((conn.prepare("SELECT count(*) FROM runs WHERE status = 'abandoned'").pluck().get() as number) >= 1);
});

test("a second run while one is in progress is refused with a clear message", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 200) } });
  t.after(() => portal.close());
  portal.faults.push({ kind: "slow", delayMs: 3000 });
  const child = startIngest(db, portal.url);
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  await waitFor(() => runningRuns(db) > 0);
  const second = await runCli(["ingest", "--db", db, "--portal", portal.url]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /^vigil ingest: another run is in progress on .*\(run 1, ingest, pid \d+/);
  assert.equal(second.stderr.trim().split("\n").length, 1, "one line on stderr");
  assert.equal(await closed, 0);
  assert.equal(counts(db).cases, 200);
});

test("a failed run exits 1 with one line, never showing the app token", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 10) } });
  t.after(() => portal.close());
  portal.faults.always({ kind: "status", status: 403, body: JSON.stringify({ code: "forbidden", error: true, message: "Invalid app_token specified" }) });
  const token = "s3cr3t-token-value";
  const result = await runMain(["ingest", "--db", join(dir, "v.db"), "--portal", portal.url, "--log-format", "json"], {
    env: { SOCRATA_APP_TOKEN: token },
  });
  assert.equal(result.code, 1);
  const last = result.stderr.trim().split("\n").at(-1) ?? "";
  assert.match(last, /^vigil ingest: GET .*answered HTTP 403: Invalid app_token specified \(check SOCRATA_APP_TOKEN/);
  assert.ok(!result.stderr.includes(token) && !result.stdout.includes(token), "the token never appears");
  assert.ok(portal.requests.some((r) => r.headers["x-app-token"] === token), "the token is sent as X-App-Token");
  assert.ok(portal.requests.every((r) => String(r.headers["user-agent"]).startsWith("vigil/")));
});

test("a page that echoes the request's headers never puts the token in the published runs table", async (t) => {
  const { db, result } = await echoed;
  assert.equal(result.code, 1);
  assert.match(result.stderr, /sent text\/html; charset=utf-8 instead of JSON: .*X-App-Token: \[redacted\]/);
  const conn = new Database(db, { readonly: true });
  t.after(() => conn.close());
  const error = conn.prepare("SELECT error FROM runs ORDER BY id DESC LIMIT 1").pluck().get() as string;
  assert.match(error, /X-App-Token: \[redacted\]/);
  assert.ok(!error.includes(ECHOED_TOKEN));
});

test("usage errors exit 2 and every command has --help", async () => {
  const bad = await runMain(["ingest", "--no-such-flag"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^vigil ingest: Unknown option '--no-such-flag'; run `vigil ingest --help`/);
  const badUrl = await runMain(["ingest", "--portal", "not a url"]);
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.stderr, /--portal "not a url" must be an http\(s\) URL/);
  const unknown = await runMain(["frobnicate"]);
  assert.equal(unknown.code, 2);
  const help = await runMain(["--help"]);
  assert.equal(help.code, 0);
  for (const name of ["ingest", "backfill", "widgets", "run", "schedule", "serve", "status", "demo"]) {
    assert.match(help.stdout, new RegExp(`^  ${name} `, "m"));
    const own = await runMain([name, "--help"]);
    assert.equal(own.code, 0, `${name} --help: ${own.stderr}`);
    assert.match(own.stdout, new RegExp(`^vigil ${name}: `));
    // the demo makes its own database in --dir, so it offers no --db
    if (name === "demo") assert.match(own.stdout, /--dir DIR/), assert.doesNotMatch(own.stdout, /--db PATH/);
    else assert.match(own.stdout, /--db PATH/);
  }
});
