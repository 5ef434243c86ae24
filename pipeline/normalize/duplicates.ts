/** Which row stands for a case number that the source lists more than once. */

/** What decides between two rows of one case: the source's :updated_at and row id. */
export interface RowVersion {
  sourceUpdatedAt: string | null;
  sourceRowId: string | null;
}

/**
 * Whether `later` (listed after `earlier`) wins: the newer :updated_at, then the greater row id.
 * A bulk export has neither, but lists rows in row-id order, so there the later row wins.
 */
export function laterWins(later: RowVersion, earlier: RowVersion): boolean {
  const byTime = (later.sourceUpdatedAt ?? "").localeCompare(earlier.sourceUpdatedAt ?? "");
  if (byTime !== 0) return byTime > 0;
  const id = later.sourceRowId ?? "";
  const earlierId = earlier.sourceRowId ?? "";
  return id === "" && earlierId === "" ? true : id > earlierId;
}
