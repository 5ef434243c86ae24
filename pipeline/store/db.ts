/**
 * Opening the database: WAL mode (datasette reads while a run writes), named migrations.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.ts";
import { VigilError } from "../errors.ts";

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

export function openDatabase(path: string, options: OpenOptions = {}): DB {
  if (!options.readonly && path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let db: DB;
  try {
    db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 10_000 });
  } catch (error) {
    throw new VigilError(`cannot open database ${path}: ${(error as Error).message}`, {
      cause: error,
      hint: options.readonly ? "run `vigil ingest` or `vigil backfill` first" : "check the --db path and its permissions",
    });
  }
  if (!options.readonly) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    migrate(db);
  }
  return db;
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
