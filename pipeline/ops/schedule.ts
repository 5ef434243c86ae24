/**
 * The scheduler (`vigil schedule`): stays up and does `vigil run` on a cron schedule (node-cron), in this process.
 * Runs never overlap: a run due while another is going is logged and dropped, not queued. On start,
 * a run is made at once when no successful run happened since the last scheduled time, so a machine
 * that was off at night still gets its nightly run. SIGTERM/SIGINT let the run in progress finish
 * or roll back (ingest commits in one transaction), then the process exits 0.
 */
import { existsSync } from "node:fs";
import { CronExpressionParser } from "cron-parser";
import cron, { type ScheduledTask } from "node-cron";
import { openDatabase } from "../store/db.ts";
import { lastSuccess } from "../store/run-records.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { NightlyResult } from "./nightly.ts";

/** 04:15 in Chicago: clear of the 01:00-03:00 daylight-saving jumps, before readers wake up. */
export const DEFAULT_CRON = "15 4 * * *";
export const DEFAULT_TIMEZONE = "America/Chicago";

export type RunReason = "scheduled" | "catch-up";

export interface SchedulerOptions {
  cron: string;
  timezone: string;
  log: Logger;
  signal: AbortSignal;
  /** One nightly run; its failures are reported in its result, never thrown. */
  runOnce: (reason: RunReason) => Promise<NightlyResult>;
  /** When the last successful run finished, or null when there was none. */
  lastSuccess: () => Date | null;
  now: () => Date;
}

/** Resolves once the signal fired and the run in progress, if any, has ended. */
export async function runScheduler(options: SchedulerOptions): Promise<void> {
  const { log, signal } = options;
  let current: Promise<NightlyResult | void> | null = null;
  let task: ScheduledTask | null = null;

  const fire = (reason: RunReason): Promise<NightlyResult | void> => {
    if (current) {
      log.warn("schedule", "a run is still going: this one is skipped, not queued", { reason });
      return current;
    }
    if (signal.aborted) return Promise.resolve();
    log.info("schedule", `starting a ${reason} run`, { reason });
    current = options
      .runOnce(reason)
      .catch((error: unknown) => log.error("schedule", `run crashed: ${describeError(error).message}`))
      .finally(() => {
        current = null;
        const next = task?.getNextRun();
        if (next && !signal.aborted) log.info("schedule", `next run ${next.toISOString()}`, { next: next.toISOString() });
      });
    return current;
  };

  task = cron.createTask(options.cron, () => fire("scheduled"), {
    name: "vigil-run",
    timezone: options.timezone,
    noOverlap: true,
    // node-cron's own warnings duplicate the events below; keep them for --debug.
    logger: {
      info: (message) => log.debug("schedule", String(message)),
      warn: (message) => log.debug("schedule", String(message)),
      debug: (message) => log.debug("schedule", String(message)),
      error: (message) => log.error("schedule", String(message)),
    },
  });
  task.on("execution:overlap", (ctx) => {
    log.warn("schedule", "a run is still going: this one is skipped, not queued", { reason: "scheduled", due: ctx.date.toISOString() });
  });
  task.on("execution:missed", (ctx) => {
    log.warn("schedule", "a scheduled run was missed (the process was blocked)", { due: ctx.date.toISOString() });
  });

  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await task.start();
  // a started task keeps the process alive: whatever fails from here on must not leave it running
  try {
    const [first] = task.getNextRuns(1);
    const lastDue = lastDueTime(options.cron, options.timezone, options.now());
    const last = options.lastSuccess();
    log.info("schedule", `scheduled \`${options.cron}\` (${options.timezone}); next run ${first.toISOString()}`, {
      cron: options.cron,
      timezone: options.timezone,
      next: first.toISOString(),
      last_success: last?.toISOString() ?? null,
    });
    if (last === null || (lastDue !== null && last < lastDue)) {
      log.info("schedule", last === null ? "no successful run yet: running now" : `no successful run since ${lastDue?.toISOString()}: catching up now`);
      void fire("catch-up");
    }
    await stopped;
  } finally {
    await task.destroy();
  }
  if (current) {
    log.info("schedule", "stopping: waiting for the run in progress to finish or roll back");
    await current;
  }
  log.info("schedule", "stopped");
}

/** Finish time of the last successful run in the database, read fresh each time. */
export function lastSuccessIn(dbPath: string): Date | null {
  if (!existsSync(dbPath)) return null;
  const db = openDatabase(dbPath, { readonly: true });
  try {
    const finished = lastSuccess(db)?.finished_at;
    return finished ? new Date(finished) : null;
  } finally {
    db.close();
  }
}

/**
 * The last time the schedule was due at or before `now` (a due time reached to the millisecond
 * counts, as node-cron fires on it): what the scheduler compares the last success against. Null
 * when the schedule was not due in the last 366 days.
 *
 * node-cron fires the runs, so its reading of the expression decides which days are due. It wants
 * the day of month and the day of week both to match where both are given (cron-parser, like
 * Vixie cron, takes either), and it reads weekday and month names, `W` and `L-2`, which
 * cron-parser refuses. cron-parser, which can walk back in time across daylight-saving changes,
 * proposes times from node-cron's own expansion of the second, minute, hour and month fields;
 * node-cron's matcher keeps the first whose day is due.
 */
export function lastDueTime(expression: string, timezone: string, now: Date): Date | null {
  const { second, minute, hour, month } = cron.parse(expression);
  const times = CronExpressionParser.parse([second, minute, hour, ["*"], month, ["*"]].map((field) => field.join(",")).join(" "), {
    // prev() is strict: from a millisecond later, a due time at `now` itself is found
    currentDate: new Date(now.getTime() + 1),
    tz: timezone,
  });
  // never started: only its matcher is used
  const schedule = cron.createTask(expression, () => undefined, { timezone });
  const oldest = now.getTime() - 366 * 86_400_000;
  try {
    for (;;) {
      const candidate = times.prev();
      if (candidate.getTime() < oldest) return null;
      if (schedule.match(candidate.toDate())) return candidate.toDate();
      // the day is not due, so neither is any earlier time of it: go on from the day before
      candidate.setStartOfDay();
      times.reset(candidate);
    }
  } finally {
    void schedule.destroy();
  }
}
