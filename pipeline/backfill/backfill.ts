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
import { FreshFile, freshFailed, loadsFresh } from "./fresh.ts";
import { checkDates, checkShare, markRemovals } from "./checks.ts";
import { LoadProfile, profileTarget, timed } from "./profile.ts";
import { changedSince, clearCheckpoint, committedCounts, firstRejectReason, loadCheckpoint, reopenRun, retireRun, saveCheckpoint, type Checkpoint } from "./checkpoint.ts";
import { checkFile, openExport, openFile, type Source } from "../source/export.ts";
import { readCsv, type Chunk, type CsvStream } from "./csv/chunks.ts";
import { ParsePool, WorkersStoppedError } from "./csv/pool.ts";
import { planColumns, type CsvLayout } from "./csv/rows.ts";
import type { ChunkResult } from "./csv/worker.ts";
import { openDatabase, removeIfFirstRunFails, type DB } from "../store/db.ts";
import { describeCause, RunRefusedError, SourceChangedError, SourceFormatError, UsageError, VigilError } from "../errors.ts";
import { HttpClient, type HttpOptions } from "../source/http.ts";
import type { RunResult } from "../ingest/ingest.ts";
import { elapsed, type Logger } from "../log.ts";
import { chicagoDate } from "../normalize/row.ts";
import { noProgress, type Progress } from "../progress.ts";
import { DEFAULT_LIMITS, type Limits } from "../store/limits.ts";
import { acquireWriteLock, type WriteLock } from "../store/lock.ts";
import { abandonStaleRuns, changedRecord, failRun, finishRun, startRun, type RunCounts } from "../store/run-records.ts";
import { rowsUpdatedAt } from "../source/socrata.ts";
import { CaseWriter } from "../store/case-writer.ts";
import { stageSetup } from "./csv/stage.ts";

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
 * A fresh file's chunks are larger: each one's rows are staged in a file of their own and attached
 * to be copied (csv/stage.ts), which costs a few tenths of a millisecond a chunk on each side.
 * Whole loads of 100,000 rows in alternation: 128 KiB the fastest, 256 about as fast, 64 and 512
 * slower (bench/results.md).
 */
const STAGED_CHUNK_BYTES = 128 << 10;
const MIN_CHUNKS_PER_WORKER = 4;
/**
 * SQLite page cache for the load (KiB); fixed, so memory does not grow with the file. Keys arrive
 * mostly in order, so index pages are appended to rather than sought: a small cache does.
 */
const CACHE_KIB = 8 * 1024;
const SEEN_TABLE = "backfill_seen";
const REJECTED_TABLE = "backfill_rejected";

/** One backfill under way: what its steps share, and what recording a failure needs. */
interface Loading {
  options: BackfillOptions;
  db: DB;
  pool: ParsePool;
  limits: Limits;
  /** Where the time goes, when profiling (VIGIL_PROFILE); undefined otherwise, at no cost. */
  profile?: LoadProfile;
  /** --file, resolved. */
  file?: string;
  started: number;
  lock?: WriteLock;
  http?: HttpClient;
  source?: Source;
  runId?: number;
  load?: BulkLoad;
  /** The counts of the last commit. */
  committed?: RunCounts;
  /** The last checkpoint: how far into the source the database stands. */
  at?: Checkpoint;
  /** A first load into a new database: the fresh file it is written to (fresh.ts). */
  fresh?: FreshFile;
}

/** The source opened and its header read: what the run loads, and what says it is the same run. */
interface Opened {
  source: Source;
  csv: CsvStream;
  layout: CsvLayout;
  /** The header record, JSON. */
  header: string;
  fingerprint: string;
  commitRows: number;
  chunkBytes: number;
}

export async function backfill(options: BackfillOptions): Promise<BackfillResult> {
  return removeIfFirstRunFails(options.config.db, () => backfillRun(options));
}

