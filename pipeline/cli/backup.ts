/** `vigil backup`: an online, checked copy of the private database, with rotation. */
import { UsageError } from "../errors.ts";
import { backup, DEFAULT_KEEP, runBackupHook } from "../ops/backup.ts";
import type { Command, OptionSpec, OptionValues } from "./command.ts";

/** The backup options of `vigil backup`, and of `vigil run` and `vigil schedule` as --backup. */
export const KEEP_OPTION: Record<string, OptionSpec> = {
  keep: { type: "string", arg: "N", env: "VIGIL_BACKUP_KEEP", description: `how many of vigil's backups to keep in the folder, the new one included (default ${DEFAULT_KEEP})` },
};

/** --keep: a whole number of at least 1. */
export function parseKeep(values: OptionValues): number {
  const value = values.keep;
  if (value === undefined) return DEFAULT_KEEP;
  if (typeof value !== "string" || !/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new UsageError(`--keep must be a whole number of at least 1, got "${String(value)}"`);
  }
  return Number(value);
}

/** A folder flag's value, or a usage error naming the flag. */
export function backupDir(value: OptionValues[string], flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") throw new UsageError(`${flag} needs a folder, e.g. ${flag} /var/backups/vigil`);
  return value;
}

export const command: Command = {
  help: `
Copies the private database (--db) into DIR through SQLite's online backup API: a consistent
copy of the last committed state, safe to take while a run writes. The copy is written under a
temporary name, checked (PRAGMA integrity_check), flushed to disk and renamed to
DIR/vigil-<UTC time>-run<last finished run>.db, e.g. vigil-20261130T041500Z-run42.db, so a file
under such a name is always a complete backup. It is one self-contained file (no -wal or -shm),
ready to copy off the machine. Then only the newest --keep of vigil's backups in DIR are kept;
other files in DIR are left alone. Prints the backup's path.

With --then, runs a command with \`sh -c\` after the backup, to copy it off the machine; it sees
VIGIL_BACKUP_FILE (the new backup), VIGIL_BACKUP_DIR and VIGIL_DB, never SOCRATA_APP_TOKEN. When it
fails, vigil backup exits 1 (the backup itself is kept).

\`vigil run --backup DIR\` takes one after each successful ingest (and runs --backup-then after it);
\`vigil restore FILE\` puts one back.

Examples:
  vigil backup --to /var/backups/vigil
  vigil backup --to /var/backups/vigil --keep 30 --then 'rclone copy "$VIGIL_BACKUP_DIR" remote:vigil'`,
  options: {
    to: { type: "string", arg: "DIR", description: "folder to write the backup into (required)" },
    ...KEEP_OPTION,
    then: { type: "string", arg: "CMD", description: "shell command to run after the backup, e.g. an rclone copy off the machine" },
  },
  async run(ctx) {
    const to = backupDir(ctx.values.to, "--to");
    if (to === undefined) throw new UsageError("--to is required: the folder to write the backup into, e.g. --to /var/backups/vigil");
    const then = hookCommand(ctx.values.then, "--then");
    const result = await backup({ db: ctx.config.db, to, keep: parseKeep(ctx.values), now: ctx.now, log: ctx.log });
    ctx.stdout.write(result.path + "\n");
    if (then !== undefined) await runBackupHook(result, ctx.config.db, { ...ctx, command: then, flag: "--then" });
    return 0;
  },
};

/** A hook flag's command, or a usage error naming the flag. */
export function hookCommand(value: OptionValues[string], flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") throw new UsageError(`${flag} needs a command, e.g. ${flag} "rclone copy /var/backups/vigil remote:vigil"`);
  return value;
}
