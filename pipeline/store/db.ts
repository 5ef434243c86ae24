/**
 * Opening the database: WAL mode (datasette reads while a run writes), named migrations. Commands
 * that only read open it read-only; a writer in a folder it cannot write says so.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.ts";
import { describeCause, RunInProgressError, VigilError } from "../errors.ts";

export type DB = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** Milliseconds to wait for a lock held by a reader checkpointing, before failing. */
  busyTimeoutMs?: number;
}

/** Fails with the one message every command gives when the database is not there yet. */
export function requireDatabase(path: string): void {
  if (path === ":memory:" || !existsSync(path)) {
    throw new VigilError(`no database at ${path}`, { hint: "run `vigil ingest` or `vigil backfill` first, or pass --db" });
  }
}

/** `PRAGMA integrity_check` of an open database: null when it is sound, else what SQLite found. */
export function integrityProblem(db: DB): string | null {
  const result = String(db.pragma("integrity_check", { simple: true }));
  return result === "ok" ? null : result;
}

/** The files SQLite creates beside a database in WAL mode, and vigil's write lock. */
const SIDE_FILES = ["-wal", "-shm", "-journal", ".lock"] as const;

export function openDatabase(path: string, options: OpenOptions = {}): DB {
  return options.readonly ? openReader(path, options) : openWriter(path, options);
}

function openWriter(path: string, options: OpenOptions): DB {
  let db: DB | undefined;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    // SQLite opens a file it may not write read-only without a word: the run's first write would fail
    if (path !== ":memory:" && !fileWritable(path)) throw Object.assign(new Error("the file is read-only"), { code: "SQLITE_READONLY" });
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    db.pragma("journal_mode = WAL");
  } catch (error) {
    db?.close();
    if (path !== ":memory:" && !folderWritable(dirname(path))) {
      const name = basename(path);
      throw new VigilError(
        `cannot write the database ${path}: its folder ${dirname(path)} is read-only, and SQLite needs to create files beside the database (${name}-wal, ${name}-shm, ${name}.lock)`,
        { cause: error, hint: "make the folder writable, or pass --db with a path in a folder vigil can write" },
      );
    }
    if (String((error as { code?: unknown }).code).startsWith("SQLITE_READONLY")) {
      throw new VigilError(`cannot write the database ${path}: the file is read-only`, { cause: error, hint: `make it writable (chmod u+w ${path}), or pass --db with another path` });
    }
    throw new VigilError(`cannot open database ${path}: ${describeCause(error)}`, { cause: error, hint: "check the --db path and its permissions" });
  }
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}

/**
 * A reader changes nothing, so it never needs to write the folder: when SQLite cannot read a WAL
 * database in place (it must create the -shm file beside it, and the folder is read-only), the
 * file alone is the whole database (no -wal beside it), and it is read from a copy.
 */
function openReader(path: string, options: OpenOptions): DB {
  let db: DB | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: options.busyTimeoutMs ?? 10_000 });
    // SQLite opens lazily: the first read is where a WAL database needs its -shm file.
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch (error) {
    db?.close();
    if (!existsSync(path) || !isCannotOpen(error) || folderWritable(dirname(path))) {
      throw new VigilError(`cannot open database ${path}: ${describeCause(error)}`, { cause: error, hint: "run `vigil ingest` or `vigil backfill` first" });
    }
    const copy = readableCopy(path);
    try {
      return new Database(copy.path, { readonly: true, fileMustExist: true });
    } finally {
      // the open file stays readable after it is unlinked, and nothing is left behind
      copy.release();
    }
  }
}

/**
 * A path SQLite can read the database at: `path` itself when its folder is writable or the
 * database is not in WAL mode, otherwise a private copy in rollback mode (release() removes it).
 * For readers that attach the database by path (`vigil publish`).
 */
export function readablePath(path: string): { path: string; release(): void } {
  if (folderWritable(dirname(path)) || !inWalMode(path)) return { path, release() {} };
  return readableCopy(path);
}

/** Bytes 18 and 19 of a database's header say WAL (2) or rollback (1). */
function inWalMode(path: string): boolean {
  const header = Buffer.alloc(20);
  const fd = openSync(path, "r");
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return header[18] === 2 || header[19] === 2;
}

