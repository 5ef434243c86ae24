/**
 * `vigil ingest`: one full sync of the dataset from the portal. Fetch everything, validate,
 * then diff and commit in one transaction; a failure changes nothing but the run's own record.
 */
import type { Command } from "./command.ts";
import { SOURCE_OPTIONS } from "./command.ts";
import type { Config } from "../schemas/config.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { openDatabase } from "./db.ts";
import { RunRefusedError, UsageError } from "./errors.ts";
import { HttpClient, type HttpOptions } from "./http.ts";
import { elapsed, type Logger } from "./log.ts";
import { chicagoDate, normalizeRow, type Normalized, type Rejected } from "./normalize.ts";
import { abandonStaleRuns, acquireWriteLock, failRun, finishRun, startRun, type Drift, type RunCounts } from "./runs.ts";
import { detectDrift, rowsUpdatedAt, SocrataSource } from "./socrata.ts";
import { CaseWriter, removalScopeFor } from "./sync.ts";

export interface Limits {
  /** Largest share of rejected rows a run accepts before it assumes the format changed. */
  maxRejectShare: number;
  /** Largest share of published cases a run may tombstone at once. */
  maxRemovedShare: number;
}

export const DEFAULT_LIMITS: Limits = { maxRejectShare: 0.1, maxRemovedShare: 0.5 };

/** Rejects below this many never trip the share check, so a tiny source with one bad row still loads. */
const REJECT_FLOOR = 5;

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
    checkRejects(raws.length, valid.length, rejected, limits);

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
      if (unseen > 0 && unseen > active * limits.maxRemovedShare) {
        throw new RunRefusedError(`the portal no longer lists ${unseen} of ${active} cases (over ${limits.maxRemovedShare * 100}%)`, {
          hint: "the source looks truncated; nothing was changed (raise --max-removed-share if the removals are real)",
        });
      }
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
 * Normalizes every row. A case number the source lists twice keeps the row updated last (then the
 * greater :id), and the other is rejected as a duplicate.
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
    const newer = newerThan(result, current);
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

function newerThan(a: Normalized, b: Normalized): boolean {
  const byTime = (a.sourceUpdatedAt ?? "").localeCompare(b.sourceUpdatedAt ?? "");
  return byTime !== 0 ? byTime > 0 : (a.sourceRowId ?? "") > (b.sourceRowId ?? "");
}

export function checkRejects(fetched: number, valid: number, rejected: RejectedRow[], limits: Limits): void {
  const share = fetched === 0 ? 0 : rejected.length / fetched;
  if ((fetched > 0 && valid === 0) || (rejected.length > REJECT_FLOOR && share > limits.maxRejectShare)) {
    const sample = rejected[0]?.result.reasons.join("; ") ?? "";
    throw new RunRefusedError(
      `${rejected.length} of ${fetched} rows failed validation (over ${Math.round(limits.maxRejectShare * 100)}%); first: ${sample}`,
      { hint: "the source's format may have changed; nothing was loaded" },
    );
  }
}

export const command: Command = {
  help: `
Fetches every row of the dataset (view metadata, then pages of 50,000 ordered by :id), validates and
normalizes them, and commits the differences in one transaction: new cases, field-level corrections,
removals (kept as tombstones), rejected rows with their reasons. A run that would reject an implausible
share of rows, or that finds the source empty or truncated, changes nothing but its own record in \`runs\`.

Examples:
  vigil ingest
  vigil ingest --db /srv/vigil/vigil.db
  SOCRATA_APP_TOKEN=... vigil ingest --dataset 3trz-enys`,
  options: {
    ...SOURCE_OPTIONS,
    "max-reject-share": { type: "string", arg: "SHARE", description: "fail when more than this share of rows is rejected (default 0.1)" },
    "max-removed-share": { type: "string", arg: "SHARE", description: "fail when more than this share of cases would be removed (default 0.5)" },
  },
  async run(ctx) {
    const result = await ingest({ config: ctx.config, log: ctx.log, now: ctx.now, signal: ctx.signal, limits: parseLimits(ctx.values) });
    ctx.stdout.write(summaryLine(result) + "\n");
  },
};

export function parseLimits(values: Record<string, unknown>): Partial<Limits> {
  const limits: Partial<Limits> = {};
  for (const [flag, key] of [["max-reject-share", "maxRejectShare"], ["max-removed-share", "maxRemovedShare"]] as const) {
    const value = values[flag];
    if (value === undefined) continue;
    const n = Number(value);
    if (typeof value !== "string" || !(n >= 0 && n <= 1)) throw new UsageError(`--${flag} must be a number from 0 to 1, got "${String(value)}"`);
    limits[key] = n;
  }
  return limits;
}

export function summaryLine(result: RunResult): string {
  const c = result.counts;
  return `run ${result.runId}: ${c.fetched} fetched, ${c.inserted} inserted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.removed} removed, ${c.rejected} rejected`;
}
