/**
 * Run records and the single-writer lock. The lock is an exclusive transaction on a small side
 * file (`<db>.lock`): the operating system drops it when the process dies, so a killed run never
 * leaves a stale lock behind.
 */
import Database from "better-sqlite3";
import type { DB } from "./db.ts";
import { RunInProgressError } from "./errors.ts";
import { VERSION } from "./version.ts";

export type RunKind = "ingest" | "backfill";

export interface RunCounts {
  fetched: number;
  inserted: number;
  updated: number;
  unchanged: number;
  removed: number;
  restored: number;
  rejected: number;
}

export interface Drift {
  unknown: string[];
  missing: string[];
}

export interface RunRow extends Partial<RunCounts> {
  id: number;
  kind: RunKind;
  status: "running" | "success" | "failed" | "abandoned";
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  portal: string | null;
  dataset: string | null;
  source_file: string | null;
  source_rows_updated_at: string | null;
  unknown_columns: string | null;
  missing_columns: string | null;
  error: string | null;
  version: string;
}

export interface WriteLock {
  release(): void;
}

export function acquireWriteLock(dbPath: string, db: DB): WriteLock {
  if (dbPath === ":memory:") return { release() {} };
  const lock = new Database(`${dbPath}.lock`, { timeout: 0 });
  try {
    lock.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") {
      const running = db
        .prepare("SELECT id, kind, started_at, pid FROM runs WHERE status = 'running' ORDER BY id DESC LIMIT 1")
        .get() as { id: number; kind: string; started_at: string; pid: number } | undefined;
      const which = running ? ` (run ${running.id}, ${running.kind}, pid ${running.pid}, started ${running.started_at})` : "";
      throw new RunInProgressError(`another run is in progress on ${dbPath}${which}`, {
        hint: "wait for it to finish; only one run writes at a time",
      });
    }
    throw error;
  }
  return {
    release() {
      lock.exec("ROLLBACK");
      lock.close();
    },
  };
}

/** Marks runs left "running" by a process that died; call only while holding the write lock. */
export function abandonStaleRuns(db: DB, now: Date): number {
  return db
    .prepare("UPDATE runs SET status = 'abandoned', finished_at = ?, error = 'the process stopped before the run finished; nothing of it was committed' WHERE status = 'running'")
    .run(now.toISOString()).changes;
}

export function startRun(db: DB, run: { kind: RunKind; portal?: string; dataset?: string; sourceFile?: string; now: Date }): number {
  const result = db
    .prepare("INSERT INTO runs (kind, status, started_at, portal, dataset, source_file, version, pid) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)")
    .run(run.kind, run.now.toISOString(), run.portal ?? null, run.dataset ?? null, run.sourceFile ?? null, VERSION, process.pid);
  return Number(result.lastInsertRowid);
}

export function finishRun(
  db: DB,
  id: number,
  result: { counts: RunCounts; drift: Drift; sourceRowsUpdatedAt: string | null; now: Date; durationMs: number },
): void {
  const { counts, drift } = result;
  db.prepare(
    `UPDATE runs SET status = 'success', finished_at = ?, duration_ms = ?, source_rows_updated_at = ?,
       fetched = ?, inserted = ?, updated = ?, unchanged = ?, removed = ?, restored = ?, rejected = ?,
       unknown_columns = ?, missing_columns = ?
     WHERE id = ?`,
  ).run(
    result.now.toISOString(),
    result.durationMs,
    result.sourceRowsUpdatedAt,
    counts.fetched,
    counts.inserted,
    counts.updated,
    counts.unchanged,
    counts.removed,
    counts.restored,
    counts.rejected,
    JSON.stringify(drift.unknown),
    JSON.stringify(drift.missing),
    id,
  );
}

export function failRun(db: DB, id: number, error: string, now: Date, durationMs: number, partial?: Partial<RunCounts> & { drift?: Drift }): void {
  db.prepare(
    `UPDATE runs SET status = 'failed', finished_at = ?, duration_ms = ?, error = ?, fetched = ?, rejected = ?,
       unknown_columns = ?, missing_columns = ?
     WHERE id = ?`,
  ).run(
    now.toISOString(),
    durationMs,
    error,
    partial?.fetched ?? null,
    partial?.rejected ?? null,
    partial?.drift ? JSON.stringify(partial.drift.unknown) : null,
    partial?.drift ? JSON.stringify(partial.drift.missing) : null,
    id,
  );
}

export function recentRuns(db: DB, limit: number): RunRow[] {
  return db.prepare("SELECT * FROM runs ORDER BY id DESC LIMIT ?").all(limit) as RunRow[];
}
