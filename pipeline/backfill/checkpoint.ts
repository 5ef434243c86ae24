/**
 * Checkpoints of a backfill: where in its source the last commit ended, saved in the same
 * transaction as the rows it covers. A run killed at any point leaves the database at its last
 * checkpoint, and the next backfill of the same source continues that run from there.
 */
import type { DB } from "../store/db.ts";
import type { RunCounts } from "../store/run-records.ts";

export interface Checkpoint {
  runId: number;
  /** The file path or export URL. */
  source: string;
  /** What must be the same to resume: the options and the identity of the source, JSON. */
  fingerprint: string;
  /** The header record, JSON. */
  header: string;
  /** Bytes of the source covered by committed rows; a record boundary. */
  bytes: number;
  /** Physical line at `bytes`. */
  line: number;
  /** Data records read up to `bytes`, and how many of them were outside --since/--until. */
  records: number;
  outside: number;
  /** SHA-1 of the source's first `bytes` bytes. */
  digest: string;
}

/** The interrupted backfill, if any (there is at most one: a new one replaces it). */
export function loadCheckpoint(db: DB): Checkpoint | undefined {
  const row = db
    .prepare(
      `SELECT run_id AS runId, source, fingerprint, header, bytes, line, records, outside, digest
       FROM backfill_checkpoints ORDER BY run_id DESC LIMIT 1`,
    )
    .get() as Checkpoint | undefined;
  return row;
}

/** Records how far the run has got; call inside the transaction that commits those rows. */
export function saveCheckpoint(db: DB, checkpoint: Checkpoint, counts: RunCounts, now: Date): void {
  const c = checkpoint;
  db.prepare(
    `INSERT INTO backfill_checkpoints (run_id, source, fingerprint, header, bytes, line, records, outside, digest, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET bytes = excluded.bytes, line = excluded.line, records = excluded.records,
       outside = excluded.outside, digest = excluded.digest, updated_at = excluded.updated_at`,
  ).run(c.runId, c.source, c.fingerprint, c.header, c.bytes, c.line, c.records, c.outside, c.digest, now.toISOString());
  // the run's own row shows its progress, and is where a resumed run takes its counts from
  db.prepare(
    `UPDATE runs SET fetched = ?, inserted = ?, updated = ?, unchanged = ?, removed = ?, restored = ?, rejected = ? WHERE id = ?`,
  ).run(counts.fetched, counts.inserted, counts.updated, counts.unchanged, counts.removed, counts.restored, counts.rejected, c.runId);
}

/** Forgets the checkpoint and the case numbers its run had seen or refused. */
export function clearCheckpoint(db: DB): void {
  db.exec("DELETE FROM backfill_checkpoints; DELETE FROM backfill_seen; DELETE FROM backfill_rejected;");
}

/** The counts a run had committed. */
export function committedCounts(db: DB, runId: number): RunCounts {
  const row = db
    .prepare("SELECT fetched, inserted, updated, unchanged, removed, restored, rejected FROM runs WHERE id = ?")
    .get(runId) as Partial<Record<keyof RunCounts, number | null>> | undefined;
  const n = (v: number | null | undefined) => v ?? 0;
  return {
    fetched: n(row?.fetched),
    inserted: n(row?.inserted),
    updated: n(row?.updated),
    unchanged: n(row?.unchanged),
    removed: n(row?.removed),
    restored: n(row?.restored),
    rejected: n(row?.rejected),
  };
}

/**
 * Whether a run after this one committed changes (a success). Failed and abandoned runs changed
 * nothing, except an interrupted backfill, which would have taken over or retired the checkpoint.
 */
export function changedSince(db: DB, runId: number): boolean {
  return (db.prepare("SELECT count(*) FROM runs WHERE id > ? AND status = 'success'").pluck().get(runId) as number) > 0;
}

/** Puts an interrupted run back to work in this process. */
export function reopenRun(db: DB, runId: number): void {
  db.prepare("UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, pid = ? WHERE id = ?").run(process.pid, runId);
}

/** Says what an interrupted run left behind when it will not be resumed. */
export function retireRun(db: DB, checkpoint: Checkpoint, reason: string, now: Date): void {
  const counts = committedCounts(db, checkpoint.runId);
  db.prepare(
    `UPDATE runs SET status = CASE WHEN status = 'success' THEN status ELSE 'failed' END, finished_at = coalesce(finished_at, ?), error = ?
     WHERE id = ?`,
  ).run(
    now.toISOString(),
    `stopped after loading ${checkpoint.records} rows (${counts.inserted} inserted, ${counts.updated} updated) up to line ${checkpoint.line}; not resumed: ${reason}`,
    checkpoint.runId,
  );
}

/** The first reject of a run, for the message of a reject-share failure after a resume. */
export function firstRejectReason(db: DB, runId: number): string | undefined {
  return (db.prepare("SELECT reasons FROM rejects WHERE run_id = ? ORDER BY id LIMIT 1").pluck().get(runId) as string | undefined) ?? undefined;
}
