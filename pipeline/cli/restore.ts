/** `vigil restore FILE`: puts a backup in place of the private database. */
import { UsageError } from "../errors.ts";
import { restore } from "../ops/backup.ts";
import type { Command } from "./command.ts";

export const command: Command = {
  help: `
Replaces the private database (--db) with FILE, a backup written by \`vigil backup\`. FILE is
refused when it fails its integrity check (PRAGMA integrity_check) or holds a schema this
version of vigil does not know; the restore itself is refused while a run holds the write lock. The current database is kept as <db>.before-restore (a consistent copy,
its WAL included), then FILE is copied beside the database and renamed into place, so the
database is always either the old one or the backup. The next run carries on from the
restored state and catches up with the portal. Restart \`vigil serve\` afterwards; a restore
refuses while a reader keeps the old database's WAL busy.

Examples:
  vigil restore /var/backups/vigil/vigil-20261130T041500Z-run42.db
  vigil restore --db /var/lib/vigil/vigil.db backup.db && vigil run`,
  options: {},
  positionals: true,
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      throw new UsageError(ctx.positionals.length === 0 ? "restore needs the backup FILE, e.g. vigil restore /var/backups/vigil/vigil-20261130T041500Z-run42.db" : `unexpected argument "${ctx.positionals[1]}"`);
    }
    const file = ctx.positionals[0];
    const result = await restore({ db: ctx.config.db, file, log: ctx.log });
    const previous = result.previous ? `; the previous database is at ${result.previous}` : "";
    ctx.stdout.write(`restored ${ctx.config.db} from ${file} (run ${result.runId ?? "-"}, ${result.cases} cases)${previous}\n`);
  },
};
