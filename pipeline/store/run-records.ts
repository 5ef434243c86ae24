/**
 * Run records: one row per ingest or backfill, with its counts, drift and outcome, and the queries
 * every reader of them shares (the last successful run, when the data last changed).
 */
import type { Drift } from "../../schemas/source-columns.ts";
import type { DB } from "./db.ts";
import { VERSION } from "../version.ts";
import { storeDailyDeaths } from "./figures.ts";
import { chicagoDate } from "../normalize/row.ts";

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
  /** How an ingest read the source (NULL for a backfill, and for runs of versions before it was kept). */
  sync: SyncState["sync"] | null;
  sync_reason: string | null;
}

/**
 * Marks runs left "running" by a process that died; call only while holding the write lock. An
 * ingest commits once, at its end, so nothing of it was committed; a backfill commits as it goes,
 * and what it committed before dying stays (`vigil backfill` resumes it when it can).
 */
export function abandonStaleRuns(db: DB, now: Date): number {
  return db
    .prepare(
      `UPDATE runs SET status = 'abandoned', finished_at = ?,
         error = CASE kind
           WHEN 'backfill' THEN 'the process stopped before the run finished; the rows it had committed are kept'
           ELSE 'the process stopped before the run finished; nothing of it was committed' END
       WHERE status = 'running'`,
    )
    .run(now.toISOString()).changes;
}

export function startRun(db: DB, run: { kind: RunKind; portal?: string; dataset?: string; sourceFile?: string; now: Date }): number {
  const result = db
    .prepare("INSERT INTO runs (kind, status, started_at, local_date, portal, dataset, source_file, version, pid) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)")
    .run(run.kind, run.now.toISOString(), chicagoDate(run.now), run.portal ?? null, run.dataset ?? null, run.sourceFile ?? null, VERSION, process.pid);
  return Number(result.lastInsertRowid);
}

/** How an ingest read the source, and what the next one needs to read only what changed since. */
export interface SyncState {
  sync: "full" | "incremental" | "unchanged";
  /** Why a full sync was needed, or why the run could stop early. */
  reason: string;
  /** The view's columns, as `columnsSignature` writes them. */
  columns: string;
  /** The newest `:updated_at` of the rows the record has read, or null when none carried one. */
  maxUpdatedAt: string | null;
}

/**
 * Whether a run changed the record (added, corrected, withdrew or restored a case): decided here
 * only, and stored as `runs.changed` when the run finishes; everything else reads the column.
 */
export function changedRecord(counts: RunCounts): boolean {
  return counts.inserted + counts.updated + counts.removed + counts.restored > 0;
}

/**
 * Records a run's success, and when it changed the record, the daily series that follows from it
 * (pipeline/store/figures.ts): both in one transaction, the caller's when it has one.
 */
export function finishRun(
  db: DB,
  id: number,
  result: { counts: RunCounts; drift: Drift; sourceRowsUpdatedAt: string | null; now: Date; durationMs: number; sync?: SyncState },
): void {
  const { counts, drift, sync } = result;
  const changed = changedRecord(counts);
  const record = db.prepare(
    `UPDATE runs SET status = 'success', changed = ?, finished_at = ?, duration_ms = ?, source_rows_updated_at = ?,
       fetched = ?, inserted = ?, updated = ?, unchanged = ?, removed = ?, restored = ?, rejected = ?,
       unknown_columns = ?, missing_columns = ?, sync = ?, sync_reason = ?, source_columns = ?, source_max_updated_at = ?
     WHERE id = ?`,
  );
  const values = [
    changed ? 1 : 0,
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
    sync?.sync ?? null,
    sync?.reason ?? null,
    sync?.columns ?? null,
    sync?.maxUpdatedAt ?? null,
    id,
  ];
  db.transaction(() => {
    if (changed) storeDailyDeaths(db);
    record.run(...values);
  })();
}

/** The last successful ingest of a dataset that recorded its sync state, and when its last full sync finished. */
export interface LastSync {
  id: number;
  finished_at: string;
  source_rows_updated_at: string | null;
  source_columns: string;
  source_max_updated_at: string | null;
  unknown_columns: string | null;
  missing_columns: string | null;
  /** Cases the source listed and vigil accepted (inserted, updated, unchanged or restored), and rows it refused. */
  accepted: number;
  rejected: number;
  /** When the last successful full sync of the dataset finished (UTC ISO), or null when none has. */
  last_full_at: string | null;
}

/**
 * Undefined unless the dataset's last successful run of any kind was an ingest from this portal
 * that recorded its sync state: after a backfill, a run from elsewhere or an older version, only a
 * full sync knows what the source holds.
 */
export function lastSync(db: DB, portal: string, dataset: string): LastSync | undefined {
  const last = db
    .prepare(
      `SELECT id, portal, finished_at, source_rows_updated_at, source_columns, source_max_updated_at, unknown_columns, missing_columns,
         inserted + updated + unchanged + restored AS accepted, rejected,
         (SELECT max(finished_at) FROM runs f WHERE f.status = 'success' AND f.kind = 'ingest' AND f.sync = 'full' AND f.portal = r.portal AND f.dataset = r.dataset) AS last_full_at
       FROM runs r WHERE status = 'success' AND dataset = ? ORDER BY id DESC LIMIT 1`,
    )
    .get(dataset) as (Omit<LastSync, "source_columns"> & { source_columns: string | null; portal: string | null }) | undefined;
  if (!last || last.portal !== portal || last.source_columns === null) return undefined;
  const { portal: _portal, ...rest } = last;
  return rest as LastSync;
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

/** The last successful run of any kind: the one time "last checked" is read from. */
export interface LastSuccess {
  id: number;
  /** UTC ISO instant the run finished, i.e. when the source was last checked. */
  finished_at: string;
  portal: string | null;
  dataset: string | null;
  /** The source's own last update of its rows, as that run saw it. */
  source_rows_updated_at: string | null;
}

export function lastSuccess(db: DB): LastSuccess | undefined {
  return db
    .prepare("SELECT id, finished_at, portal, dataset, source_rows_updated_at FROM runs WHERE status = 'success' ORDER BY id DESC LIMIT 1")
    .get() as LastSuccess | undefined;
}

/** When a successful run last changed a case (UTC ISO), or null when none has; as of `asOfRun`, among the runs up to it. */
export function dataLastChanged(db: DB, asOfRun?: number): string | null {
  return db
    .prepare("SELECT max(finished_at) FROM runs WHERE status = 'success' AND changed = 1 AND id <= ?")
    .pluck()
    .get(asOfRun ?? Number.MAX_SAFE_INTEGER) as string | null;
}
