/**
 * One sync of the dataset from the portal (`vigil ingest`, and the first step of `vigil run`):
 * nothing fetched when the view is unchanged, the changed rows, the counts by month and the row
 * ids of the months whose counts differ most nights, everything with `full` or when that cannot be trusted (see incremental.ts). Validate,
 * then diff and commit in one transaction; a failure changes nothing but the run's own record.
 */
import type { Config } from "../../schemas/config.ts";
import type { Drift, RawRow } from "../../schemas/source-columns.ts";
import type { ViewMetadata } from "../../schemas/view-metadata.ts";
import { openDatabase, removeIfFirstRunFails, type DB } from "../store/db.ts";
import { RunRefusedError } from "../errors.ts";
import { HttpClient, type HttpOptions } from "../source/http.ts";
import { elapsed, type Logger } from "../log.ts";
import { caseNumberKey, chicagoDate, normalizeRow, type Normalized, type Rejected } from "../normalize/row.ts";
import { laterWins } from "../normalize/duplicates.ts";
import { duplicateCase, reasonsText } from "../normalize/reasons.ts";
import { checkRejectShare, checkRemovalShare, DEFAULT_LIMITS, type Limits } from "../store/limits.ts";
import { acquireWriteLock } from "../store/lock.ts";
import { abandonStaleRuns, changedRecord, failRun, finishRun, lastSync, startRun, type LastSync, type RunCounts, type SyncState } from "../store/run-records.ts";
import { columnsSignature, detectDrift, rowsUpdatedAt, SocrataSource, type ListedRow } from "../source/socrata.ts";
import { CaseWriter, removalScopeFor } from "../store/case-writer.ts";
import { fetchChanges, newestUpdate, planSync, type SyncPlan } from "./incremental.ts";

export interface IngestOptions {
  config: Pick<Config, "db" | "portal" | "dataset" | "appToken">;
  log: Logger;
  now: () => Date;
  signal?: AbortSignal;
  limits?: Partial<Limits>;
  http?: Omit<HttpOptions, "appToken" | "log" | "signal">;
  /** Read every row, whatever the metadata and the last run say. */
  full?: boolean;
}

export interface RunResult {
  runId: number;
  counts: RunCounts;
  drift: Drift;
  /** Whether the run changed any case (insert, update, removal or restore). */
  changed: boolean;
}

export interface IngestResult extends RunResult {
  /** How the source was read, and why. */
  sync: SyncState["sync"];
  syncReason: string;
}

/** The rows a run read, and for an incremental one what the source lists besides. */
interface Read {
  rows: RawRow[];
  drift: Drift;
  incremental?: { listed: ListedRow[]; months: Array<string | null> | null; total: number; unchanged: number };
}

/** What every step of one run shares: its database, its record, its source, and the one time it goes by (its start: "today" and the sync plan; only its record of when it finished reads the clock again). */
interface Run {
  db: DB;
  runId: number;
  source: SocrataSource;
  /** The run's time, read once: its start, its "today", its finish. */
  at: Date;
  /** When it started on the monotonic clock, for its duration. */
  started: number;
  limits: Limits;
  options: IngestOptions;
}

/** How the source is read this run, decided from the view's metadata and the last run. */
interface Planned {
  plan: SyncPlan;
  metadata: ViewMetadata;
  columns: string;
  sourceRowsUpdatedAt: string | null;
}

export async function ingest(options: IngestOptions): Promise<IngestResult> {
  return removeIfFirstRunFails(options.config.db, () => ingestRun(options));
}

async function ingestRun(options: IngestOptions): Promise<IngestResult> {
  const { config, log } = options;
  const at = options.now();
  const started = performance.now();
  const db = openDatabase(config.db);
  const lock = acquireWriteLock(config.db, db);
  abandonStaleRuns(db, at);
  const runId = startRun(db, { kind: "ingest", portal: config.portal, dataset: config.dataset, now: at });
  const http = new HttpClient({ ...options.http, appToken: config.appToken, log, signal: options.signal });
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const run: Run = { db, runId, source: new SocrataSource(http, config.portal, config.dataset), at, started, limits, options };
  const partial: Partial<RunCounts> & { drift?: Drift } = {};
  try {
    let stage = performance.now();
    const planned = await planRun(run);
    if (planned.plan.sync === "unchanged") return finishUnchanged(run, planned, planned.plan, stage);
    const { read, sync, reason } = await readSource(run, planned);
    Object.assign(partial, { fetched: read.rows.length, drift: read.drift });
    log.info("fetch", `fetched ${read.rows.length} rows (${sync}: ${reason})`, { dataset: config.dataset, rows: read.rows.length, sync, ms: elapsed(stage) });
    if (read.drift.unknown.length || read.drift.missing.length) {
      log.warn("fetch", "the source's columns differ from what vigil knows", { unknown: read.drift.unknown, missing: read.drift.missing });
    }
    const checked = validateRead(run, read);
    partial.rejected = checked.rejected.length;
    stage = performance.now();
    const counts = commitRun(run, planned, { read, ...checked, sync, reason });
    log.info("load", `${counts.inserted} inserted, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.removed} removed`, {
      run: runId,
      ...counts,
      ms: elapsed(stage),
    });
    return { runId, counts, drift: read.drift, changed: changedRecord(counts), sync, syncReason: reason };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failRun(db, runId, message, options.now(), elapsed(started), partial);
    throw error;
  } finally {
    await http.close();
    lock.release();
    db.close();
  }
}

