/**
 * `vigil status`: recent runs and freshness. With `--max-age HOURS` it exits 1 when the last
 * successful run is older, for monitors; `--json` prints the same for machines.
 */
import type { Command } from "./command.ts";
import { readStatusAt, type Status } from "../store/status.ts";
import { UsageError } from "../errors.ts";

export const command: Command = {
  help: `
Shows recent runs with their counts and durations, when the source was last checked and when the
data last changed. With --max-age it exits 1 when the last successful run is older than HOURS (or
there is none), so a monitor or a health check can call it.

Examples:
  vigil status
  vigil status --max-age 26
  vigil status --json`,
  options: {
    "max-age": { type: "string", arg: "HOURS", description: "exit 1 when the last successful run is older than this" },
    json: { type: "boolean", description: "print the status as JSON" },
    limit: { type: "string", arg: "N", description: "how many recent runs to show (default 10)" },
  },
  async run(ctx) {
    const maxAge = ctx.values["max-age"] === undefined ? undefined : Number(ctx.values["max-age"]);
    if (maxAge !== undefined && !(maxAge > 0)) throw new UsageError(`--max-age must be a positive number of hours, got "${String(ctx.values["max-age"])}"`);
    const limit = ctx.values.limit === undefined ? 10 : Number(ctx.values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number`);
    const status = readStatusAt(ctx.config.db, ctx.now(), limit);
    const stale = maxAge !== undefined && (status.age_hours === null || status.age_hours > maxAge);
    ctx.stdout.write(ctx.values.json ? JSON.stringify({ ...status, stale }, null, 2) + "\n" : formatStatus(status));
    if (stale) {
      ctx.stderr.write(
        status.last_checked === null
          ? `vigil status: no successful run yet\n`
          : `vigil status: last successful run finished ${status.age_hours} h ago, more than --max-age ${maxAge}\n`,
      );
      return 1;
    }
    return 0;
  },
};

function formatStatus(status: Status): string {
  const lines = [
    `database        ${status.database}`,
    `covid deaths    ${status.covid_deaths.toLocaleString("en-US")} (${status.cases.toLocaleString("en-US")} cases stored, ${status.removed} removed upstream)`,
    `last checked    ${status.last_checked ?? "never"}${status.age_hours === null ? "" : ` (${status.age_hours} h ago)`}`,
    `data changed    ${status.data_last_changed ?? "never"}`,
    `source updated  ${status.source_rows_updated_at ?? "unknown"}`,
    "",
    "run  kind      status     sync         started               secs  fetched  new  changed  removed  rejected",
  ];
  for (const run of status.runs) {
    const secs = run.duration_ms === null ? "" : (run.duration_ms / 1000).toFixed(1);
    lines.push(
      [
        String(run.id).padStart(3),
        run.kind.padEnd(8),
        run.status.padEnd(9),
        (run.sync ?? "").padEnd(11),
        run.started_at.slice(0, 19).padEnd(20),
        secs.padStart(5),
        String(run.fetched ?? "").padStart(8),
        String(run.inserted ?? "").padStart(4),
        String(run.updated ?? "").padStart(8),
        String(run.removed ?? "").padStart(8),
        String(run.rejected ?? "").padStart(9),
      ].join("  ") + (run.error ? `\n     ${run.error}` : ""),
    );
  }
  return lines.join("\n") + "\n";
}
