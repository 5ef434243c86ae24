/**
 * Applying normalized cases to the database: the diff against what is stored, field-level
 * revisions, tombstones. Shared by `ingest` and `backfill`; the caller owns the transaction.
 * An unchanged case is not written at all.
 */
import { CASE_FIELDS, ROW_COLUMNS, type Case } from "../../schemas/case.ts";
import { DATASETS } from "../../schemas/config.ts";
import type { DB } from "./db.ts";
import { codesJson, reasonsText } from "../normalize/reasons.ts";
import type { Normalized, Rejected } from "../normalize/row.ts";
import type { RawRow } from "../../schemas/source-columns.ts";
import type { RunCounts } from "./run-records.ts";

/** Which stored cases a full sync of a dataset speaks for, so only those can be tombstoned. */
export type RemovalScope = "all" | "covid";

/** The COVID view only lists COVID deaths; a sync of it must not tombstone archive cases of other causes. */
export function removalScopeFor(dataset: string): RemovalScope {
  return dataset === DATASETS.covid ? "covid" : "all";
}

/** A case as stored, with the provenance a stream needs to settle duplicates. */
export type StoredCase = Case & {
  removed_run_id: number | null;
  first_run_id: number;
  changed_run_id: number;
  source_row_id: string | null;
  source_updated_at: string | null;
};

export interface CaseWriterOptions {
  /**
   * Table of the case numbers this run has seen (duplicates, tombstones). By default a temporary
   * table, emptied here; a run that resumes in another process (backfill) passes a table of its
   * own that outlives the connection, and empties it itself.
   */
  seenTable?: string;
  /**
   * Table of the case numbers whose row this run refused, kept until the tombstone pass. In memory
   * by default; a run that resumes in another process (backfill) passes a table that outlives it,
   * so that a case refused before a kill is still spared after the resume.
   */
  rejectedTable?: string;
  /**
   * For bulk loads: the "added" revisions of new cases are written by writeAddedSince() in one
   * statement per transaction, instead of one statement per case (a quarter of an insert's cost).
   */
  deferAdded?: boolean;
}

/** A case row's values as a bulk load hands them over: the case's fields, then its provenance. */
const CASENUMBER = ROW_COLUMNS.indexOf("casenumber");

export class CaseWriter {
  readonly counts: RunCounts = { fetched: 0, inserted: 0, updated: 0, unchanged: 0, removed: 0, restored: 0, rejected: 0 };
  private readonly select;
  private readonly insert;
  private readonly update;
  private readonly revision;
  private readonly rejectRow;
  private readonly markSeen;
  private readonly seenTable: string;
  private readonly rejectedCases = new Set<string>();
  private readonly rememberRejected: ReturnType<DB["prepare"]> | undefined;
  private readonly rejectedTable: string | undefined;
  private readonly deferAdded: boolean;
  /** The months an incremental sync listed (markListed), when it did not list every row. */
  private listedMonths: string[] | undefined;
  /** Bound values of the row being written, in ROW_COLUMNS order (plus the key for an update), reused. */
  private readonly params: unknown[] = new Array(ROW_COLUMNS.length + 1).fill(null);

  constructor(
    private readonly db: DB,
    private readonly runId: number,
    options: CaseWriterOptions = {},
  ) {
    const columns = ROW_COLUMNS;
    this.select = db.prepare(
      `SELECT ${CASE_FIELDS.join(", ")}, removed_run_id, first_run_id, changed_run_id, source_row_id, source_updated_at FROM cases WHERE casenumber = ?`,
    );
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
    this.rememberRejected = options.rejectedTable === undefined ? undefined : db.prepare(`INSERT OR IGNORE INTO ${options.rejectedTable} (casenumber) VALUES (?)`);
    this.rejectedTable = options.rejectedTable;
    this.rejectRow = db.prepare(`INSERT OR IGNORE INTO rejects (run_id, source_row_id, casenumber, reasons, codes, raw) VALUES (${runId}, ?, ?, ?, ?, ?)`);
    if (options.seenTable === undefined) {
      db.exec("CREATE TEMP TABLE IF NOT EXISTS seen (casenumber TEXT PRIMARY KEY) WITHOUT ROWID; DELETE FROM temp.seen;");
    }
    this.seenTable = options.seenTable ?? "temp.seen";
    this.markSeen = db.prepare(`INSERT OR IGNORE INTO ${this.seenTable} (casenumber) VALUES (?)`);
    this.deferAdded = options.deferAdded ?? false;
  }

