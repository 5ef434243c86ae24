/**
 * `vigil schedule`: in process, when a run is due (lastDueTime) and when the scheduler catches up;
 * then as a real long-running process on seconds-level cron expressions: it fires, refuses to
 * overlap, catches up a missed run on start (and only then), and stops on SIGTERM or SIGINT with
 * the database intact and exit 0.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import cron from "node-cron";
import { ingest } from "../pipeline/ingest/ingest.ts";
import type { NightlyResult } from "../pipeline/ops/nightly.ts";
import { lastDueTime, runScheduler, type RunReason } from "../pipeline/ops/schedule.ts";
import { FAST_HTTP, memoryLogger, ROOT, runMain, tempDir, VIGIL_BIN } from "./helpers.ts";

const DATASET = "3trz-enys";
const rows = generateCovidView({ seed: 21, count: 300 });
type Line = Record<string, unknown>;

/** A `vigil schedule` child whose JSON log lines can be awaited. */
function startSchedule(args: string[]) {
  const child = spawn(process.execPath, [VIGIL_BIN, "schedule", "--log-format", "json", ...args], {
    cwd: ROOT,
    env: { ...process.env, VIGIL_DB: undefined, VIGIL_CRON: undefined, SOCRATA_APP_TOKEN: undefined },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Line[] = [];
  let stderr = "";
  let buffer = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk;
    buffer += chunk;
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) lines.push(part.startsWith("{") ? JSON.parse(part) : { raw: part });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const waitFor = async (what: string, check: (line: Line) => boolean, count = 1, timeoutMs = 30_000) => {
    const start = Date.now();
    while (lines.filter(check).length < count) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}; log:\n${stderr}`);
      await sleep(20);
    }
    return lines.filter(check)[count - 1];
  };
  return { child, lines, exited, waitFor, stderr: () => stderr };
}

function killOnExit(t: { after(fn: () => void): void }, child: ChildProcess) {
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
}

function inspect(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      integrity: db.pragma("integrity_check", { simple: true }),
      cases: db.prepare("SELECT count(*) FROM cases").pluck().get() as number,
      statuses: db.prepare("SELECT status FROM runs ORDER BY id").pluck().all() as string[],
    };
  } finally {
    db.close();
  }
}

const CHICAGO = "America/Chicago";

/** lastDueTime as ISO text, for exact comparisons. */
function due(expression: string, now: string): string | null {
  return lastDueTime(expression, CHICAGO, new Date(now))?.toISOString() ?? null;
}

test("lastDueTime: a daily 04:15 in Chicago across both daylight-saving changes of 2026", () => {
  // fall back on Sunday 1 November (CDT, UTC-5, to CST, UTC-6)
  assert.equal(due("15 4 * * *", "2026-11-02T09:00:00Z"), "2026-11-01T10:15:00.000Z", "03:00 CST the morning after: the fall-back day's 04:15 CST");
  assert.equal(due("15 4 * * *", "2026-11-01T09:30:00Z"), "2026-10-31T09:15:00.000Z", "03:30 CST on the day itself: the day before, 04:15 CDT");
  assert.equal(due("15 4 * * *", "2026-11-02T10:30:00Z"), "2026-11-02T10:15:00.000Z");
  // spring forward on Sunday 8 March (CST to CDT)
  assert.equal(due("15 4 * * *", "2026-03-09T08:00:00Z"), "2026-03-08T09:15:00.000Z", "03:00 CDT the morning after: the spring-forward day's 04:15 CDT");
  assert.equal(due("15 4 * * *", "2026-03-08T08:00:00Z"), "2026-03-07T10:15:00.000Z", "03:00 CDT on the day itself: the day before, 04:15 CST");
});

test("lastDueTime: weekdays only, before 04:15 on a Sunday or a Monday, is the Friday", () => {
  assert.equal(due("15 4 * * 1-5", "2026-11-08T15:00:00Z"), "2026-11-06T10:15:00.000Z", "Sunday 09:00");
  assert.equal(due("15 4 * * 1-5", "2026-11-09T10:00:00Z"), "2026-11-06T10:15:00.000Z", "Monday 04:00");
  assert.equal(due("15 4 * * 1-5", "2026-11-09T10:15:00Z"), "2026-11-09T10:15:00.000Z", "Monday 04:15");
  assert.equal(due("15 4 * * MON-FRI", "2026-11-08T15:00:00Z"), "2026-11-06T10:15:00.000Z", "names");
});

test("lastDueTime: the last day of the month ('L'), leap years included", () => {
  assert.equal(due("0 5 L * *", "2026-03-01T12:00:00Z"), "2026-02-28T11:00:00.000Z");
  assert.equal(due("0 5 L * *", "2028-03-01T12:00:00Z"), "2028-02-29T11:00:00.000Z");
  assert.equal(due("0 5 L * *", "2026-04-30T09:59:59Z"), "2026-03-31T10:00:00.000Z", "04:59:59 CDT on the 30th: still March's");
  assert.equal(due("0 5 L * *", "2026-04-30T10:00:00Z"), "2026-04-30T10:00:00.000Z");
});

test("lastDueTime: six fields, with seconds, and a due time reached to the millisecond counts as due", () => {
  assert.equal(due("30 15 4 * * *", "2026-11-26T12:00:00Z"), "2026-11-26T10:15:30.000Z");
  assert.equal(due("30 15 4 * * *", "2026-11-26T10:15:30.000Z"), "2026-11-26T10:15:30.000Z");
  assert.equal(due("30 15 4 * * *", "2026-11-26T10:15:29.999Z"), "2026-11-25T10:15:30.000Z");
  assert.equal(due("15 4 * * *", "2026-11-26T10:15:00.000Z"), "2026-11-26T10:15:00.000Z");
  assert.equal(due("15 4 * * *", "2026-11-26T10:14:59.999Z"), "2026-11-25T10:15:00.000Z");
  assert.equal(due("* * * * * *", "2026-11-26T10:15:00.500Z"), "2026-11-26T10:15:00.000Z");
});

test("lastDueTime reads the expression as node-cron, which fires the runs, does", () => {
  // day of month and day of week both given: node-cron wants both (the 1st, and a Monday);
  // cron-parser alone would take either, and call Monday 30 November due
  assert.equal(due("15 4 1 * 1", "2026-11-30T18:00:00Z"), "2026-06-01T09:15:00.000Z");
  assert.equal(due("15 4 * * monday", "2026-11-30T18:00:00Z"), "2026-11-30T10:15:00.000Z", "a full weekday name");
  assert.equal(due("0 5 15W * *", "2026-11-30T18:00:00Z"), "2026-11-16T11:00:00.000Z", "the weekday nearest the 15th (a Sunday)");
  assert.equal(due("0 0 29 2 *", "2026-11-26T12:00:00Z"), null, "not due in the last 366 days");
  assert.equal(cron.getTasks().size, 0, "no node-cron task is left behind");
});

test("the scheduler catches up when the last success is older than the last due time, and only then", async () => {
  const now = new Date("2026-11-30T18:00:00Z"); // Monday, noon in Chicago
  const started = async (expression: string, lastSuccess: Date | null) => {
    const controller = new AbortController();
    const log = memoryLogger();
    const runs: RunReason[] = [];
    const done = runScheduler({
      cron: expression,
      timezone: CHICAGO,
      log,
      signal: controller.signal,
      now: () => now,
      lastSuccess: () => lastSuccess,
      runOnce: async (reason) => (runs.push(reason), { ok: true } as NightlyResult),
    });
    while (!log.lines.some((l) => l.cron === expression)) await sleep(5);
    controller.abort();
    await done;
    return runs;
  };
  assert.deepEqual(await started("15 4 * * *", null), ["catch-up"], "never a success");
  assert.deepEqual(await started("15 4 * * *", new Date("2026-11-29T10:20:00Z")), ["catch-up"], "yesterday's success, today's run missed");
  assert.deepEqual(await started("15 4 * * *", new Date("2026-11-30T10:20:00Z")), [], "today's run happened");
  assert.deepEqual(await started("15 4 1 * 1", new Date("2026-06-01T09:20:00Z")), [], "not due since 1 June, a Monday the 1st");
  assert.equal(cron.getTasks().size, 0);
});

const starting = (reason: string) => (l: Line) => l.stage === "schedule" && l.reason === reason && String(l.msg).startsWith("starting");
const overlap = (l: Line) => l.stage === "schedule" && l.level === "warn" && /still going/.test(String(l.msg));
const runDone = (l: Line) => l.stage === "run";

test("fires every second, refuses to overlap, and stops on SIGTERM mid-run with the database intact", async (t) => {
  const db = join(tempDir(t), "vigil.db");
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  // Each request takes 1.2 s, so one run (metadata, then one page) outlasts several ticks.
  portal.faults.always({ kind: "slow", delayMs: 1200 });

  const schedule = startSchedule(["--cron", "* * * * * *", "--db", db, "--portal", portal.url]);
  killOnExit(t, schedule.child);
  // An empty database has never had a successful run: it runs at once.
  await schedule.waitFor("the catch-up run", starting("catch-up"));
  await schedule.waitFor("an overlap while catching up", overlap);
  const first = await schedule.waitFor("the first run's summary", runDone);
  assert.match(String(first.msg), /^run 1: ingest ok \(300 inserted\)/);
  assert.equal(first.ok, true);

  // Then the schedule itself fires; a tick during that run is refused by node-cron's overlap guard.
  await schedule.waitFor("a scheduled run", starting("scheduled"));
  const refused = await schedule.waitFor("node-cron's overlap", (l) => overlap(l) && typeof l.due === "string");
  assert.equal(refused.reason, "scheduled");
  const second = await schedule.waitFor("the second run's summary", runDone, 2);
  assert.match(String(second.msg), /^run 2: ingest ok \(unchanged upstream\)/);
  const upToSecond = schedule.lines.slice(0, schedule.lines.indexOf(second));
  const startsBefore = upToSecond.filter((l) => l.stage === "schedule" && String(l.msg).startsWith("starting")).length;
  const overlapsBefore = upToSecond.filter(overlap).length;
  assert.ok(overlapsBefore >= 2, "each tick during a run is logged");
  assert.equal(startsBefore, 2, "overlapping ticks are dropped, not queued");

  // SIGTERM while the third run waits on the portal: the run stops, the process exits 0.
  await schedule.waitFor("a third run", (l) => l.stage === "schedule" && String(l.msg).startsWith("starting"), 3);
  await sleep(300);
  schedule.child.kill("SIGTERM");
  const exit = await schedule.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, schedule.stderr());
  const messages = schedule.lines.map((l) => String(l.msg));
  assert.ok(messages.includes("stopping: waiting for the run in progress to finish or roll back"), schedule.stderr());
  assert.equal(messages.at(-1), "stopped");
  const third = schedule.lines.filter(runDone)[2];
  assert.match(String(third?.msg), /^run 3: ingest failed: stopped by SIGTERM/);

  const state = inspect(db);
  assert.equal(state.integrity, "ok");
  assert.equal(state.cases, 300);
  assert.deepEqual(state.statuses, ["success", "success", "failed"], "no run left 'running'");
});

test("catches up a run missed while it was down, and not one that already happened", async (t) => {
  const db = join(tempDir(t), "vigil.db");
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  // The last success was three days ago: the machine was off through two nightly runs.
  const threeDaysAgo = Date.now() - 72 * 3_600_000;
  await ingest({ config: { db, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: () => new Date(threeDaysAgo), http: FAST_HTTP });
  portal.setRows(DATASET, rows.slice(0, 290));

  const nightly = ["--cron", "0 15 4 * * *", "--db", db, "--portal", portal.url];
  const down = startSchedule(nightly);
  killOnExit(t, down.child);
  const scheduled = await down.waitFor("the schedule line", (l) => l.stage === "schedule" && typeof l.next === "string" && l.cron !== undefined);
  assert.equal(scheduled.timezone, "America/Chicago");
  assert.equal(new Date(String(scheduled.next)).getUTCMinutes(), 15, "04:15 Chicago is hh:15 in UTC");
  await down.waitFor("the catch-up run", starting("catch-up"));
  const caughtUp = await down.waitFor("its summary", runDone);
  assert.match(String(caughtUp.msg), /^run 2: ingest ok \(10 removed\)/);
  down.child.kill("SIGINT");
  assert.deepEqual(await down.exited, { code: 0, signal: null });

  // Started again right after a successful run: nothing to catch up, nothing runs until 04:15.
  const up = startSchedule(nightly);
  killOnExit(t, up.child);
  await up.waitFor("the schedule line", (l) => l.stage === "schedule" && l.cron !== undefined);
  // a catch-up is decided and started in the same turn as the schedule line: half a second would show it
  await sleep(500);
  assert.equal(up.lines.filter((l) => l.stage === "schedule" && String(l.msg).startsWith("starting")).length, 0, up.stderr());
  up.child.kill("SIGTERM");
  assert.deepEqual(await up.exited, { code: 0, signal: null });
  assert.deepEqual(inspect(db).statuses, ["success", "success"]);
});

test("a bad cron expression or time zone is a usage error", async () => {
  const cron = await runMain(["schedule", "--cron", "every night"]);
  assert.equal(cron.code, 2);
  assert.match(cron.stderr, /^vigil schedule: --cron "every night" is not a valid cron expression/);
  const zone = await runMain(["schedule", "--timezone", "Chicago"]);
  assert.equal(zone.code, 2);
  assert.match(zone.stderr, /--timezone "Chicago" is not a time zone name/);
  const push = await runMain(["schedule", "--push"]);
  assert.equal(push.code, 2);
  assert.match(push.stderr, /--push needs --commit/);
});
