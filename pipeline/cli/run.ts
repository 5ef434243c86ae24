/** `vigil run`: the nightly job: ingest, then widgets, then an optional commit and --then hook. */
import type { Config } from "../../schemas/config.ts";
import { EVENTS_OPTIONS, eventsFlag, LIMIT_OPTIONS, parseLimits, PUBLIC_OPTIONS, publicDir, RECORDS_OPTIONS, recordsUrlFlag, LENS_OPTIONS, lensesFlag, SITE_OPTIONS, SOURCE_OPTIONS, type Command, type OptionValues } from "./command.ts";
import { UsageError } from "../errors.ts";
import { nightly, type NightlyOptions } from "../ops/nightly.ts";
import { backupDir, hookCommand, KEEP_OPTION, parseKeep } from "./backup.ts";
import { FULL_OPTION } from "./ingest.ts";

/** Reads the run's own flags; shared with `vigil schedule`, which takes the same ones. */
export function runFlags(values: OptionValues, config: Config): Pick<NightlyOptions, "then" | "commit" | "push" | "limits" | "publish" | "backup" | "events" | "recordsUrl" | "lenses"> {
  const then = typeof values.then === "string" ? values.then : undefined;
  if (then !== undefined && then.trim() === "") throw new UsageError("--then needs a command, e.g. --then \"hugo --minify -s /srv/site\"");
  const commit = isOn(values.commit, "VIGIL_COMMIT");
  const push = isOn(values.push, "VIGIL_PUSH");
  if (push && !commit) throw new UsageError("--push needs --commit");
  if (commit && !config.site) throw new UsageError("--commit needs --site (or VIGIL_SITE): the Hugo site inside a git repository");
  const publish = isOn(values.publish, "VIGIL_PUBLISH") ? publicDir({ values }) : undefined;
  const backupTo = backupDir(values.backup, "--backup");
  const backupThen = hookCommand(values["backup-then"], "--backup-then");
  if (backupThen !== undefined && backupTo === undefined) throw new UsageError("--backup-then needs --backup DIR (or VIGIL_BACKUP)");
  const backup = backupTo === undefined ? undefined : { to: backupTo, keep: parseKeep(values), then: backupThen };
  // read once now, so a bad file stops the command before it starts; each run reads it again
  const events = eventsFlag(values)?.file;
  return { then, commit, push, limits: parseLimits(values), publish, backup, events, recordsUrl: recordsUrlFlag(values), lenses: lensesFlag(values) };
}

/** A boolean flag, or its environment variable's text (1/true/yes, 0/false/no or empty). */
function isOn(value: OptionValues[string], env: string): boolean {
  if (typeof value !== "string") return value === true;
  if (/^(1|true|yes)$/i.test(value.trim())) return true;
  if (/^(0|false|no|)$/i.test(value.trim())) return false;
  throw new UsageError(`${env} must be 1 or 0, got "${value}"`);
}

export const RUN_OPTIONS: Command["options"] = {
  ...SOURCE_OPTIONS,
  ...SITE_OPTIONS,
  ...EVENTS_OPTIONS,
  ...RECORDS_OPTIONS,
  ...LENS_OPTIONS,
  ...LIMIT_OPTIONS,
  then: { type: "string", arg: "CMD", env: "VIGIL_THEN", description: "shell command to run after the widgets changed, e.g. a Hugo build" },
  commit: { type: "boolean", env: "VIGIL_COMMIT", description: "commit the changed widget files in the site's git repository" },
  push: { type: "boolean", env: "VIGIL_PUSH", description: "push that commit (with --commit)" },
  publish: { type: "boolean", env: "VIGIL_PUBLISH", description: "publish the public record after the widgets, when it changed (see vigil publish)" },
  ...PUBLIC_OPTIONS,
  backup: { type: "string", arg: "DIR", env: "VIGIL_BACKUP", description: "after a successful ingest, back up the database into DIR (see vigil backup)" },
  ...KEEP_OPTION,
  "backup-then": { type: "string", arg: "CMD", env: "VIGIL_BACKUP_THEN", description: "shell command to run after each backup, e.g. an rclone copy off the machine" },
};

export const command: Command = {
  help: `
The nightly job. Ingests the dataset (incrementally, as \`vigil ingest\` does; --full reads
every row); when that succeeds and --site is given, writes the widgets into the Hugo site; with
--commit, commits vigil's changed files in the site's git repository (and pushes with --push,
rebasing onto the remote when the author pushed meanwhile), leaving every other change in the
work tree alone; then runs the --then command with \`sh -c\`. Commit
and hook happen only when something the site shows changed: the data, or a widget file beyond
the "last checked" time that every run refreshes (without --site: when the data changed). A
commit, push or hook that failed is retried by the next run, even when nothing changed since.
Exit 0 when every step that ran succeeded, "nothing changed" included; exit 1 when one failed,
and the steps after it are skipped. One summary line says what each step did.
With --publish, after the widgets it publishes the public record into --out (see \`vigil publish\`;
with --site, into the site too): a new snapshot only when something published changed.
With --backup DIR, after every successful ingest (changed or not) and before the commit and hook,
it backs up the database into DIR, keeping the newest --keep (see \`vigil backup\`), then runs
--backup-then with \`sh -c\` (VIGIL_BACKUP_FILE, VIGIL_BACKUP_DIR, VIGIL_DB), every night, changed
or not: the place for a copy off the machine. When it fails, the backup step and the run fail.
The hook sees VIGIL_RUN_ID, VIGIL_DB and VIGIL_SITE, never SOCRATA_APP_TOKEN.
After a successful ingest, the database's events table (listed in datasette) is made to hold
the built-in dated events plus those of --events FILE (CSV: date,label,source_url; see
\`vigil widgets --help\`), read again at each run: an event removed from the file leaves the
table and the charts, and without --events the table holds the built-in events only. A bad
file stops the command before it runs anything (exit 2).

Examples:
  vigil run --site /srv/site --then "hugo --minify -s /srv/site"
  vigil run --site /srv/blog --commit --push
  vigil run --site /srv/blog --events /srv/blog/vigil-events.csv
  vigil run --site /srv/blog --publish --out /srv/vigil/public
  vigil run --backup /var/backups/vigil --keep 14
  vigil run                      (ingest only, for a datasette-only install)`,
  options: { ...RUN_OPTIONS, ...FULL_OPTION },
  async run(ctx) {
    const flags = runFlags(ctx.values, ctx.config);
    const result = await nightly({ ...flags, full: ctx.values.full === true, config: ctx.config, log: ctx.log, now: ctx.now, signal: ctx.signal, stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env });
    if (result.ok) ctx.stdout.write(result.summary + "\n");
    else ctx.stderr.write(`vigil run: ${result.summary}\n`);
    return result.ok ? 0 : 1;
  },
};
