/** `vigil ingest`: one sync of the dataset from the portal into the database, incremental unless it cannot be. */
import { LIMIT_OPTIONS, parseLimits, SOURCE_OPTIONS, type Command } from "./command.ts";
import { ingest, type IngestResult, type RunResult } from "../ingest/ingest.ts";

export const FULL_OPTION: Command["options"] = {
  full: { type: "boolean", description: "read every row, even when the view looks unchanged or an incremental read would do" },
};

export const command: Command = {
  help: `
Brings the database up to date with the dataset on the portal. First the view's metadata: when its
rowsUpdatedAt and columns are as the last run saw them, no row is fetched and the run is recorded as
"unchanged upstream" (which refreshes "last checked"). Otherwise it fetches the rows updated since the
newest :updated_at it has seen (less a day, for safety) and the list of every row's :id and case
number, which tells removals apart and proves the rest unchanged. It reads every row instead (pages of
50,000 ordered by :id) with --full, on the first run, when the last full read is over 7 days old,
and whenever the incremental read cannot be sure (columns changed, a case number listed twice, rows
it cannot account for); the run's \`sync\` and \`sync_reason\` say which and why.
Rows are validated and normalized, and the differences committed in one transaction: new cases,
field-level corrections, removals (kept as tombstones), rejected rows with their reasons. A run that
would reject an implausible share of rows, or that finds the source empty or truncated, changes
nothing but its own record in \`runs\`. An incremental run leaves exactly the database a full one would.

Examples:
  vigil ingest
  vigil ingest --full
  vigil ingest --db /srv/vigil/vigil.db
  SOCRATA_APP_TOKEN=... vigil ingest --dataset 3trz-enys`,
  options: {
    ...SOURCE_OPTIONS,
    ...LIMIT_OPTIONS,
    ...FULL_OPTION,
  },
  async run(ctx) {
    const result = await ingest({ config: ctx.config, log: ctx.log, now: ctx.now, signal: ctx.signal, limits: parseLimits(ctx.values), full: ctx.values.full === true });
    ctx.stdout.write(summaryLine(result) + "\n");
  },
};

/** The one line `vigil ingest` and `vigil backfill` print on success. */
export function summaryLine(result: RunResult | IngestResult): string {
  const c = result.counts;
  if ("sync" in result && result.sync === "unchanged") return `run ${result.runId}: unchanged upstream, no rows fetched`;
  const sync = "sync" in result ? ` (${result.sync})` : "";
  return `run ${result.runId}${sync}: ${c.fetched} fetched, ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.removed} removed, ${c.rejected} rejected`;
}
