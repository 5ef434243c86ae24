/**
 * `vigil schedule`: stays up and does `vigil run` on a cron schedule (node-cron), in this process.
 * Runs never overlap: a run due while another is going is logged and dropped, not queued. On start,
 * a run is made at once when no successful run happened since the last scheduled time, so a machine
 * that was off at night still gets its nightly run. SIGTERM/SIGINT let the run in progress finish
 * or roll back (ingest commits in one transaction), then the process exits 0.
 */
import { existsSync } from "node:fs";
import cron, { type ScheduledTask } from "node-cron";
import type { Command } from "./command.ts";
import { openDatabase } from "./db.ts";
import { UsageError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { nightly, RUN_OPTIONS, runFlags, type NightlyResult } from "./run.ts";

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
      .catch((error: unknown) => log.error("schedule", `run crashed: ${error instanceof Error ? error.message : String(error)}`))
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
  const [first, second] = task.getNextRuns(2);
  const lastDue = new Date(first.getTime() - (second.getTime() - first.getTime()));
  const last = options.lastSuccess();
  log.info("schedule", `scheduled \`${options.cron}\` (${options.timezone}); next run ${first.toISOString()}`, {
    cron: options.cron,
    timezone: options.timezone,
    next: first.toISOString(),
    last_success: last?.toISOString() ?? null,
  });
  if (last === null || last < lastDue) {
    log.info("schedule", last === null ? "no successful run yet: running now" : `no successful run since ${lastDue.toISOString()}: catching up now`);
    void fire("catch-up");
  }

  await stopped;
  await task.destroy();
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
    const finished = db.prepare("SELECT max(finished_at) FROM runs WHERE status = 'success'").pluck().get() as string | null;
    return finished ? new Date(finished) : null;
  } finally {
    db.close();
  }
}

export function checkCron(expression: string, timezone: string): void {
  if (!cron.validate(expression)) {
    throw new UsageError(`--cron "${expression}" is not a valid cron expression`, {
      hint: 'five fields (minute hour day month weekday) or six with seconds first, e.g. "15 4 * * *"',
    });
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new UsageError(`--timezone "${timezone}" is not a time zone name such as America/Chicago`);
  }
}

export const command: Command = {
  help: `
Stays up and does \`vigil run\` on a cron schedule, by default every night at 04:15 in Chicago
(clear of the hours daylight saving skips or repeats). When no run has succeeded since the last
scheduled time (the machine was off, or this is the first start), it runs once at start. A run due
while another is still going is logged and skipped. SIGTERM or SIGINT let the run in progress
finish or roll back, then it exits 0. Takes every option of \`vigil run\`.

Examples:
  vigil schedule --site /srv/site --then "hugo --minify -s /srv/site"
  VIGIL_CRON="30 5 * * *" vigil schedule --site /srv/blog --commit --push`,
  options: {
    cron: { type: "string", arg: "EXPR", env: "VIGIL_CRON", description: `when to run, node-cron syntax (default "${DEFAULT_CRON}")` },
    timezone: { type: "string", arg: "ZONE", env: "VIGIL_TIMEZONE", description: `time zone of the schedule (default ${DEFAULT_TIMEZONE})` },
    ...RUN_OPTIONS,
  },
  async run(ctx) {
    const expression = typeof ctx.values.cron === "string" ? ctx.values.cron : DEFAULT_CRON;
    const timezone = typeof ctx.values.timezone === "string" ? ctx.values.timezone : DEFAULT_TIMEZONE;
    checkCron(expression, timezone);
    const flags = runFlags(ctx.values, ctx.config);
    await runScheduler({
      cron: expression,
      timezone,
      log: ctx.log,
      signal: ctx.signal,
      lastSuccess: () => lastSuccessIn(ctx.config.db),
      runOnce: () =>
        nightly({ ...flags, config: ctx.config, log: ctx.log, now: ctx.now, signal: ctx.signal, stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env }),
    });
    return 0;
  },
};
