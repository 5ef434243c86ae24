/**
 * Backups of the private database (`vigil backup`, `vigil run --backup`) and their restore
 * (`vigil restore`). A backup goes through SQLite's online backup API, so it is a consistent
 * copy even while a run writes; it is written to a temporary name, checked
 * (`PRAGMA integrity_check`), flushed to disk and only then renamed to its final name, so a file
 * under a backup's name is always complete. A restore checks the file the same way and refuses
 * one whose schema this version of vigil does not know, keeps the current database beside it
 * and renames the backup into place while holding the write lock.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import { VigilError } from "../errors.ts";
import { removeLeftovers } from "../leftovers.ts";
import { elapsed, type Logger } from "../log.ts";
import { renameIntoPlace } from "../atomic.ts";
import { integrityProblem, openDatabase, requireDatabase } from "../store/db.ts";
import { runShell, type ShellHook } from "./children.ts";
import { acquireWriteLock, type WriteLock } from "../store/lock.ts";
import { MIGRATIONS } from "../store/migrations.ts";

/** A backup's final name: the UTC time it was taken and the last finished run it holds. */
export const BACKUP_NAME = /^vigil-\d{8}T\d{6}Z-run\d+\.db$/;
export const DEFAULT_KEEP = 7;
const TEMP_PREFIX = ".vigil-backup-";
/** Pages copied per step of the online backup; a write by another connection restarts the copy. */
const PAGES_PER_STEP = 1000;

export interface BackupOptions {
  /** The private database. */
  db: string;
  /** Folder of the backups. */
  to: string;
  /** How many of vigil's backups to keep in `to`, the new one included. */
  keep: number;
  now: () => Date;
  log: Logger;
}

export interface BackupResult {
  /** Path of the new backup. */
  path: string;
  file: string;
  bytes: number;
  /** The last finished run the backup holds (null when it holds none). */
  runId: number | null;
  /** Older backups removed by rotation. */
  pruned: string[];
}

/** What a hook run after a backup (`--then`, `--backup-then`) is told: the new file, its folder and the database. */
function backupHookEnv(taken: BackupResult, db: string): NodeJS.ProcessEnv {
  return { VIGIL_BACKUP_FILE: taken.path, VIGIL_BACKUP_DIR: dirname(taken.path), VIGIL_DB: db };
}

/** A backup's hook as the user gave it, and the flag that gave it (for the error). */
export type BackupHook = Omit<ShellHook, "extra" | "stage"> & { flag: string };

/**
 * Runs a backup's hook with `sh -c` after the backup `taken` of `db`: one that exits non-zero or
 * cannot start is an error that says the backup itself was taken (and kept).
 */
export async function runBackupHook(taken: BackupResult, db: string, hook: BackupHook): Promise<void> {
  const result = await runShell({ ...hook, extra: backupHookEnv(taken, db), stage: "backup" });
  if ("code" in result && result.code === 0) return;
  const why = "error" in result ? `could not start: ${result.error}` : `exited ${result.code}`;
  throw new VigilError(`${taken.file} was taken, but ${hook.flag} ${why}`);
}