async function backfillRun(options: BackfillOptions): Promise<BackfillResult> {
  const { config, signal } = options;
  checkDates(options.since, options.until);
  const file = options.file === undefined ? undefined : resolve(options.file);
  if (file !== undefined) checkFile(options.file as string, file);
  // workers start first: their start-up overlaps opening the database and the source
  const pool = new ParsePool(options.workers);
  const profileFile = options.profile ?? profileTarget();
  const profile = profileFile === undefined ? undefined : new LoadProfile();
  const stopWorkers = () => void pool.close();
  signal?.addEventListener("abort", stopWorkers, { once: true });
  const fresh = loadsFresh(config.db, file) ? FreshFile.create(config.db) : undefined;
  const db = fresh?.db ?? openDatabase(config.db);
  const loading: Loading = { options, db, pool, file, profile, fresh, limits: { ...DEFAULT_LIMITS, ...options.limits }, started: performance.now() };
  try {
    loading.lock = acquireWriteLock(config.db, db);
    fresh?.sweep(options.log);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    const opened = await openSource(loading);
    const resume = startOrResume(loading, opened);
    const writer = prepareLoad(loading, opened, resume);
    const loadStarted = performance.now();
    const state = await stream(loading, opened, writer, resume);
    const result = finish(loading, opened, writer, state, { resume, loadStarted });
    fresh?.place(profile);
    return result;
  } catch (caught) {
    // a stop (Ctrl-C) closes the workers: what failed then is the stop, whatever noticed it first
    const error = signal?.aborted && (caught instanceof WorkersStoppedError || !(caught instanceof VigilError)) ? (signal.reason ?? caught) : caught;
    // a fresh file is thrown away whole: nothing to roll back or record (fresh.ts)
    if (fresh) freshFailed(error);
    else {
      loading.load?.rollback();
      if (loading.lock !== undefined) recordFailure(loading, error);
    }
    throw error;
  } finally {
    signal?.removeEventListener("abort", stopWorkers);
    loading.source?.stream.destroy();
    await pool.close();
    await loading.http?.close();
    fresh?.discard();
    loading.lock?.release();
    // a fresh file is closed already, placed or discarded
    if (db.open && profile) profile.time("close", () => db.close());
    else if (db.open) db.close();
    // a profile that cannot be written is said, never in place of the load's own outcome
    if (profile) {
      try {
        profile.write(profileFile as string, pool.size);
      } catch (error) {
        options.log.warn("profile", `could not write the profile to ${profileFile}: ${describeCause(error)}`);
      }
    }
  }
}

/** The file, or the portal's export; its header read and matched to vigil's columns. */
async function openSource(loading: Loading): Promise<Opened> {
  const { options, file } = loading;
  const { config } = options;
  if (file !== undefined) {
    loading.source = openFile(file);
  } else {
    loading.http = new HttpClient({ ...options.http, appToken: config.appToken, log: options.log, signal: options.signal });
    loading.source = await openExport(loading.http, config.portal, config.dataset, options.log);
  }
  const source = loading.source;
  const chunkBytes = options.chunkBytes ?? (loading.fresh ? STAGED_CHUNK_BYTES : CHUNK_BYTES);
  // a fresh file is never resumed (fresh.ts): its chunks need no digests
  const csv = await readCsv(source.stream, source.name, { chunkBytes, digests: loading.fresh === undefined });
  const layout = planColumns(csv.header, source.metadata);
  if ("error" in layout) throw new SourceFormatError(`${source.name}: ${layout.error}`);
  const commitRows = options.commitRows ?? COMMIT_ROWS;
  // everything that decides what the run does; chunk and commit sizes decide where its commits fall
  const fingerprint = JSON.stringify({ ...source.identity, dataset: config.dataset, since: options.since, until: options.until, chunkBytes, commitRows });
  return { source, csv, layout, header: JSON.stringify(layout.header), fingerprint, commitRows, chunkBytes };
}

/**
 * The interrupted backfill's run and checkpoint when it can go on (same source, same options, no
 * other run since, no --restart), which is returned; otherwise a new run, checkpointed from the
 * start, so a run killed before its first commit resumes as itself. Either way `loading.runId`
 * and `loading.at` are set.
 */
