/** The checks of a backfill's options and of what it loaded, on their way to refusing the run. */
import { removalScopeFor, type CaseWriter } from "../store/case-writer.ts";
import { checkRejectShare, checkRemovalShare, type Limits } from "../store/limits.ts";
import type { RunCounts } from "../store/run-records.ts";
import { UsageError } from "../errors.ts";

/** The reject-share refusal over the rows in range so far. */
export function checkShare(counts: RunCounts, outside: number, firstReject: () => string | undefined, limits: Limits): void {
  if (counts.rejected > 0) checkRejectShare(counts.fetched - outside, counts.rejected, firstReject, limits);
}

export function markRemovals(writer: CaseWriter, dataset: string, limits: Limits): number {
  const scope = removalScopeFor(dataset);
  checkRemovalShare(writer.countUnseen(scope), limits, "the export", "no case was marked removed");
  return writer.markRemoved(scope);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function checkDates(since: string | undefined, until: string | undefined): void {
  for (const [flag, value] of [["--since", since], ["--until", until]] as const) {
    if (value === undefined) continue;
    const date = new Date(`${value}T00:00:00Z`);
    if (!DATE.test(value) || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
      throw new UsageError(`${flag} must be a date like 2020-03-16 (YYYY-MM-DD, Chicago time), got "${value}"`);
    }
  }
  if (since !== undefined && until !== undefined && since > until) throw new UsageError(`--since ${since} is after --until ${until}`);
}