  /** Inserts, updates or leaves alone one case. */
  apply(row: Normalized): void {
    this.markSeen.run(row.case.casenumber);
    this.write(row, this.select.get(row.case.casenumber) as StoredCase | undefined);
  }

  /**
   * Like apply, for a source read as a stream, where a case number may come again (a duplicate
   * row): then nothing is written and the case as it stands is returned, for the caller to keep
   * it (rejecting the row) or overwrite it. A case this run inserted is known by its
   * first_run_id, so only cases stored before the run are marked seen.
   */
  applyFirst(row: Normalized): { applied: true } | { applied: false; stored: StoredCase } {
    const casenumber = row.case.casenumber;
    const stored = this.select.get(casenumber) as StoredCase | undefined;
    if (stored && (stored.first_run_id === this.runId || this.markSeen.run(casenumber).changes === 0)) return { applied: false, stored };
    this.write(row, stored);
    return { applied: true };
  }

  /**
   * Writes a later duplicate over the row this run applied for the same case, so the case ends
   * as if only the later row had come, counted once: a case this run added is rewritten in place
   * (it is still simply "added"); a stored case the earlier row left unchanged is diffed afresh; one
   * it changed gets the further change as revisions.
   */
  overwrite(row: Normalized, stored: StoredCase): void {
    if (stored.first_run_id === this.runId) {
      this.bind(row);
      this.params.push(row.case.casenumber);
      this.update.run(this.params);
      return;
    }
    if (stored.changed_run_id !== this.runId) {
      this.counts.unchanged--;
      this.write(row, stored);
      return;
    }
    const counts = { ...this.counts };
    this.write(row, stored);
    Object.assign(this.counts, counts);
  }

  /**
   * Marks cases seen without a row to apply: those an incremental sync found listed upstream and
   * unchanged, so the tombstone pass spares them as a full read would. With `months` ("YYYY-MM"),
   * the list is all the source holds in those months of death and nothing is known of the others
   * (their counts agreed with the record's): the tombstone pass then looks only at the cases
   * stored in those months.
   */
  markListed(casenumbers: Iterable<string>, months?: ReadonlyArray<string | null>): void {
    for (const casenumber of casenumbers) this.markSeen.run(casenumber);
    if (months !== undefined) this.listedMonths = months.filter((month): month is string => month !== null);
  }

  /** The condition on cases that limits a tombstone pass to the months listed, if any were given. */
  private inListedMonths(): string {
    if (this.listedMonths === undefined) return "";
    if (this.listedMonths.length === 0) return " AND 0";
    return ` AND substr(death_date, 1, 7) IN (${this.listedMonths.map((month) => `'${month.replaceAll("'", "''")}'`).join(", ")})`;
  }

  /** The "added" revisions of the cases inserted after `rowid`, in the order they were inserted (deferAdded). */
  writeAddedSince(rowid: number): void {
    this.db
      // `+first_run_id`: the new rows are read by rowid from `rowid` on; left to itself, the planner
      // read every row of the run from the figures' index and sorted them, at each call
      .prepare(`INSERT INTO case_revisions (run_id, casenumber, change) SELECT ${this.runId}, casenumber, 'added' FROM cases WHERE rowid > ? AND +first_run_id = ${this.runId} ORDER BY rowid`)
      .run(rowid);
  }

  /**
   * Inserts a case that the caller knows is neither stored nor seen yet in this run (a bulk load
   * checks a chunk's case numbers at once): `values` in ROW_COLUMNS order, bound as they are.
   */
  insertNew(values: unknown[]): void {
    // spread: measured a fifth less than binding from the array
    this.insert.run(...values);
    if (!this.deferAdded) this.revision.run(values[CASENUMBER], "added", null, null, null);
    this.counts.inserted++;
  }