function startOrResume(loading: Loading, opened: Opened): Checkpoint | undefined {
  const { db, options, file } = loading;
  const { config, log, now } = options;
  const previous = loadCheckpoint(db);
  let resume: Checkpoint | undefined;
  if (previous) {
    const reason = options.restart
      ? "--restart was given"
      : changedSince(db, previous.runId)
        ? "other runs have changed the database since"
        : previous.fingerprint !== opened.fingerprint || previous.header !== opened.header
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
    reopenRun(db, resume.runId);
    loading.at = resume;
  } else {
    loading.at = db
      .transaction(() => {
        db.exec(`DELETE FROM ${SEEN_TABLE}; DELETE FROM ${REJECTED_TABLE}`);
        const id = startRun(db, { kind: "backfill", portal: file ? undefined : config.portal, dataset: config.dataset, sourceFile: file, now: now() });
        const checkpoint: Checkpoint = { runId: id, source: opened.source.name, fingerprint: opened.fingerprint, header: opened.header, ...opened.csv.start, records: 0, outside: 0 };
        saveCheckpoint(db, checkpoint, committedCounts(db, id), now());
        return checkpoint;
      })
      .immediate();
  }
  loading.runId = loading.at.runId;
  return resume;
}

/** The writer carrying on from the run's committed counts, the workers set up, the bulk load begun. */
function prepareLoad(loading: Loading, opened: Opened, resume: Checkpoint | undefined): CaseWriter {
  const { db, options } = loading;
  const { source, layout } = opened;
  const runId = loading.runId as number;
  loading.committed = committedCounts(db, runId);
  const writer = new CaseWriter(db, runId, { seenTable: SEEN_TABLE, rejectedTable: REJECTED_TABLE, deferAdded: true });
  Object.assign(writer.counts, loading.committed);
  options.log.info("source", resume ? `resuming run ${runId} at line ${resume.line} of ${source.name}` : `reading ${source.name}`, {
    run: runId,
    headers: layout.flavour,
    columns: layout.header.length,
    ...source.total,
    resumed_rows: resume?.records,
  });
  if (layout.drift.unknown.length || layout.drift.missing.length) {
    options.log.warn("source", "the export's columns differ from what vigil knows", { unknown: layout.drift.unknown, missing: layout.drift.missing });
  }
  loading.pool.setup({ layout, today: chicagoDate(options.now()), since: options.since, until: options.until, profile: loading.profile !== undefined, stage: loading.fresh && stageSetup(db, loading.fresh.stagePrefix) });
  loading.load = new BulkLoad(db, writer, layout, source.label, loading.profile);
  return writer;
}

/**
 * The source from the checkpoint on, chunk by chunk through the workers and applied in order,
 * committed with a checkpoint about every `commitRows` rows; where it ends.
 */
async function stream(loading: Loading, opened: Opened, writer: CaseWriter, resume: Checkpoint | undefined): Promise<Checkpoint> {
  const { db, pool, options } = loading;
  const { signal, now } = options;
  const load = loading.load as BulkLoad;
  const name = opened.source.name;
  const progress = options.progress ?? noProgress;
  const state = { ...(loading.at as Checkpoint) };
  const commit = () => {
    load.commit(() => {
      checkShare(writer.counts, state.outside, () => firstRejectReason(db, state.runId), loading.limits);
      saveCheckpoint(db, state, writer.counts, now());
    });
    loading.committed = { ...writer.counts };
    loading.at = { ...state };
    loading.fresh?.syncSoon();
  };
  const apply = (chunk: Chunk, result: ChunkResult) => {
    signal?.throwIfAborted();
    if (result.error) throw new SourceFormatError(`${name} line ${result.error.line}: ${result.error.message}`);
    load.apply(chunk, result);
    writer.counts.fetched += result.records;
    Object.assign(state, { bytes: chunk.end, line: chunk.endLine, digest: chunk.digest, records: state.records + result.records, outside: state.outside + result.outside });
    if (load.pending >= opened.commitRows) commit();
    progress.update({ rows: state.records, bytes: state.bytes });
  };
  progress.start(opened.source.total, { rows: state.records, bytes: state.bytes });
  const inflight: Array<{ chunk: Chunk; result: Promise<ChunkResult>; ready: boolean }> = [];
  // as many bytes in flight whatever the chunks' size
  const inflightPerWorker = Math.max(MIN_CHUNKS_PER_WORKER, Math.round((CHUNKS_PER_WORKER * CHUNK_BYTES) / opened.chunkBytes));
  const applyNext = async () => {
    const next = inflight.shift()!;
    // rather than wait for the worker, parse waiting chunks here, letting results in between
    while (!next.ready && pool.parseHere()) await new Promise((resolve) => setImmediate(resolve));
    apply(next.chunk, loading.profile ? await loading.profile.waitFor("wait", next.result) : await next.result);
  };
  try {
    for await (const chunk of loading.profile ? timed(opened.csv.chunks(resume), loading.profile, "read") : opened.csv.chunks(resume)) {
      signal?.throwIfAborted();
      const entry = { chunk, result: pool.parse(chunk), ready: false };
      // awaited in order below; meanwhile a failure must not surface as unhandled
      entry.result.then(() => (entry.ready = true), () => (entry.ready = true));
      inflight.push(entry);
      if (inflight.length >= pool.size * inflightPerWorker) await applyNext();
    }
    while (inflight.length > 0) await applyNext();
    signal?.throwIfAborted();
  } finally {
    progress.stop();
  }
  return state;
}

