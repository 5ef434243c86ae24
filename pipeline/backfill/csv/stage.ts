/**
 * Staged rows: a parsing worker writes a chunk's accepted rows into a small SQLite file of its own,
 * and the main thread copies them into `cases` with one INSERT ... SELECT. For a first load into a
 * fresh file only (fresh.ts), which may commit between chunks (a transaction cannot detach a
 * staged file, and SQLite attaches at most ten) because nobody reads it until it is complete.
 *
 * Why: binding a row's ~40 values from JavaScript was three quarters of an insert, and the insert
 * was the main thread's largest cost; the main thread writes the database while the workers parse,
 * so its time is the load's. Here the workers bind the values, beside the main thread, and the main
 * thread's copy runs inside SQLite. It also spares packing rows as JSON and unpacking them.
 *
 * A staged file holds the values exactly as bound (its columns have no type, so nothing is
 * converted there); `cases` converts them on the copy as it does a bound value.
 */
import { rmSync } from "node:fs";
import Database from "better-sqlite3";
import { ROW_COLUMNS } from "../../../schemas/case.ts";

/** Staged files are attached as schemas named this and a number. */
export const STAGE_SCHEMA = "stage";

/** The staged rows' table in the staged file attached as `schema`. */
export function stageTable(schema: string): string {
  return `${schema}.staged_rows`;
}

const CREATE = `CREATE TABLE staged_rows (${ROW_COLUMNS.join(", ")})`;
const INSERT = `INSERT INTO staged_rows VALUES (${ROW_COLUMNS.map(() => "?").join(", ")})`;

/** A new staged file at `path`, written a row at a time: no journal, no syncs. */
export class StageWriter {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(readonly path: string) {
    rmSync(path, { force: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = OFF");
    this.db.pragma("synchronous = OFF");
    this.db.exec(CREATE);
    this.insert = this.db.prepare(INSERT);
    this.db.exec("BEGIN");
  }

  /** One row: the values of ROW_COLUMNS. */
  add(values: unknown[]): void {
    // spread: measured a fifth less than binding from the array
    this.insert.run(...values);
  }

  /** Commits and closes: the file is complete. */
  close(): void {
    this.db.exec("COMMIT");
    this.db.close();
  }

  /** Closes, if open, and removes the file. */
  discard(): void {
    if (this.db.open) this.db.close();
    rmSync(this.path, { force: true });
  }
}

/** The staged rows as arrays of ROW_COLUMNS values, in the order they were staged. */
export function stagedRows(db: Database.Database, schema: string): unknown[][] {
  return db.prepare(`SELECT ${ROW_COLUMNS.join(", ")} FROM ${stageTable(schema)} ORDER BY rowid`).raw().all() as unknown[][];
}
