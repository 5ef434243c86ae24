/**
 * The database side of a backfill: parsed chunks applied through CaseWriter in source order, in
 * transactions of many rows that each end with a checkpoint.
 *
 * Per-row statements are what a bulk load pays for, so two kinds are made set-wise per
 * transaction: the "added" revisions of new cases (CaseWriter's deferAdded), and full-text search.
 * The insert trigger on `cases` indexes one row at a time, which costs more than the rest of an
 * insert together: inside each transaction the trigger is dropped, the new rows are indexed with
 * one INSERT ... SELECT, and the trigger is put back before the commit. Readers never see the
 * difference, and a killed run rolls all of it back together.
 *
 * A first load into a fresh file takes most of its rows from staged files the parsing workers wrote
 * (csv/stage.ts), each copied into `cases` with one INSERT ... SELECT: see attach().
 */
import { rmSync } from "node:fs";
import { CASE_FIELDS, type Case } from "../../schemas/case.ts";
import type { Chunk } from "./csv/chunks.ts";
import { parseRecords } from "./csv/records.ts";
import { recordToRaw, type CsvLayout } from "./csv/rows.ts";
import type { ChunkResult, RejectedRecord } from "./csv/worker.ts";
import type { DB } from "../store/db.ts";
import { laterWins } from "../normalize/duplicates.ts";
import { duplicateCase } from "../normalize/reasons.ts";
import type { Normalized } from "../normalize/row.ts";
import type { CaseWriter } from "../store/case-writer.ts";
import type { LoadProfile, MainPhase } from "./profile.ts";
import { STAGE_SCHEMA, stagedRows, stageTable } from "./csv/stage.ts";

/** Staged files attached at once: SQLite's limit (SQLITE_MAX_ATTACHED, ten as better-sqlite3 builds it). */
const STAGE_SLOTS = 10;

const FTS_TRIGGER = "cases_fts_insert";
const TEMPLATE = Object.fromEntries(CASE_FIELDS.map((f) => [f, null])) as unknown as Case;

export class BulkLoad {
  private open = false;
  /**
   * Rows applied since the last commit(): their revisions and index entries are still to write, and
   * the full-text trigger is dropped. One transaction, except in a fresh file (see attach).
   */
  private batch = false;
  /** The staged files attached (stage.ts), each as the schema STAGE_SCHEMA followed by its position here. */
  private readonly attached: string[] = [];
  /** The largest rowid of `cases` when the batch began or was last flushed: rows above it are new. */
  private rowidBefore = 0;
  private readonly triggerSql: string | undefined;
  private readonly indexNew: ReturnType<DB["prepare"]> | undefined;
  /** Finds a row when any of a JSON array of case numbers is stored. */
  private readonly anyStored: ReturnType<DB["prepare"]>;
  /** Rows applied since the last commit. */
  pending = 0;

