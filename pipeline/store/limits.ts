/**
 * The refusals every run shares, ingest and backfill alike: a run that would reject an implausible
 * share of rows (the source changed format), or tombstone an implausible share of cases (the source
 * is truncated), fails instead of loading.
 */
import { RunRefusedError } from "../errors.ts";

export interface Limits {
  /** Largest share of rejected rows a run accepts before it assumes the format changed. */
  maxRejectShare: number;
  /** Largest share of published cases a run may tombstone at once. */
  maxRemovedShare: number;
}

export const DEFAULT_LIMITS: Limits = { maxRejectShare: 0.1, maxRemovedShare: 0.5 };

/** Rejects below this many never trip the share check, so a tiny source with one bad row still loads. */
const REJECT_FLOOR = 5;

/**
 * Refuses a run whose rows all failed validation, or more than `maxRejectShare` of them (beyond a
 * few). `considered` counts the rows that were validated; `firstReason` words the first reject.
 */
export function checkRejectShare(considered: number, rejected: number, firstReason: () => string | undefined, limits: Limits): void {
  const share = considered === 0 ? 0 : rejected / considered;
  const valid = considered - rejected;
  if ((considered > 0 && valid === 0) || (rejected > REJECT_FLOOR && share > limits.maxRejectShare)) {
    throw new RunRefusedError(
      `${rejected} of ${considered} rows failed validation (over ${Math.round(limits.maxRejectShare * 100)}%); first: ${firstReason() ?? "unknown"}`,
      { hint: "the source's format may have changed; nothing was loaded" },
    );
  }
}

/**
 * Refuses to tombstone more than `maxRemovedShare` of the active cases at once. `source` names what
 * was read ("the portal", "the export"); `kept` says what the refusal leaves as it was.
 */
export function checkRemovalShare(
  { unseen, active }: { unseen: number; active: number },
  limits: Limits,
  source: string,
  kept: string,
): void {
  if (unseen > 0 && unseen > active * limits.maxRemovedShare) {
    throw new RunRefusedError(`${source} no longer lists ${unseen} of ${active} cases (over ${limits.maxRemovedShare * 100}%)`, {
      hint: `${source} looks truncated; ${kept} (raise --max-removed-share if the removals are real)`,
    });
  }
}
