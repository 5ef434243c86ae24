/**
 * What a nightly ingest must read. Most nights the view has not changed at all: its metadata says
 * so, and no row is fetched. Otherwise only the rows updated since the newest `:updated_at` the
 * record holds (less a safety overlap) are fetched, with the list of every row's `:id` and case
 * number, which tells removals apart and proves the rest unchanged. Whenever that proof fails, or
 * the last full read is a week old, the ingest reads everything, as it always could.
 */
import type { RawRow } from "../../schemas/source-columns.ts";
import type { ViewMetadata } from "../../schemas/view-metadata.ts";
import type { DB } from "../store/db.ts";
import type { LastSync } from "../store/run-records.ts";
import { AFTER_TODAY } from "../normalize/reasons.ts";
import { caseNumberKey, chicagoDate } from "../normalize/row.ts";
import { columnsSignature, rowsUpdatedAt, type ListedRow, type SocrataSource } from "../source/socrata.ts";

/** A full read at least this often, whatever the metadata says. */
export const FULL_SYNC_EVERY_DAYS = 7;
/** Rows updated this long before the newest `:updated_at` seen are read again: clocks and commits are not instant. */
export const OVERLAP_HOURS = 24;
/** Row ids fetched one request at a time, in `:id IN (...)` lists. */
const IDS_PER_REQUEST = 100;

export type SyncPlan =
  | { sync: "full"; reason: string }
  | { sync: "unchanged"; reason: string; last: LastSync }
  | { sync: "incremental"; reason: string; last: LastSync; since: string };

/** Decides from the view's metadata and the last run alone, before any row is fetched. */
export function planSync(
  db: DB,
  options: { metadata: ViewMetadata; last: LastSync | undefined; full: boolean; now: Date },
): SyncPlan {
  const { metadata, last } = options;
  if (options.full) return { sync: "full", reason: "asked for (--full)" };
  if (!last) return { sync: "full", reason: "no earlier ingest of this dataset from this portal to build on" };
  if (last.last_full_at === null || options.now.getTime() - Date.parse(last.last_full_at) > FULL_SYNC_EVERY_DAYS * 86_400_000) {
    return { sync: "full", reason: `the last full sync is more than ${FULL_SYNC_EVERY_DAYS} days old` };
  }
  if (columnsSignature(metadata) !== last.source_columns) return { sync: "full", reason: "the view's columns changed" };
  if (last.source_max_updated_at === null) return { sync: "full", reason: "the rows read last time carried no :updated_at" };
  const updated = rowsUpdatedAt(metadata);
  if (updated !== null && updated === last.source_rows_updated_at && !refusalsMayNowPass(db, options.now)) {
    return { sync: "unchanged", reason: `rowsUpdatedAt and columns as in run ${last.id}`, last };
  }
  // Written without a zone, as SoQL timestamps are: a portal reading it as Chicago time instead of
  // UTC moves it 5 or 6 hours later, which the day of overlap still covers.
  const since = new Date(Date.parse(last.source_max_updated_at) - OVERLAP_HOURS * 3_600_000).toISOString().slice(0, -1);
  return { sync: "incremental", reason: `rows updated since ${since} UTC`, last, since };
}

/** The reject `r` carries the code bound to this parameter. */
const HAS_CODE = "EXISTS (SELECT 1 FROM json_each(r.codes) WHERE value = ?)";

/**
 * A row refused because its death date was after the day of the run may pass today, and a full
 * read would then load it although the source did not change.
 */
function refusalsMayNowPass(db: DB, now: Date): boolean {
  const dated = db.prepare(`SELECT 1 FROM rejects r WHERE ${HAS_CODE} LIMIT 1`).get(AFTER_TODAY);
  // most nights there are none, and the day in Chicago costs a time-zone database to work out
  if (dated === undefined) return false;
  return (
    db
      .prepare(
        `SELECT 1 FROM rejects r
         WHERE ${HAS_CODE} AND substr(json_extract(r.raw, '$.death_date'), 1, 10) <= ?
           AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.source_row_id = r.source_row_id AND c.source_updated_at IS json_extract(r.raw, '$.":updated_at"'))
         LIMIT 1`,
      )
      .get(AFTER_TODAY, chicagoDate(now)) !== undefined
  );
}