  constructor(
    private readonly db: DB,
    private readonly writer: CaseWriter,
    private readonly layout: CsvLayout,
    /** How rejects name where a row came from, e.g. "export.csv". */
    private readonly sourceLabel: string,
    /** Times each phase when given (a profiled run, see profile.ts). */
    private readonly profile?: LoadProfile,
  ) {
    this.anyStored = db.prepare("SELECT 1 FROM json_each(?) AS k JOIN cases ON cases.casenumber = k.value LIMIT 1");
    this.triggerSql = (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?").pluck().get(FTS_TRIGGER) as string | undefined) ?? undefined;
    if (this.triggerSql) {
      const columns = (db.prepare("SELECT name FROM pragma_table_info('cases_fts')").pluck().all() as string[]).join(", ");
      this.indexNew = db.prepare(`INSERT INTO cases_fts (rowid, ${columns}) SELECT rowid, ${columns} FROM cases WHERE rowid > ?`);
    }
  }

  /**
   * Applies one parsed chunk: accepted rows and rejects interleaved as they were in the source.
   * A chunk of new cases (none stored, none twice: the common case of a bulk load) is inserted as
   * it came, with one look-up for all its case numbers instead of one per row.
   */
  apply(chunk: Chunk, result: ChunkResult): void {
    const stage = result.stage === undefined ? undefined : this.attach(result.stage);
    this.begin();
    if (this.profile) return this.applyTimed(chunk, result, stage, this.profile);
    if (result.distinct && this.anyStored.get(result.keys) === undefined) {
      if (stage !== undefined) this.writer.insertStaged(stageTable(stage));
      else for (const row of rowsOf(result)) this.writer.insertNew(row);
      for (const record of result.rejects) this.reject(record);
      this.pending += result.records;
      return;
    }
    this.applyRows(chunk, result, stage !== undefined ? stagedRows(this.db, stage) : rowsOf(result));
  }

  /** apply(), each phase timed. */
  private applyTimed(chunk: Chunk, result: ChunkResult, stage: string | undefined, profile: LoadProfile): void {
    if (result.times) profile.addParse(result.times, result.here === true);
    profile.rows += result.records;
    const rows = stage !== undefined ? [] : profile.time("unpack", () => rowsOf(result));
    if (result.distinct && profile.time("lookup", () => this.anyStored.get(result.keys)) === undefined) {
      profile.time("insert", () => {
        if (stage !== undefined) this.writer.insertStaged(stageTable(stage));
        else for (const row of rows) this.writer.insertNew(row);
      });
      profile.time("rejects", () => {
        for (const record of result.rejects) this.reject(record);
      });
      this.pending += result.records;
      return;
    }
    profile.time("insert", () => this.applyRows(chunk, result, stage !== undefined ? stagedRows(this.db, stage) : rows));
  }

  /** Rows one at a time, for a chunk with a case number stored already or given twice. */
  private applyRows(chunk: Chunk, result: ChunkResult, rows: unknown[][]): void {
    const { positions, rejects } = result;
    let records: string[][] | undefined;
    let r = 0;
    for (let i = 0; i < rows.length; i++) {
      const index = positions[2 * i];
      const line = positions[2 * i + 1];
      while (r < rejects.length && rejects[r].index < index) this.reject(rejects[r++]);
      const row = unpack(rows[i]);
      const outcome = this.writer.applyFirst(row);
      if (outcome.applied) continue;
      const { stored } = outcome;
      if (laterWins(row, { sourceUpdatedAt: stored.source_updated_at, sourceRowId: stored.source_row_id })) {
        // the overwrite's full-text trigger must find this transaction's new rows indexed
        this.flush();
        this.writer.overwrite(row, stored);
        const earlier = Object.fromEntries(CASE_FIELDS.map((f) => [f, stored[f]]));
        this.reject({
          index,
          line,
          casenumber: row.case.casenumber,
          sourceRowId: stored.source_row_id,
          reasons: [duplicateCase(`the row at line ${line} replaced this earlier one`)],
          raw: JSON.stringify(earlier),
        }, false);
      } else {
        records ??= parseRecords(chunk.data);
        this.reject({
          index,
          line,
          casenumber: row.case.casenumber,
          sourceRowId: row.sourceRowId,
          reasons: [duplicateCase("an earlier, newer row was kept")],
          raw: JSON.stringify(recordToRaw(records[index], this.layout)),
        });
      }
    }
    while (r < rejects.length) this.reject(rejects[r++]);
    this.pending += result.records;
  }

  /** `located`: the record is the row at its line; otherwise a stored row the record displaced. */
  private reject(record: RejectedRecord, located = true): void {
    const { casenumber, sourceRowId } = record;
    const reasons = located ? record.reasons : record.reasons.map((r) => ({ ...r, message: `${r.message} (${this.sourceLabel})` }));
    const where = located ? `line ${record.line} of ${this.sourceLabel}` : undefined;
    this.writer.reject({ ok: false, casenumber, sourceRowId, reasons, where }, JSON.parse(record.raw));
  }

  begin(): void {
    if (this.open) return;
    this.db.exec("BEGIN IMMEDIATE");
    this.open = true;
    // a fresh file's commit to attach more staged files carries on the batch (see attach)
    if (this.batch) return;
    this.batch = true;
    this.rowidBefore = this.db.prepare("SELECT coalesce(max(rowid), 0) FROM cases").pluck().get() as number;
    if (this.triggerSql) this.db.exec(`DROP TRIGGER ${FTS_TRIGGER}`);
  }

  /**
   * Attaches a chunk's staged file (stage.ts); returns its schema. A transaction may attach files but
   * not detach them, and SQLite attaches at most ten: when STAGE_SLOTS are attached, the
   * transaction so far is committed with its revisions and index entries (so that what is left to
   * write at the end stays small) but without a checkpoint, and they are detached; the batch goes
   * on, its full-text trigger still dropped, until commit(). Staged files come only to a fresh file,
   * which nobody reads until it is complete (fresh.ts).
   */
  private attach(path: string): string {
    if (this.attached.length >= STAGE_SLOTS) {
      if (this.open) {
        this.flush();
        this.time("commit", () => this.db.exec("COMMIT"));
        this.open = false;
      }
      this.time("unpack", () => this.detach());
    }
    const schema = `${STAGE_SCHEMA}${this.attached.length}`;
    this.time("unpack", () => this.db.prepare(`ATTACH ? AS ${schema}`).run(path));
    this.attached.push(path);
    return schema;
  }

  /** Detaches the staged files attached, and removes them; outside a transaction. */
  private detach(): void {
    this.attached.forEach((path, i) => {
      this.db.exec(`DETACH ${STAGE_SCHEMA}${i}`);
      rmSync(path, { force: true });
    });
    this.attached.length = 0;
  }

  private time<T>(phase: MainPhase, fn: () => T): T {
    return this.profile ? this.profile.time(phase, fn) : fn();
  }

  /** Writes the "added" revisions and index entries of the rows inserted since the batch began or the last flush. */
  private flush(): void {
    const profile = this.profile;
    if (profile) profile.time("revisions", () => this.writer.writeAddedSince(this.rowidBefore));
    else this.writer.writeAddedSince(this.rowidBefore);
    if (profile) profile.time("fts", () => this.indexNew?.run(this.rowidBefore));
    else this.indexNew?.run(this.rowidBefore);
    this.rowidBefore = this.db.prepare("SELECT coalesce(max(rowid), 0) FROM cases").pluck().get() as number;
  }

  /** Writes the new rows' revisions and index entries, restores the trigger, runs `last` (the checkpoint) and commits. */
  commit(last: () => void): void {
    this.begin();
    this.flush();
    if (this.triggerSql) this.db.exec(this.triggerSql);
    if (this.profile) {
      this.profile.time("checkpoint", last);
      this.profile.time("commit", () => this.db.exec("COMMIT"));
    } else {
      last();
      this.db.exec("COMMIT");
    }
    this.open = false;
    this.batch = false;
    this.pending = 0;
    this.detach();
  }

  rollback(): void {
    if (this.open && this.db.inTransaction) this.db.exec("ROLLBACK");
    this.open = false;
    this.batch = false;
    this.pending = 0;
    if (this.db.open) this.detach();
  }
}

/** A chunk's accepted rows, packed by a worker or parsed here. */
function rowsOf(result: ChunkResult): unknown[][] {
  return typeof result.rows === "string" ? (JSON.parse(result.rows) as unknown[][]) : result.rows;
}

/** An accepted row (ROW_COLUMNS values, see csv/worker.ts) as the Normalized value CaseWriter takes. */
function unpack(values: unknown[]): Normalized {
  const c = { ...TEMPLATE } as Record<string, unknown>;
  for (let j = 0; j < CASE_FIELDS.length; j++) c[CASE_FIELDS[j]] = values[j];
  return {
    ok: true,
    case: c as Case,
    sourceRowId: values[CASE_FIELDS.length] as string | null,
    sourceUpdatedAt: values[CASE_FIELDS.length + 1] as string | null,
  };
}
