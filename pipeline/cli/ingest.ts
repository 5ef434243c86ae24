/** `vigil ingest`: one full sync of the dataset from the portal into the database. */
import { LIMIT_OPTIONS, parseLimits, SOURCE_OPTIONS, type Command } from "./command.ts";
import { ingest, type RunResult } from "../ingest/ingest.ts";

export const command: Command = {
  help: `
Fetches every row of the dataset (view metadata, then pages of 50,000 ordered by :id), validates and
normalizes them, and commits the differences in one transaction: new cases, field-level corrections,
removals (kept as tombstones), rejected rows with their reasons. A run that would reject an implausible
share of rows, or that finds the source empty or truncated, changes nothing but its own record in \`runs\`.

Examples:
  vigil ingest
  vigil ingest --db /srv/vigil/vigil.db
  SOCRATA_APP_TOKEN=... vigil ingest --dataset 3trz-enys`,
  options: {
    ...SOURCE_OPTIONS,
    ...LIMIT_OPTIONS,
  },
  async run(ctx) {
    const result = await ingest({ config: ctx.config, log: ctx.log, now: ctx.now, signal: ctx.signal, limits: parseLimits(ctx.values) });
    ctx.stdout.write(summaryLine(result) + "\n");
  },
};

/** The one line `vigil ingest` and `vigil backfill` print on success. */
export function summaryLine(result: RunResult): string {
  const c = result.counts;
  return `run ${result.runId}: ${c.fetched} fetched, ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.removed} removed, ${c.rejected} rejected`;
}
