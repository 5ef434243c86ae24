/**
 * A backfill (`vigil backfill`): loads history in bulk from the portal's CSV export, or from a local export
 * with --file, through the same validation, rejects, revisions and run record as `ingest`.
 *
 * The source streams through in chunks of whole records: the main thread cuts them, parsing workers
 * (csv/pool.ts) split them into records and normalize the rows, and the main thread applies the
 * results in source order through CaseWriter, parsing waiting chunks itself rather than sit idle.
 * A record without a quote is split on its commas; only records with quotes, and whole chunks with
 * anything unusual, go through csv-parse (csv/records.ts). Memory holds a bounded number of chunks
 * at a time, whatever the file's size.
 *
 * A backfill is the one run that is not all-or-nothing: it commits about every 20,000 rows, each
 * commit carrying a checkpoint (bytes and lines of the source behind it, the SHA-1 of those bytes,
 * the run's counts). A run killed at any point leaves the database exactly at its last checkpoint.
 * Started again with the same source and options, and with no other run in between, it continues
 * the same run: it checks that the bytes it skips are the ones already loaded, then carries on. The
 * rows it has not committed are redone from scratch, in the same order, by the same run, so the
 * cases, revisions, rejects and final counts are those a clean run would have produced. Case
 * numbers seen (for duplicates and tombstones) live in a table, not in memory, for the same reason.
 * Anything else (--restart, other options, a changed source, another run in between) starts a new
 * run; the interrupted one keeps what it committed and says so in its record.
 */
import { resolve } from "node:path";
import type { Config } from "../../schemas/config.ts";
import { BulkLoad } from "./load.ts";
import { LoadProfile, profileTarget, timed } from "./profile.ts";
import { changedSince, clearCheckpoint, committedCounts, firstRejectReason, loadCheckpoint, reopenRun, retireRun, saveCheckpoint, type Checkpoint } from "./checkpoint.ts";
import { checkFile, openExport, openFile, type Source } from "../source/export.ts";
import { readCsv, type Chunk } from "./csv/chunks.ts";
import { ParsePool } from "./csv/pool.ts";
import { planColumns } from "./csv/rows.ts";
import type { ChunkResult } from "./csv/worker.ts";
import { openDatabase } from "../store/db.ts";
import { RunRefusedError, SourceChangedError, SourceFormatError, UsageError, VigilError } from "../errors.ts";
import { HttpClient, type HttpOptions } from "../source/http.ts";
import type { RunResult } from "../ingest/ingest.ts";
import { elapsed, type Logger } from "../log.ts";
import { chicagoDate } from "../normalize/row.ts";
import { noProgress, type Progress } from "../progress.ts";
import { checkRejectShare, checkRemovalShare, DEFAULT_LIMITS, type Limits } from "../store/limits.ts";
import { acquireWriteLock, type WriteLock } from "../store/lock.ts";
import { abandonStaleRuns, changedRecord, failRun, finishRun, startRun, type RunCounts } from "../store/run-records.ts";
import { rowsUpdatedAt } from "../source/socrata.ts";
import { CaseWriter, removalScopeFor } from "../store/case-writer.ts";

export interface BackfillOptions {
  config: Pick<Config, "db" | "portal" | "dataset" | "appToken">;
  log: Logger;
  now: () => Date;
  signal?: AbortSignal;
  /** A local CSV export to load instead of downloading one. */
  file?: string;
  /** Death dates to load, inclusive, YYYY-MM-DD (Chicago). */
  since?: string;
  until?: string;
  /** Start over even if an interrupted backfill could be resumed. */
  restart?: boolean;
  limits?: Partial<Limits>;
  http?: Omit<HttpOptions, "appToken" | "log" | "signal">;
  progress?: Progress;
  /** Parsing worker threads (default: two from four cores on, otherwise one; see defaultWorkerCount). */
  workers?: number;
  /** Rows per transaction, each ending with a checkpoint. */
  commitRows?: number;
  /** Bytes per chunk handed to a worker. */
  chunkBytes?: number;
  /** Writes where the load's time went to this file, as JSON (see profile.ts; default: $VIGIL_PROFILE). */
  profile?: string;
}

export interface BackfillResult extends RunResult {
  /** Rows skipped because their death date is outside --since/--until. */
  outside: number;
  /** The line an interrupted run was resumed from, if it was. */
  resumedAt?: number;
}

const COMMIT_ROWS = 20_000;
/**
 * Small chunks keep every array and string of a chunk under V8's large-object size, so they die
 * young instead of piling up until a full collection. Enough of them are in flight for the
 * workers to keep busy while the main thread commits (see PER_WORKER in csv/pool.ts), and a few
 * more for the main thread to parse itself rather than wait.
 */
const CHUNK_BYTES = 64 << 10;
const CHUNKS_PER_WORKER = 24;
/**
 * SQLite page cache for the load (KiB); fixed, so memory does not grow with the file. Keys arrive
 * mostly in order, so index pages are appended to rather than sought: a small cache does.
 */
const CACHE_KIB = 8 * 1024;
const SEEN_TABLE = "backfill_seen";
const REJECTED_TABLE = "backfill_rejected";

