/**
 * Logs as operators read them: JSON lines off a terminal, one line per stage with counts and
 * durations, readable lines on request; and the app token never in a log line, an error, the
 * database or a hook's environment, even when the portal echoes it back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { runMain, tempDir } from "./helpers.ts";
import { openDatabase } from "../pipeline/store/db.ts";

const DATASET = "3trz-enys";
const TOKEN = "tok-9f8e7d6c5b4a-secret";
const rows = generateCovidView({ seed: 5, count: 400 });

function jsonLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .trim()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
}

test("off a terminal every log line is JSON, one per stage, with counts and durations", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  const result = await runMain(["run", "--db", join(dir, "v.db"), "--portal", portal.url]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stderr.trim().split("\n");
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const line of parsed) {
    assert.equal(typeof line.time, "string");
    assert.ok(["debug", "info", "warn", "error"].includes(String(line.level)));
    assert.equal(typeof line.stage, "string");
    assert.equal(typeof line.msg, "string");
  }
  const byStage = (stage: string) => parsed.filter((l) => l.stage === stage);
  for (const stage of ["fetch", "validate", "load", "run"]) {
    assert.equal(byStage(stage).length, 1, `one ${stage} line in ${result.stderr}`);
    assert.equal(typeof byStage(stage)[0].ms, "number", `${stage} has a duration`);
  }
  assert.equal(byStage("fetch")[0].rows, 400);
  assert.equal(byStage("load")[0].inserted, 400);
  assert.match(String(byStage("run")[0].msg), /^run 1: ingest ok \(400 inserted\), widgets skipped \(no --site\)$/);
  assert.equal(result.stdout, "run 1: ingest ok (400 inserted), widgets skipped (no --site)\n");
});

test("--log-format pretty writes readable lines", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 50) } });
  t.after(() => portal.close());
  const result = await runMain(["run", "--db", join(dir, "v.db"), "--portal", portal.url, "--log-format", "pretty"]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stderr.trim().split("\n");
  assert.ok(lines.every((line) => !line.startsWith("{")), result.stderr);
  assert.ok(lines.some((line) => /^fetch\s+fetched 50 rows .*ms=\d+/.test(line)), result.stderr);
  assert.ok(lines.some((line) => /^run\s+run 1: ingest ok/.test(line)), result.stderr);
});

test("the app token never appears, even when the portal echoes it in an error", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "v.db");
  // a database that was there before: a first run that fails leaves none behind
  openDatabase(db).close();
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 20) } });
  t.after(() => portal.close());
  const echo = { code: "query.invalid", error: true, message: `bad request from app token ${TOKEN}`, data: { token: TOKEN } };
  // Retries first (each one logged), then a final error whose body carries the token.
  portal.faults.push({ kind: "status", status: 503, retryAfter: 0 }, { kind: "status", status: 429, retryAfter: 0 });
  portal.faults.always({ kind: "status", status: 400, body: echo });

  for (const format of ["json", "pretty"]) {
    const result = await runMain(["run", "--db", db, "--portal", portal.url, "--log-format", format, "--debug", "--then", "env"], {
      env: { SOCRATA_APP_TOKEN: TOKEN },
    });
    assert.equal(result.code, 1, `${format}: ${result.stderr}`);
    assert.match(result.stderr, /vigil run: run \d+: ingest failed: GET .* answered HTTP 400/);
    assert.ok(result.stderr.includes("app token [redacted]"), `${format}: the echoed token is masked:\n${result.stderr}`);
    assert.ok(!result.stderr.includes(TOKEN), `${format}: token in stderr:\n${result.stderr}`);
    assert.ok(!result.stdout.includes(TOKEN), `${format}: token in stdout`);
  }
  assert.ok(portal.requests.every((r) => r.headers["x-app-token"] === TOKEN), "every request carried the token");

  // Datasette publishes the runs table: the recorded errors must not carry the token either.
  const handle = new Database(db, { readonly: true });
  const errors = handle.prepare("SELECT error FROM runs").pluck().all() as string[];
  handle.close();
  assert.equal(errors.length, 2);
  for (const error of errors) assert.ok(!error.includes(TOKEN), `token in runs.error: ${error}`);
});

test("a hook never sees the app token in its environment", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 20) } });
  t.after(() => portal.close());
  const result = await runMain(["run", "--db", join(dir, "v.db"), "--portal", portal.url, "--then", "env"], {
    env: { SOCRATA_APP_TOKEN: TOKEN },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^VIGIL_RUN_ID=1$/m, "the hook ran and sees its run");
  assert.doesNotMatch(result.stdout, /SOCRATA_APP_TOKEN/);
  assert.ok(!result.stdout.includes(TOKEN) && !result.stderr.includes(TOKEN));
  const hook = jsonLines(result.stderr).find((l) => l.stage === "hook");
  assert.equal(hook?.code, 0);
});