  /**
   * Inserts the rows of `table` (columns ROW_COLUMNS, a bulk load's staged rows: see
   * pipeline/backfill/csv/stage.ts) as new cases, in the order they were written there.
   */
  insertStaged(table: string): void {
    const columns = ROW_COLUMNS.join(", ");
    const { changes } = this.db
      .prepare(`INSERT INTO cases (${columns}, first_run_id, changed_run_id) SELECT ${columns}, ${this.runId}, ${this.runId} FROM ${table} ORDER BY rowid`)
      .run();
    if (!this.deferAdded) this.db.prepare(`INSERT INTO case_revisions (run_id, casenumber, change) SELECT ${this.runId}, casenumber, 'added' FROM ${table} ORDER BY rowid`).run();
    this.counts.inserted += changes;
  }

  /** Puts the row's values into `params`, in ROW_COLUMNS order. */
  private bind(row: Normalized): unknown[] {
    const next = row.case;
    const values = this.params;
    for (let i = 0; i < CASE_FIELDS.length; i++) values[i] = next[CASE_FIELDS[i]];
    values[CASE_FIELDS.length] = row.sourceRowId;
    values[CASE_FIELDS.length + 1] = row.sourceUpdatedAt;
    values.length = ROW_COLUMNS.length;
    return values;
  }

  private write(row: Normalized, stored: StoredCase | undefined): void {
    const next = row.case;
    const values = this.bind(row);
    if (!stored) {
      this.insert.run(values);
      if (!this.deferAdded) this.revision.run(next.casenumber, "added", null, null, null);
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
    this.rejectRow.run(row.sourceRowId, row.casenumber, reasonsText(row.reasons, row.where), codesJson(row.reasons), canonicalJson(raw));
    if (row.casenumber) {
      this.rejectedCases.add(row.casenumber);
      this.rememberRejected?.run(row.casenumber);
    }
    this.counts.rejected++;
  }

  /**
   * A case whose row failed validation is still listed by the source: it must not be tombstoned.
   * Marked seen only now, at the tombstone pass, so that a bad row never hides a good row of the
   * same case from the duplicate checks of a stream.
   */
  private markRejectedSeen(): void {
    for (const casenumber of this.rejectedCases) this.markSeen.run(casenumber);
    this.rejectedCases.clear();
    if (this.rejectedTable) this.db.exec(`INSERT OR IGNORE INTO ${this.seenTable} (casenumber) SELECT casenumber FROM ${this.rejectedTable}`);
  }

  /** Cases in scope (and in the listed months) that this run did not see: how many a tombstone pass would mark. */
  countUnseen(scope: RemovalScope): { unseen: number; active: number } {
    this.markRejectedSeen();
    const where = `removed_run_id IS NULL${scope === "covid" ? " AND is_covid = 1" : ""}`;
    const active = this.db.prepare(`SELECT count(*) FROM cases WHERE ${where}`).pluck().get() as number;
    const unseen = this.db
      .prepare(`SELECT count(*) FROM cases WHERE ${where}${this.inListedMonths()} AND first_run_id <> ${this.runId} AND casenumber NOT IN (SELECT casenumber FROM ${this.seenTable})`)
      .pluck()
      .get() as number;
    return { unseen, active };
  }

  /**
   * Tombstones cases in scope that this run did not see. Only for a full read of the dataset, or
   * the months an incremental one listed (markListed).
   */
  markRemoved(scope: RemovalScope): number {
    this.markRejectedSeen();
    const where = `removed_run_id IS NULL${scope === "covid" ? " AND is_covid = 1" : ""}${this.inListedMonths()} AND first_run_id <> ${this.runId} AND casenumber NOT IN (SELECT casenumber FROM ${this.seenTable})`;
    this.db.prepare(`INSERT INTO case_revisions (run_id, casenumber, change) SELECT ${this.runId}, casenumber, 'removed' FROM cases WHERE ${where}`).run();
    const removed = this.db.prepare(`UPDATE cases SET removed_run_id = ${this.runId} WHERE ${where}`).run().changes;
    this.counts.removed += removed;
    return removed;
  }
}

/**
 * JSON with keys in a fixed order: the portal varies key order between responses, and a row refused
 * again must match the one stored before (rejects keep one row per distinct raw row).
 */
function canonicalJson(raw: RawRow): string {
  return JSON.stringify(Object.fromEntries(Object.entries(raw).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}