/** The view's metadata, and from it and the last run the plan: unchanged, incremental or full. */
async function planRun(run: Run): Promise<Planned> {
  const { config, full } = run.options;
  const metadata = await run.source.metadata();
  const last = lastSync(run.db, config.portal, config.dataset);
  const plan = planSync(run.db, { metadata, last, full: full ?? false, now: run.at });
  return { plan, metadata, columns: columnsSignature(metadata), sourceRowsUpdatedAt: rowsUpdatedAt(metadata) };
}

/** Nothing was read, and the source is as the last run found it: its cases unchanged, its refused rows refused still. */
function finishUnchanged(run: Run, planned: Planned, plan: Extract<SyncPlan, { sync: "unchanged" }>, stage: number): IngestResult {
  const { db, runId } = run;
  const drift = { unknown: parseList(plan.last.unknown_columns), missing: parseList(plan.last.missing_columns) };
  const counts: RunCounts = { fetched: 0, inserted: 0, updated: 0, unchanged: plan.last.accepted, removed: 0, restored: 0, rejected: plan.last.rejected };
  const sync: SyncState = { sync: "unchanged", reason: plan.reason, columns: planned.columns, maxUpdatedAt: plan.last.source_max_updated_at };
  finishRun(db, runId, { counts, drift, sourceRowsUpdatedAt: planned.sourceRowsUpdatedAt, now: run.options.now(), durationMs: elapsed(run.started), sync });
  run.options.log.info("fetch", "unchanged upstream: no rows fetched", { run: runId, reason: plan.reason, ms: elapsed(stage) });
  return { runId, counts, drift, changed: false, sync: "unchanged", syncReason: plan.reason };
}

/** The rows: the changed ones and the proof of the rest when an incremental read can be trusted, else every row. */
async function readSource(run: Run, planned: Planned): Promise<{ read: Read; sync: "full" | "incremental"; reason: string }> {
  const { plan, metadata } = planned;
  let reason = plan.reason;
  if (plan.sync === "incremental") {
    const objectids = metadata.columns.some((column) => column.fieldName === "objectid");
    const changes = await fetchChanges(run.source, run.db, plan.since, { objectids });
    if (changes.ok) {
      // columns only unchanged rows carry were seen by the run that read them: carried over
      const drift = detectDrift(metadata, [...rowKeys(changes.rows), ...parseList(plan.last.unknown_columns)]);
      if (sameDrift(drift, plan.last)) {
        const { listed, months, total, unchanged } = changes;
        const listing = months === null ? "every row" : months.length === 0 ? "no month" : `${months.length} month${months.length === 1 ? "" : "s"} (${months.map((m) => m ?? "no death date").join(", ")})`;
        run.options.log.info("fetch", `counts by month of death: listed ${listed.length} rows of ${listing}`, { run: run.runId, listed: listed.length, months: months ?? "all" });
        return { read: { rows: changes.rows, drift, incremental: { listed, months, total, unchanged } }, sync: "incremental", reason };
      }
      reason = "the columns the rows carry changed";
    } else reason = changes.reason;
    run.options.log.info("fetch", `reading every row: ${reason}`, { run: run.runId });
  }
  return { read: await readAll(run.source, metadata), sync: "full", reason };
}

/** Every row normalized, refused when too many are rejected. */
function validateRead(run: Run, read: Read): ReturnType<typeof validate> {
  const stage = performance.now();
  const { valid, rejected } = validate(read.rows, chicagoDate(run.at));
  run.options.log.info("validate", `${valid.length} valid, ${rejected.length} rejected`, { valid: valid.length, rejected: rejected.length, ms: elapsed(stage) });
  // The share is of every row the source holds: an incremental run refetches every row refused before.
  const rows = read.incremental?.total ?? read.rows.length;
  checkRejectShare(rows, rejected.length, () => (rejected.length > 0 ? reasonsText(rejected[0].result.reasons) : undefined), run.limits);
  return { valid, rejected };
}

