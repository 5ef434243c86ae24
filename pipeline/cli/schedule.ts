/** `vigil schedule`: stays up and does `vigil run` on a cron schedule. */
import cron from "node-cron";
import { UsageError } from "../errors.ts";
import { nightly } from "../ops/nightly.ts";
import { DEFAULT_CRON, DEFAULT_TIMEZONE, lastSuccessIn, runScheduler } from "../ops/schedule.ts";
import type { Command } from "./command.ts";
import { RUN_OPTIONS, runFlags } from "./run.ts";

export const command: Command = {
  help: `
Stays up and does \`vigil run\` on a cron schedule, by default every night at 04:15 in Chicago
(clear of the hours daylight saving skips or repeats). When no run has succeeded since the last
scheduled time (the machine was off, or this is the first start), it runs once at start. A run due
while another is still going is logged and skipped. SIGTERM or SIGINT let the run in progress
finish or roll back, then it exits 0. Takes every option of \`vigil run\`; the --events file
is checked at start and read again at each run, so an edit to it counts from the next run.

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
      now: ctx.now,
      runOnce: () =>
        nightly({ ...flags, config: ctx.config, log: ctx.log, now: ctx.now, signal: ctx.signal, stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env }),
    });
    return 0;
  },
};

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