export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  const { config, log, now, signal } = options;
  checkDates(options.since, options.until);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const started = performance.now();
  const progress = options.progress ?? noProgress;
  const file = options.file === undefined ? undefined : resolve(options.file);
  if (file !== undefined) checkFile(options.file as string, file);
  // workers start first: their start-up overlaps opening the database and the source
  const pool = new ParsePool(options.workers);
  const profileFile = options.profile ?? profileTarget();
  const profile = profileFile === undefined ? undefined : new LoadProfile();
  const stopWorkers = () => void pool.close();
  signal?.addEventListener("abort", stopWorkers, { once: true });
  const db = openDatabase(config.db);
  let lock: WriteLock | undefined;
  let http: HttpClient | undefined;
  let runId: number | undefined;
  let load: BulkLoad | undefined;
  let committed: RunCounts | undefined;
  let at: Checkpoint | undefined;
  let source: Source | undefined;
  try {
    lock = acquireWriteLock(config.db, db);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    if (file !== undefined) {
      source = openFile(file);
    } else {
      http = new HttpClient({ ...options.http, appToken: config.appToken, log, signal });
      source = await openExport(http, config.portal, config.dataset, log);
    }
    const { name, label, metadata, total } = source;
    const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
    const csv = await readCsv(source.stream, name, { chunkBytes });
    const layout = planColumns(csv.header, metadata);
    if ("error" in layout) throw new SourceFormatError(`${name}: ${layout.error}`);
    const header = JSON.stringify(layout.header);
    const commitRows = options.commitRows ?? COMMIT_ROWS;
    // everything that decides what the run does; chunk and commit sizes decide where its commits fall
    const fingerprint = JSON.stringify({ ...source.identity, dataset: config.dataset, since: options.since, until: options.until, chunkBytes, commitRows });

    const previous = loadCheckpoint(db);
    let resume: Checkpoint | undefined;
    if (previous) {
      const reason = options.restart
        ? "--restart was given"
        : changedSince(db, previous.runId)
          ? "other runs have changed the database since"
          : previous.fingerprint !== fingerprint || previous.header !== header
            ? "this backfill reads another source or uses other options"
            : undefined;
      if (reason) {
        db.transaction(() => {
          retireRun(db, previous, reason, now());
          clearCheckpoint(db);
        }).immediate();
        log.warn("resume", `not resuming the interrupted backfill (run ${previous.runId}): ${reason}`, { run: previous.runId, line: previous.line });
      } else {
        resume = previous;
      }
    }
    abandonStaleRuns(db, now());
    if (resume) {
      runId = resume.runId;
      reopenRun(db, runId);
      at = resume;
    } else {
      // checkpointed from the start, so a run killed before its first commit resumes as itself
      const fresh = db.transaction(() => {
        db.exec(`DELETE FROM ${SEEN_TABLE}; DELETE FROM ${REJECTED_TABLE}`);
        const id = startRun(db, { kind: "backfill", portal: file ? undefined : config.portal, dataset: config.dataset, sourceFile: file, now: now() });
        const checkpoint: Checkpoint = { runId: id, source: name, fingerprint, header, ...csv.start, records: 0, outside: 0 };
        saveCheckpoint(db, checkpoint, committedCounts(db, id), now());
        return checkpoint;
      });
      at = fresh.immediate();
      runId = at.runId;
    }
    committed = committedCounts(db, runId);
    const writer = new CaseWriter(db, runId, { seenTable: SEEN_TABLE, rejectedTable: REJECTED_TABLE, deferAdded: true });
    Object.assign(writer.counts, committed);
    log.info("source", resume ? `resuming run ${runId} at line ${resume.line} of ${name}` : `reading ${name}`, {
      run: runId,
      headers: layout.flavour,
      columns: layout.header.length,
      ...total,
      resumed_rows: resume?.records,
    });
    if (layout.drift.unknown.length || layout.drift.missing.length) {
      log.warn("source", "the export's columns differ from what vigil knows", { unknown: layout.drift.unknown, missing: layout.drift.missing });
    }

    pool.setup({ layout, today: chicagoDate(now()), since: options.since, until: options.until, profile: profile !== undefined });
    load = new BulkLoad(db, writer, layout, label, profile);
    const firstReject = () => firstRejectReason(db, runId as number);
    const state = { ...at };
    const commit = () => {
      (load as BulkLoad).commit(() => {
        checkShare(writer.counts, state.outside, firstReject, limits);
        saveCheckpoint(db, state, writer.counts, now());
      });
      committed = { ...writer.counts };
      at = { ...state };
    };
    const apply = (chunk: Chunk, result: ChunkResult) => {
      signal?.throwIfAborted();
      if (result.error) throw new SourceFormatError(`${name} line ${result.error.line}: ${result.error.message}`);
      (load as BulkLoad).apply(chunk, result);
      writer.counts.fetched += result.records;
      Object.assign(state, { bytes: chunk.end, line: chunk.endLine, digest: chunk.digest, records: state.records + result.records, outside: state.outside + result.outside });
      if ((load as BulkLoad).pending >= commitRows) commit();
      progress.update({ rows: state.records, bytes: state.bytes });
    };

    const loadStarted = performance.now();
    progress.start(total, { rows: state.records, bytes: state.bytes });
    const inflight: Array<{ chunk: Chunk; result: Promise<ChunkResult>; ready: boolean }> = [];
    const applyNext = async () => {
      const next = inflight.shift()!;
      // rather than wait for the worker, parse waiting chunks here, letting results in between
      while (!next.ready && pool.parseHere()) await new Promise((resolve) => setImmediate(resolve));
      apply(next.chunk, profile ? await profile.waitFor("wait", next.result) : await next.result);
    };
    try {
      for await (const chunk of profile ? timed(csv.chunks(resume), profile, "read") : csv.chunks(resume)) {
        signal?.throwIfAborted();
        const entry = { chunk, result: pool.parse(chunk), ready: false };
        // awaited in order below; meanwhile a failure must not surface as unhandled
        entry.result.then(() => (entry.ready = true), () => (entry.ready = true));
        inflight.push(entry);
        if (inflight.length >= pool.size * CHUNKS_PER_WORKER) await applyNext();
      }
      while (inflight.length > 0) await applyNext();
      signal?.throwIfAborted();
    } finally {
      progress.stop();
    }

    if (state.records === 0) {
      throw new RunRefusedError(`${name} has a header but no rows`, { hint: "check that the export is complete; nothing was loaded" });
    }
    if (state.records === state.outside) log.warn("load", `no row has a death date from ${options.since ?? "the start"} to ${options.until ?? "today"}`);
    // tombstones only from a complete read of a dataset: never a file, never a date range
    const complete = file === undefined && options.since === undefined && options.until === undefined;
    let removed = 0;
    load.commit(() => {
      checkShare(writer.counts, state.outside, firstReject, limits);
      if (complete) removed = markRemovals(writer, config.dataset, limits);
      finishRun(db, runId as number, {
        counts: writer.counts,
        drift: layout.drift,
        sourceRowsUpdatedAt: metadata ? rowsUpdatedAt(metadata) : null,
        now: now(),
        durationMs: elapsed(started),
      });
      clearCheckpoint(db);
    });
    const counts = { ...writer.counts };
    log.info("load", `${counts.inserted} inserted, ${counts.updated} updated, ${counts.unchanged} unchanged, ${removed} removed, ${counts.rejected} rejected`, {
      run: runId,
      ...counts,
      outside: state.outside,
      ms: elapsed(loadStarted),
    });
    const changed = changedRecord(counts);
    return { runId, counts, drift: layout.drift, changed, outside: state.outside, resumedAt: resume?.line };
  } catch (caught) {
    const error = signal?.aborted && !(caught instanceof VigilError) ? (signal.reason ?? caught) : caught;
    load?.rollback();
    if (lock !== undefined) recordFailure(error);
    throw error;
  } finally {
    signal?.removeEventListener("abort", stopWorkers);
    source?.stream.destroy();
    await pool.close();
    await http?.close();
    lock?.release();
    if (profile) profile.time("close", () => db.close());
    else db.close();
    if (profile) profile.write(profileFile as string, pool.size);
  }

  function recordFailure(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    runId ??= startRun(db, { kind: "backfill", portal: file ? undefined : config.portal, dataset: config.dataset, sourceFile: file, now: now() });
    const ours = at !== undefined && at.runId === runId;
    // a refused run would only be refused again, and a changed source cannot be resumed
    if (ours && (error instanceof RunRefusedError || error instanceof SourceChangedError)) clearCheckpoint(db);
    failRun(db, runId, message, now(), elapsed(started), { fetched: committed?.fetched, rejected: committed?.rejected });
    const transient = !(error instanceof SourceFormatError || error instanceof RunRefusedError || error instanceof UsageError);
    if (ours && transient && at && error instanceof VigilError && !error.hint) {
      error.hint = `${at.records} rows are loaded; run the same command again to resume from line ${at.line}`;
    }
  }
}

/** The reject-share refusal over the rows in range so far. */
function checkShare(counts: RunCounts, outside: number, firstReject: () => string | undefined, limits: Limits): void {
  if (counts.rejected > 0) checkRejectShare(counts.fetched - outside, counts.rejected, firstReject, limits);
}

function markRemovals(writer: CaseWriter, dataset: string, limits: Limits): number {
  const scope = removalScopeFor(dataset);
  checkRemovalShare(writer.countUnseen(scope), limits, "the export", "no case was marked removed");
  return writer.markRemoved(scope);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function checkDates(since: string | undefined, until: string | undefined): void {
  for (const [flag, value] of [["--since", since], ["--until", until]] as const) {
    if (value === undefined) continue;
    const date = new Date(`${value}T00:00:00Z`);
    if (!DATE.test(value) || Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
      throw new UsageError(`${flag} must be a date like 2020-03-16 (YYYY-MM-DD, Chicago time), got "${value}"`);
    }
  }
  if (since !== undefined && until !== undefined && since > until) throw new UsageError(`--since ${since} is after --until ${until}`);
}
