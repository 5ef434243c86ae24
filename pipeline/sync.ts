/**
 * Applying normalized cases to the database: the diff against what is stored, field-level
 * revisions, tombstones. Shared by `ingest` and `backfill`; the caller owns the transaction.
 * An unchanged case is not written at all.
 */
import { CASE_FIELDS, type Case } from "../schemas/case.ts";
import type { DB } from "./db.ts";
import type { Normalized, Rejected } from "./normalize.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import type { RunCounts } from "./runs.ts";

/** Which stored cases a full sync of a dataset speaks for, so only those can be tombstoned. */
export type RemovalScope = "all" | "covid";

/** The COVID view only lists COVID deaths; a sync of it must not tombstone archive cases of other causes. */
export function removalScopeFor(dataset: string): RemovalScope {
  return dataset === "3trz-enys" ? "covid" : "all";
}

type StoredCase = Case & { removed_run_id: number | null };

export interface CaseWriterOptions {
  /**
   * Table of the case numbers this run has seen (duplicates, tombstones). By default a temporary
   * table, emptied here; a run that resumes in another process (backfill) passes a table of its
   * own that outlives the connection, and empties it itself.
   */
  seenTable?: string;
}

const COLUMNS = [...CASE_FIELDS, "source_row_id", "source_updated_at"] as const;

export class CaseWriter {
  readonly counts: RunCounts = { fetched: 0, inserted: 0, updated: 0, unchanged: 0, removed: 0, restored: 0, rejected: 0 };
  private readonly select;
  private readonly insert;
  private readonly update;
  private readonly revision;
  private readonly rejectRow;
  private readonly markSeen;
  private readonly seenTable: string;
  /** Bound values of the row being written, in COLUMNS order (plus the key for an update), reused. */
  private readonly params: unknown[] = new Array(COLUMNS.length + 1).fill(null);

  constructor(
    private readonly db: DB,
    private readonly runId: number,
    options: CaseWriterOptions = {},
  ) {
    const columns = COLUMNS;
    this.select = db.prepare(`SELECT ${CASE_FIELDS.join(", ")}, removed_run_id FROM cases WHERE casenumber = ?`);
    this.insert = db.prepare(
      `INSERT INTO cases (${columns.join(", ")}, first_run_id, changed_run_id)
       VALUES (${columns.map(() => "?").join(", ")}, ${runId}, ${runId})`,
    );
    // positional parameters: binding ~40 named values per row was a third of a bulk load's time
    this.update = db.prepare(
      `UPDATE cases SET ${columns.map((c) => `${c} = ?`).join(", ")}, changed_run_id = ${runId}, removed_run_id = NULL
       WHERE casenumber = ?`,
    );
    this.revision = db.prepare(
      `INSERT INTO case_revisions (run_id, casenumber, change, field, old_value, new_value) VALUES (${runId}, ?, ?, ?, ?, ?)`,
    );
    this.rejectRow = db.prepare(`INSERT OR IGNORE INTO rejects (run_id, source_row_id, casenumber, reasons, raw) VALUES (${runId}, ?, ?, ?, ?)`);
    if (options.seenTable === undefined) {
      db.exec("CREATE TEMP TABLE IF NOT EXISTS seen (casenumber TEXT PRIMARY KEY) WITHOUT ROWID; DELETE FROM temp.seen;");
    }
    this.seenTable = options.seenTable ?? "temp.seen";
    this.markSeen = db.prepare(`INSERT OR IGNORE INTO ${this.seenTable} (casenumber) VALUES (?)`);
  }

  /** Inserts, updates or leaves alone one case. */
  apply(row: Normalized): void {
    this.markSeen.run(row.case.casenumber);
    this.write(row);
  }

  /**
   * Like apply, for a source read as a stream: a case number this run has already seen (a
   * duplicate row) is left alone and false returned, so the caller can reject the row.
   */
  applyFirst(row: Normalized): boolean {
    if (this.markSeen.run(row.case.casenumber).changes === 0) return false;
    this.write(row);
    return true;
  }

  private write(row: Normalized): void {
    const next = row.case;
    const stored = this.select.get(next.casenumber) as StoredCase | undefined;
    const values = this.params;
    for (let i = 0; i < CASE_FIELDS.length; i++) values[i] = next[CASE_FIELDS[i]];
    values[CASE_FIELDS.length] = row.sourceRowId;
    values[CASE_FIELDS.length + 1] = row.sourceUpdatedAt;
    values.length = COLUMNS.length;
    if (!stored) {
      this.insert.run(values);
      this.revision.run(next.casenumber, "added", null, null, null);
      this.counts.inserted++;
      return;
    }
    const changed = CASE_FIELDS.filter((field) => stored[field] !== next[field]);
    const restored = stored.removed_run_id !== null;
    if (changed.length === 0 && !restored) {
      this.counts.unchanged++;
      return;
    }
    values.push(next.casenumber);
    this.update.run(values);
    if (restored) {
      this.revision.run(next.casenumber, "restored", null, null, null);
      this.counts.restored++;
    }
    for (const field of changed) {
      this.revision.run(next.casenumber, "changed", field, text(stored[field]), text(next[field]));
    }
    if (changed.length > 0) this.counts.updated++;
  }

  reject(row: Rejected, raw: RawRow): void {
    this.rejectRow.run(row.sourceRowId, row.casenumber, row.reasons.join("; "), JSON.stringify(raw));
    this.counts.rejected++;
  }

  /** Cases in scope that this run did not see: how many a tombstone pass would mark. */
  countUnseen(scope: RemovalScope): { unseen: number; active: number } {
    const where = `removed_run_id IS NULL${scope === "covid" ? " AND is_covid = 1" : ""}`;
    const active = this.db.prepare(`SELECT count(*) FROM cases WHERE ${where}`).pluck().get() as number;
    const unseen = this.db
      .prepare(`SELECT count(*) FROM cases WHERE ${where} AND casenumber NOT IN (SELECT casenumber FROM ${this.seenTable})`)
      .pluck()
      .get() as number;
    return { unseen, active };
  }

  /** Tombstones cases in scope that this run did not see. Only for a full read of the dataset. */
  markRemoved(scope: RemovalScope): number {
    const where = `removed_run_id IS NULL${scope === "covid" ? " AND is_covid = 1" : ""} AND casenumber NOT IN (SELECT casenumber FROM ${this.seenTable})`;
    this.db.prepare(`INSERT INTO case_revisions (run_id, casenumber, change) SELECT ${this.runId}, casenumber, 'removed' FROM cases WHERE ${where}`).run();
    const removed = this.db.prepare(`UPDATE cases SET removed_run_id = ${this.runId} WHERE ${where}`).run().changes;
    this.counts.removed += removed;
    return removed;
  }
}

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