export type Changes =
  | {
      ok: true;
      /** The rows to validate and apply, in `:id` order. */
      rows: RawRow[];
      /** Every row the source lists. */
      listed: ListedRow[];
      /** Listed rows proven unchanged without being fetched. */
      unchanged: number;
    }
  | { ok: false; reason: string };

/**
 * Fetches what changed since the plan's watermark, and proves the rest unchanged: every listed
 * row not fetched must be a stored, present case under the same `:id` and case number whose row
 * was never refused. Rows that fail that are fetched by id; when too many do, or the lists do not
 * agree, the answer is a reason to read everything instead.
 */
export async function fetchChanges(source: SocrataSource, db: DB, since: string): Promise<Changes> {
  const listed = await source.listed();
  const changed: RawRow[] = [];
  for await (const page of source.pages(`:updated_at >= '${since}'`)) changed.push(...page);

  const numbers = new Set<string>();
  for (const row of listed) {
    const key = caseNumberKey(row.casenumber);
    if (key === null) continue;
    if (numbers.has(key)) return { ok: false, reason: `the source lists case ${key} more than once` };
    numbers.add(key);
  }
  const ids = new Set(listed.map((row) => row.id));
  const fetched = new Set<string>();
  for (const row of changed) {
    const id = String(row[":id"]);
    if (!ids.has(id)) return { ok: false, reason: `row ${id} changed but is not in the list of rows (the source changed while it was read)` };
    fetched.add(id);
  }

  const stored = new Map<string, { casenumber: string; removed: boolean }>();
  for (const row of db.prepare("SELECT source_row_id AS id, casenumber, removed_run_id IS NOT NULL AS removed FROM cases WHERE source_row_id IS NOT NULL").iterate() as Iterable<{ id: string; casenumber: string; removed: number }>) {
    stored.set(row.id, { casenumber: row.casenumber, removed: row.removed === 1 });
  }
  const refused = new Set(db.prepare("SELECT DISTINCT source_row_id FROM rejects WHERE source_row_id IS NOT NULL").pluck().all() as string[]);
  const unaccounted: string[] = [];
  let unchanged = 0;
  for (const row of listed) {
    if (fetched.has(row.id)) continue;
    const known = stored.get(row.id);
    if (known && !known.removed && known.casenumber === caseNumberKey(row.casenumber) && !refused.has(row.id)) unchanged++;
    else unaccounted.push(row.id);
  }
  const limit = Math.max(IDS_PER_REQUEST, Math.ceil(listed.length / 20));
  if (unaccounted.length > limit) return { ok: false, reason: `${unaccounted.length} listed rows are not in the record as they stand` };
  for (let i = 0; i < unaccounted.length; i += IDS_PER_REQUEST) {
    const batch = unaccounted.slice(i, i + IDS_PER_REQUEST);
    for await (const page of source.pages(`:id IN (${batch.map((id) => `'${id.replaceAll("'", "''")}'`).join(", ")})`)) changed.push(...page);
  }
  if (changed.length !== fetched.size + unaccounted.length) return { ok: false, reason: "rows listed by id did not all come back (the source changed while it was read)" };
  changed.sort((a, b) => (String(a[":id"]) < String(b[":id"]) ? -1 : 1));
  return { ok: true, rows: changed, listed, unchanged };
}

/** The newest `:updated_at` among the rows and the watermark carried over, or null. */
export function newestUpdate(rows: readonly RawRow[], carried: string | null): string | null {
  let newest = carried;
  for (const row of rows) {
    const value = row[":updated_at"];
    if (typeof value === "string" && (newest === null || value > newest)) newest = value;
  }
  return newest;
}