/**
 * The last commit: refused when the source had no rows, removals marked only after a complete
 * read of a dataset (never a file, never a date range), the run recorded and its checkpoint gone.
 */
function finish(loading: Loading, opened: Opened, writer: CaseWriter, state: Checkpoint, run: { resume?: Checkpoint; loadStarted: number }): BackfillResult {
  const { db, options } = loading;
  const { log } = options;
  const { source, layout } = opened;
  const runId = state.runId;
  if (state.records === 0) {
    throw new RunRefusedError(`${source.name} has a header but no rows`, { hint: "check that the export is complete; nothing was loaded" });
  }
  if (state.records === state.outside) log.warn("load", `no row has a death date from ${options.since ?? "the start"} to ${options.until ?? "today"}`);
  const complete = loading.file === undefined && options.since === undefined && options.until === undefined;
  let removed = 0;
  (loading.load as BulkLoad).commit(() => {
    checkShare(writer.counts, state.outside, () => firstRejectReason(db, runId), loading.limits);
    if (complete) removed = markRemovals(writer, options.config.dataset, loading.limits);
    finishRun(db, runId, {
      counts: writer.counts,
      drift: layout.drift,
      sourceRowsUpdatedAt: source.metadata ? rowsUpdatedAt(source.metadata) : null,
      now: options.now(),
      durationMs: elapsed(loading.started),
    });
    clearCheckpoint(db);
  });
  const counts = { ...writer.counts };
  log.info("load", `${counts.inserted} inserted, ${counts.updated} updated, ${counts.unchanged} unchanged, ${removed} removed, ${counts.rejected} rejected`, {
    run: runId,
    ...counts,
    outside: state.outside,
    ms: elapsed(run.loadStarted),
  });
  const changed = changedRecord(counts);
  return { runId, counts, drift: layout.drift, changed, outside: state.outside, resumedAt: run.resume?.line };
}

/** The failure in the run's record (a run of its own if it failed before it had one), with a hint to resume when it can. */
function recordFailure(loading: Loading, error: unknown): void {
  const { db, options, file, at, committed } = loading;
  const { config, now } = options;
  const message = error instanceof Error ? error.message : String(error);
  const runId = (loading.runId ??= startRun(db, { kind: "backfill", portal: file ? undefined : config.portal, dataset: config.dataset, sourceFile: file, now: now() }));
  const ours = at !== undefined && at.runId === runId;
  // a refused run would only be refused again, and a changed source cannot be resumed
  if (ours && (error instanceof RunRefusedError || error instanceof SourceChangedError)) clearCheckpoint(db);
  failRun(db, runId, message, now(), elapsed(loading.started), { fetched: committed?.fetched, rejected: committed?.rejected });
  const transient = !(error instanceof SourceFormatError || error instanceof RunRefusedError || error instanceof UsageError);
  if (ours && transient && at && error instanceof VigilError && !error.hint) {
    error.hint = `${at.records} rows are loaded; run the same command again to resume from line ${at.line}`;
  }
}