function readableCopy(path: string): { path: string; release(): void } {
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) {
    throw new VigilError(
      `cannot read the database ${path}: its folder ${dirname(path)} is read-only, so SQLite cannot create ${basename(path)}-shm to read it, and ${basename(wal)} holds writes not yet in the database file`,
      { hint: "make the folder writable, or copy the database with its -wal file to a folder vigil can write and pass --db" },
    );
  }
  const bytes = readFileSync(path);
  // the header's journal mode set to rollback: a rollback-mode copy needs no -shm
  bytes[18] = 1;
  bytes[19] = 1;
  const dir = mkdtempSync(join(tmpdir(), "vigil-read-"));
  const copy = join(dir, basename(path));
  writeFileSync(copy, bytes);
  return { path: copy, release: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether `path` may be written, or does not exist yet (access() knows root, immutable files and read-only mounts). */
function fileWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
    if (["EACCES", "EPERM", "EROFS"].includes(String((error as NodeJS.ErrnoException).code))) return false;
    throw error;
  }
}

function isCannotOpen(error: unknown): boolean {
  return /^SQLITE_(CANTOPEN|READONLY)/.test(String((error as { code?: unknown }).code));
}

/** Whether a file can be created in `dir` (permission bits alone do not say: root, read-only mounts, immutable folders). */
function folderWritable(dir: string): boolean {
  const probe = join(dir, `.vigil-probe-${process.pid}`);
  let fd: number;
  try {
    fd = openSync(probe, "wx");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return false;
    // a missing folder is not a read-only one: the open's own error says what is wrong
    if (code === "ENOENT" || code === "ENOTDIR") return true;
    throw error;
  }
  closeSync(fd);
  unlinkSync(probe);
  return true;
}

/**
 * Runs a writer's `work` (an ingest, a backfill) on the database at `path`. When `work` created
 * the file and fails leaving nothing worth keeping (no successful run, no case, no checkpoint to
 * resume from), the files it created are removed: a wrong --portal leaves no empty database
 * behind that later commands would take for a real one.
 */
export async function removeIfFirstRunFails<T>(path: string, work: () => Promise<T>): Promise<T> {
  if (path === ":memory:" || existsSync(path)) return work();
  const folderExisted = existsSync(dirname(path));
  try {
    return await work();
  } catch (error) {
    if (!existsSync(path)) {
      // a first load into a fresh file (backfill) that failed left no database: nor its lock (unless
      // another run holds it), nor the folder made for it
      if (!(error instanceof RunInProgressError)) rmSync(`${path}.lock`, { force: true });
      if (!folderExisted && existsSync(dirname(path))) removeIfEmpty(dirname(path));
    } else if (holdsNothing(path)) {
      for (const file of [path, ...SIDE_FILES.map((suffix) => path + suffix)]) rmSync(file, { force: true });
      if (!folderExisted) removeIfEmpty(dirname(path));
    }
    throw error;
  }
}

function holdsNothing(path: string): boolean {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
    const holds = (table: string, where = "") => tables.has(table) && db.prepare(`SELECT 1 FROM ${table} ${where} LIMIT 1`).get() !== undefined;
    return !holds("runs", "WHERE status = 'success'") && !holds("cases") && !holds("backfill_checkpoints");
  } finally {
    db.close();
  }
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (error) {
    // something else was put there meanwhile: it stays
    if ((error as NodeJS.ErrnoException).code !== "ENOTEMPTY" && (error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

export function migrate(db: DB): string[] {
  db.exec("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  const record = db.prepare("INSERT INTO migrations (name, applied_at) VALUES (?, ?)");
  // Read what is applied inside the write transaction: two processes opening a new database at
  // once must not both apply the same migration.
  return db
    .transaction(() => {
      const applied = new Set(db.prepare("SELECT name FROM migrations").pluck().all() as string[]);
      const pending = MIGRATIONS.filter((m) => !applied.has(m.name));
      for (const migration of pending) {
        db.exec(migration.sql);
        migration.fill?.(db);
        record.run(migration.name, new Date().toISOString());
      }
      return pending.map((m) => m.name);
    })
    .immediate();
}

/** Migrations not yet applied to `db` (read-only: applying them is a writer's job). */
export function pendingMigrations(db: DB): string[] {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").get() !== undefined;
  const applied = new Set(hasTable ? (db.prepare("SELECT name FROM migrations").pluck().all() as string[]) : []);
  return MIGRATIONS.filter((m) => !applied.has(m.name)).map((m) => m.name);
}