export async function backup(options: BackupOptions): Promise<BackupResult> {
  const { db, to, log } = options;
  const started = performance.now();
  if (!Number.isInteger(options.keep) || options.keep < 1) throw new VigilError(`keep must be a whole number of at least 1, got ${options.keep}`);
  requireDatabase(db);
  mkdirSync(to, { recursive: true });
  removeLeftovers(to, new RegExp(`^${TEMP_PREFIX.replace(".", "\\.")}(\\d+)\\.db`));
  const stamp = options.now().toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
  const temp = join(to, `${TEMP_PREFIX}${process.pid}.db`);
  rmSync(temp, { force: true });
  let runId: number | null;
  try {
    await onlineCopy(db, temp);
    runId = checkCopy(temp).runId;
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  const file = `vigil-${stamp}-run${runId ?? 0}.db`;
  const path = join(to, file);
  renameIntoPlace(temp, path);
  const pruned = rotate(to, options.keep, file);
  const bytes = statSync(path).size;
  log.info("backup", `backed up ${db} to ${path}`, { run: runId ?? undefined, bytes, pruned: pruned.length, ms: elapsed(started) });
  return { path, file, bytes, runId, pruned };
}

export interface RestoreOptions {
  /** The private database to replace. */
  db: string;
  /** The backup to put in its place. */
  file: string;
  log: Logger;
}

export interface RestoreResult {
  /** Where the database that was replaced now is (null when there was none). */
  previous: string | null;
  runId: number | null;
  cases: number;
}

export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const { db, file, log } = options;
  const started = performance.now();
  if (!existsSync(file) || !statSync(file).isFile()) throw new VigilError(`no backup at ${file}`);
  if (db === ":memory:") throw new VigilError("cannot restore into an in-memory database", { hint: "pass --db PATH" });
  if (resolve(file) === resolve(db)) throw new VigilError(`${file} is the database itself`, { hint: "restore from a file written by `vigil backup`" });
  mkdirSync(dirname(resolve(db)), { recursive: true });
  // The copy is made beside the database, so the final rename stays on one file system.
  const temp = `${db}.restoring-${process.pid}`;
  rmSync(temp, { force: true });
  try {
    try {
      await onlineCopy(file, temp);
    } catch (error) {
      throw unsound(file, error);
    }
    const { runId, cases } = checkCopy(temp, file);
    const previous = existsSync(db) ? `${db}.before-restore` : null;
    const reader = lockReader(db);
    let lock: WriteLock;
    try {
      lock = acquireWriteLock(db, reader);
    } finally {
      reader.close();
    }
    try {
      if (previous !== null) await setAside(db, previous);
      renameIntoPlace(temp, db);
      // Back to WAL mode, with any migration newer than the backup applied, as a run would.
      openDatabase(db).close();
    } finally {
      lock.release();
    }
    log.info("restore", `restored ${db} from ${file}`, { run: runId ?? undefined, cases, ms: elapsed(started) });
    return { previous, runId, cases };
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Copies `source` to `dest` through the online backup API, as one consistent state. */
async function onlineCopy(source: string, dest: string): Promise<void> {
  const handle = new Database(source, { readonly: true, fileMustExist: true, timeout: 10_000 });
  try {
    await handle.backup(dest, { progress: () => PAGES_PER_STEP });
  } finally {
    handle.close();
  }
  // A self-contained file: no -wal or -shm to carry along when it is copied elsewhere.
  const copy = new Database(dest);
  try {
    copy.pragma("journal_mode = DELETE");
  } finally {
    copy.close();
  }
}

/**
 * The copy's integrity and schema. A vigil database records its migrations by name; they must be
 * the first of the ones this version knows, in order, or a run could not carry on from it.
 */
function checkCopy(path: string, shownAs = path): { runId: number | null; cases: number } {
  let handle: Database.Database | undefined;
  try {
    handle = new Database(path, { readonly: true, fileMustExist: true });
    const problem = integrityProblem(handle);
    if (problem !== null) throw refused(shownAs, `failed its integrity check: ${problem}`);
    const hasMigrations = handle.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").pluck().get();
    if (!hasMigrations) throw refused(shownAs, "is not a vigil database (it has no migrations table)");
    const applied = (handle.prepare("SELECT name FROM migrations").pluck().all() as string[]).sort();
    const known = MIGRATIONS.map((m) => m.name);
    if (applied.length > known.length || applied.some((name, i) => name !== known[i])) {
      throw refused(shownAs, `has a schema this version of vigil does not know (migrations ${applied.join(", ") || "none"})`, "restore it with the vigil version that wrote it, or a newer one");
    }
    const runId = handle.prepare("SELECT max(id) FROM runs WHERE status <> 'running'").pluck().get() as number | null;
    const cases = handle.prepare("SELECT count(*) FROM cases").pluck().get() as number;
    return { runId, cases };
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw unsound(shownAs, error);
  } finally {
    handle?.close();
  }
}

/** A backup refused: `why` completes the sentence that starts with its name. */
function refused(file: string, why: string, hint = "restore from another backup"): VigilError {
  return new VigilError(`${file} ${why}`, { hint });
}

/** SQLite could not read the file at all (not a database, a damaged header or page). */
function unsound(file: string, error: unknown): VigilError {
  return refused(file, `is not a sound SQLite database: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Keeps the current database as `previous`: a consistent copy made with the backup API (the WAL's
 * committed pages included), then the WAL checkpointed into the file and emptied, so no -wal of the
 * old database is left for SQLite to apply to the restored one.
 */
async function setAside(db: string, previous: string): Promise<void> {
  const temp = `${previous}.${process.pid}`;
  rmSync(temp, { force: true });
  try {
    await onlineCopy(db, temp);
    renameIntoPlace(temp, previous);
  } finally {
    rmSync(temp, { force: true });
  }
  const current = new Database(db, { fileMustExist: true, timeout: 10_000 });
  try {
    const [result] = current.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
    if (result?.busy) {
      throw new VigilError(`${db} is in use by another reader`, { hint: "stop `vigil serve` and anything else reading it, then restore again" });
    }
  } finally {
    current.close();
  }
  rmSync(`${db}-wal`, { force: true });
  rmSync(`${db}-shm`, { force: true });
}

/**
 * What the write lock reads when another run holds it, to name that run: the current database,
 * or, before there is one, an empty list of runs.
 */
function lockReader(db: string): Database.Database {
  if (existsSync(db)) {
    try {
      return new Database(db, { readonly: true, fileMustExist: true });
    } catch (error) {
      // a database SQLite cannot open is about to be replaced: fall through; anything else is real
      if (!String((error as { code?: unknown }).code).startsWith("SQLITE_")) throw error;
    }
  }
  const empty = new Database(":memory:");
  empty.exec("CREATE TABLE runs (id INTEGER, kind TEXT, started_at TEXT, pid INTEGER, status TEXT)");
  return empty;
}

/** Keeps the newest `keep` of vigil's backups (by the time in their names); other files stay. */
function rotate(dir: string, keep: number, current: string): string[] {
  const backups = readdirSync(dir)
    .filter((name) => BACKUP_NAME.test(name) && name !== current)
    .sort()
    .reverse();
  const old = backups.slice(keep - 1);
  for (const name of old) rmSync(join(dir, name), { force: true });
  return old;
}
