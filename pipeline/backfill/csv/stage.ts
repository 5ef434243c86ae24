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
 * A staged file is made in memory and written in one piece; its columns have the types `cases`
 * declares (stageSetup), so that its values are stored as `cases` stores a bound value, and the copy
 * converts nothing.
 */
import { rmSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { CASE_FIELDS, ROW_COLUMNS, type Case } from "../../../schemas/case.ts";
import { InternalError } from "../../errors.ts";

/** Staged files are attached as schemas named this and a number. */
export const STAGE_SCHEMA = "stage";

/** The staged rows' table in the staged file attached as `schema`. */
export function stageTable(schema: string): string {
  return `${schema}.staged_rows`;
}

const INSERT = `INSERT INTO staged_rows VALUES (${ROW_COLUMNS.map(() => "?").join(", ")})`;

/**
 * A case's values in ROW_COLUMNS order, as JavaScript reading them from `c` (a Case),
 * `sourceRowId` and `sourceUpdatedAt`: its fields by constant names, then its provenance.
 */
export const ROW_VALUES = [...CASE_FIELDS.map((f) => `c[${JSON.stringify(f)}]`), "sourceRowId", "sourceUpdatedAt"].join(", ");
if (CASE_FIELDS.length + 2 !== ROW_COLUMNS.length) throw new InternalError("ROW_COLUMNS is not CASE_FIELDS and the two provenance columns");

/** Binds a case's values to the insert as arguments, with no array made for them. */
const bindCase = new Function("insert", "c", "sourceRowId", "sourceUpdatedAt", `insert.run(${ROW_VALUES});`) as (
  insert: Database.Statement,
  c: Case,
  sourceRowId: string | null,
  sourceUpdatedAt: string | null,
) => void;

/** Where staged files go, and the declared type of each of ROW_COLUMNS in `cases`. */
export interface StageSetup {
  /** A staged file's path is this followed by its chunk's sequence number. */
  prefix: string;
  /**
   * The types `cases` declares for ROW_COLUMNS: a staged file's columns have the same, so that
   * its values are stored as `cases` will store them (numbers come from JavaScript as REAL), and
   * the copy has nothing to convert.
   */
  types: string[];
}

/** The StageSetup of a load into `db`. */
export function stageSetup(db: Database.Database, prefix: string): StageSetup {
  const declared = new Map((db.prepare("SELECT name, type FROM pragma_table_info('cases')").all() as Array<{ name: string; type: string }>).map((c) => [c.name, c.type]));
  const types = ROW_COLUMNS.map((column) => declared.get(column));
  if (types.some((type) => type === undefined)) throw new InternalError(`cases has no column ${ROW_COLUMNS[types.indexOf(undefined)]}`);
  return { prefix, types: types as string[] };
}

/** A chunk's staged file, made in memory a row at a time and written in one piece by close(). */
export class StageWriter {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  readonly path: string;

  constructor(setup: StageSetup, seq: number) {
    this.path = `${setup.prefix}${seq}`;
    this.db = new Database(":memory:");
    this.db.exec(`CREATE TABLE staged_rows (${ROW_COLUMNS.map((column, i) => `${column} ${setup.types[i]}`).join(", ")})`);
    this.insert = this.db.prepare(INSERT);
    this.db.exec("BEGIN");
  }

  /** One accepted case and its provenance. */
  add(c: Case, sourceRowId: string | null, sourceUpdatedAt: string | null): void {
    bindCase(this.insert, c, sourceRowId, sourceUpdatedAt);
  }

  /** Commits and writes the file, complete. */
  close(): void {
    this.db.exec("COMMIT");
    writeFileSync(this.path, this.db.serialize());
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
