/**
 * One full sync of the dataset from the portal (`vigil ingest`, and the first step of `vigil run`).
 * Fetch everything, validate, then diff and commit in one transaction; a failure changes nothing but
 * the run's own record.
 */
import type { Config } from "../../schemas/config.ts";
import type { Drift, RawRow } from "../../schemas/source-columns.ts";
import { openDatabase } from "../store/db.ts";
import { RunRefusedError } from "../errors.ts";
import { HttpClient, type HttpOptions } from "../source/http.ts";
import { elapsed, type Logger } from "../log.ts";
import { chicagoDate, normalizeRow, type Normalized, type Rejected } from "../normalize/row.ts";
import { laterWins } from "../normalize/duplicates.ts";
import { checkRejectShare, checkRemovalShare, DEFAULT_LIMITS, type Limits } from "../store/limits.ts";
import { acquireWriteLock } from "../store/lock.ts";
import { abandonStaleRuns, failRun, finishRun, startRun, type RunCounts } from "../store/run-records.ts";
import { detectDrift, rowsUpdatedAt, SocrataSource } from "../source/socrata.ts";
import { CaseWriter, removalScopeFor } from "../store/case-writer.ts";

export interface IngestOptions {
  config: Pick<Config, "db" | "portal" | "dataset" | "appToken">;
  log: Logger;
  now: () => Date;
  signal?: AbortSignal;
  limits?: Partial<Limits>;
  http?: Omit<HttpOptions, "appToken" | "log" | "signal">;
}

export interface RunResult {
  runId: number;
  counts: RunCounts;
  drift: Drift;
  /** Whether the run changed any case (insert, update, removal or restore). */
  changed: boolean;
}

export async function ingest(options: IngestOptions): Promise<RunResult> {
  const { config, log, now } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const started = performance.now();
  const db = openDatabase(config.db);
  const lock = acquireWriteLock(config.db, db);
  abandonStaleRuns(db, now());
  const runId = startRun(db, { kind: "ingest", portal: config.portal, dataset: config.dataset, now: now() });
  const http = new HttpClient({ ...options.http, appToken: config.appToken, log, signal: options.signal });
  const source = new SocrataSource(http, config.portal, config.dataset);
  let partial: Partial<RunCounts> & { drift?: Drift } = {};
  try {
    let stage = performance.now();
    const metadata = await source.metadata();
    const raws: RawRow[] = [];
    for await (const page of source.pages()) {
      for (const row of page) raws.push(row);
      log.debug("fetch", "page", { rows: page.length });
    }
    const keys = new Set<string>();
    for (const row of raws) for (const key in row) keys.add(key);
    const drift = detectDrift(metadata, keys);
    partial = { fetched: raws.length, drift };
    log.info("fetch", `fetched ${raws.length} rows`, { dataset: config.dataset, rows: raws.length, ms: elapsed(stage) });
    if (drift.unknown.length || drift.missing.length) {
      log.warn("fetch", "the source's columns differ from what vigil knows", { unknown: drift.unknown, missing: drift.missing });
    }

    stage = performance.now();
    const today = chicagoDate(now());
    const { valid, rejected } = validate(raws, today);
    partial.rejected = rejected.length;
    log.info("validate", `${valid.length} valid, ${rejected.length} rejected`, { valid: valid.length, rejected: rejected.length, ms: elapsed(stage) });
    checkRejectShare(raws.length, rejected.length, () => rejected[0]?.result.reasons.join("; "), limits);

    stage = performance.now();
    const writer = new CaseWriter(db, runId);
    db.transaction(() => {
      for (const row of valid) writer.apply(row);
      for (const { result, raw } of rejected) writer.reject(result, raw);
      const scope = removalScopeFor(config.dataset);
      const { unseen, active } = writer.countUnseen(scope);
      if (valid.length === 0 && active > 0) {
        throw new RunRefusedError(`the portal returned no cases but the database has ${active}`, { hint: "the source looks broken; nothing was changed" });
      }
      checkRemovalShare({ unseen, active }, limits, "the portal", "nothing was changed");
      writer.markRemoved(scope);
      writer.counts.fetched = raws.length;
      finishRun(db, runId, { counts: writer.counts, drift, sourceRowsUpdatedAt: rowsUpdatedAt(metadata), now: now(), durationMs: elapsed(started) });
    }).immediate();
    const { counts } = writer;
    log.info("load", `${counts.inserted} inserted, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.removed} removed`, {
      run: runId,
      ...counts,
      ms: elapsed(stage),
    });
    return { runId, counts, drift, changed: counts.inserted + counts.updated + counts.removed + counts.restored > 0 };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failRun(db, runId, message, now(), elapsed(started), partial);
    throw error;
  } finally {
    await http.close();
    lock.release();
    db.close();
  }
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
        reasons: [`casenumber appears more than once in the source; kept row ${winner.sourceRowId ?? "?"} (updated ${winner.sourceUpdatedAt ?? "?"})`],
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