/**
 * The differences in one transaction: cases written, rejects kept, removals marked unless they look
 * like a broken source, and the run recorded as finished; its counts.
 */
function commitRun(run: Run, planned: Planned, result: ReturnType<typeof validate> & { read: Read; sync: "full" | "incremental"; reason: string }): RunCounts {
  const { db, runId } = run;
  const { read, valid, rejected, sync, reason } = result;
  const dataset = run.options.config.dataset;
  const writer = new CaseWriter(db, runId);
  const last = planned.plan.sync === "incremental" ? planned.plan.last : undefined;
  const maxUpdatedAt = newestUpdate(read.rows, sync === "incremental" ? (last?.source_max_updated_at ?? null) : null);
  const rows = read.incremental?.total ?? read.rows.length;
  db.transaction(() => {
    for (const row of valid) writer.apply(row);
    for (const { result: refused, raw } of rejected) writer.reject(refused, raw);
    if (read.incremental) writer.markListed(listedCaseNumbers(read.incremental.listed), read.incremental.months ?? undefined);
    const scope = removalScopeFor(dataset);
    const { unseen, active } = writer.countUnseen(scope);
    // an incremental run's valid rows are only the changed ones: the counts say whether the source is empty
    const empty = read.incremental ? rows === 0 : valid.length === 0;
    if (empty && active > 0) throw new RunRefusedError(`the portal returned no cases but the database has ${active}`, { hint: "the source looks broken; nothing was changed" });
    checkRemovalShare({ unseen, active }, run.limits, "the portal", "nothing was changed");
    writer.markRemoved(scope);
    writer.counts.fetched = read.rows.length;
    writer.counts.unchanged += read.incremental?.unchanged ?? 0;
    const syncState = { sync, reason, columns: planned.columns, maxUpdatedAt };
    finishRun(db, runId, { counts: writer.counts, drift: read.drift, sourceRowsUpdatedAt: planned.sourceRowsUpdatedAt, now: run.options.now(), durationMs: elapsed(run.started), sync: syncState });
  }).immediate();
  return writer.counts;
}

/** Every row, and the columns they carry against what the view describes. */
async function readAll(source: SocrataSource, metadata: ViewMetadata): Promise<Read> {
  const rows: RawRow[] = [];
  for await (const page of source.pages()) for (const row of page) rows.push(row);
  return { rows, drift: detectDrift(metadata, rowKeys(rows)) };
}

function rowKeys(rows: readonly RawRow[]): Set<string> {
  const keys = new Set<string>();
  for (const row of rows) for (const key in row) keys.add(key);
  return keys;
}

function* listedCaseNumbers(listed: readonly ListedRow[]): Generator<string> {
  for (const row of listed) {
    const key = caseNumberKey(row.casenumber);
    if (key !== null) yield key;
  }
}

function parseList(json: string | null): string[] {
  return json === null ? [] : (JSON.parse(json) as string[]);
}

function sameDrift(drift: Drift, last: LastSync): boolean {
  return JSON.stringify(drift.unknown) === (last.unknown_columns ?? "[]") && JSON.stringify(drift.missing) === (last.missing_columns ?? "[]");
}

interface RejectedRow {
  result: Rejected;
  raw: RawRow;
}

/**
 * Normalizes every row. A case number the source lists twice keeps the row `laterWins` picks, and
 * the other is rejected as a duplicate.
 */
export function validate(raws: RawRow[], today: string): { valid: Normalized[]; rejected: RejectedRow[] } {
  const valid: Normalized[] = [];
  const rejected: RejectedRow[] = [];
  const kept = new Map<string, { index: number; raw: RawRow }>();
  for (const raw of raws) {
    const result = normalizeRow(raw, { today });
    if (!result.ok) {
      rejected.push({ result, raw });
      continue;
    }
    const casenumber = result.case.casenumber;
    const earlier = kept.get(casenumber);
    if (!earlier) {
      kept.set(casenumber, { index: valid.length, raw });
      valid.push(result);
      continue;
    }
    const current = valid[earlier.index];
    const newer = laterWins(result, current);
    const loser = newer ? { row: current, raw: earlier.raw } : { row: result, raw };
    const winner = newer ? result : current;
    rejected.push({
      result: {
        ok: false,
        casenumber,
        sourceRowId: loser.row.sourceRowId,
        reasons: [duplicateCase(`kept row ${winner.sourceRowId ?? "?"} (updated ${winner.sourceUpdatedAt ?? "?"})`)],
      },
      raw: loser.raw,
    });
    if (newer) {
      valid[earlier.index] = result;
      kept.set(casenumber, { index: earlier.index, raw });
    }
  }
  return { valid, rejected };
}
