/**
 * What a nightly ingest must read. Most nights the view has not changed at all: its metadata says
 * so, and no row is fetched. Otherwise only the rows updated since the newest `:updated_at` the
 * record holds (less a safety overlap) are fetched, with the rows refused before and the source's
 * row counts by month of death; the `:id`s and case numbers of only the months whose counts differ
 * from the record's tell removals apart there and prove the rest unchanged (month-proof.ts, which
 * also says what that proof cannot see). Whenever the proof fails, or the last full read is a
 * week old, the ingest reads everything, as it always could.
 */
import type { RawRow } from "../../schemas/source-columns.ts";
import type { ViewMetadata } from "../../schemas/view-metadata.ts";
import type { DB } from "../store/db.ts";
import type { LastSync } from "../store/run-records.ts";
import { AFTER_TODAY } from "../normalize/reasons.ts";
import { caseNumberKey, chicagoDate } from "../normalize/row.ts";
import { columnsSignature, rowsUpdatedAt, type ListedRow, type SocrataSource } from "../source/socrata.ts";
import { monthOf, monthsToList, monthsWhere, refusedIds, storedRows, unsettled, type Stored } from "./month-proof.ts";

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
      /** The rows the source lists in `months`. */
      listed: ListedRow[];
      /** The months listed ("YYYY-MM", null for the rows without a death date), or null when every row was. */
      months: Array<string | null> | null;
      /** How many rows the source holds. */
      total: number;
      /** Rows proven unchanged without being fetched. */
      unchanged: number;
    }
  | { ok: false; reason: string };

/**
 * Fetches what changed since the plan's watermark and the rows refused before, and proves the
 * rest unchanged: by the counts by month (month-proof.ts; `objectids`: the view has that column,
 * whose sums the counts carry too), then, in the months whose counts disagree, row by row: every
 * listed row not fetched must be a stored, present case under the same `:id`, case number, month
 * and objectid. Rows that fail that are fetched by id; when too many do, or the lists do not
 * agree, the answer is a reason to read everything instead.
 */
export async function fetchChanges(source: SocrataSource, db: DB, since: string, options: { objectids: boolean }): Promise<Changes> {
  const counts = await source.monthCounts(options);
  const fetched = new Map<string, RawRow>();
  for await (const page of source.pages(`:updated_at >= '${since}'`)) for (const row of page) fetched.set(String(row[":id"]), row);
  const stored = storedRows(db);
  let total = 0;
  for (const { n } of counts.values()) total += n;
  const limit = Math.max(IDS_PER_REQUEST, Math.ceil(total / 20));
  // a refused row is counted where it stands now, or not at all once gone
  const again = [...refusedIds(db, stored)].filter((id) => !fetched.has(id));
  if (again.length > limit) return { ok: false, reason: `${again.length} rows refused before are to be read again` };
  for (const row of await fetchByIds(source, again)) fetched.set(String(row[":id"]), row);

  const months = monthsToList(counts, stored, fetched, options.objectids);
  // a listing carries what the counts compare, so that a row which moved or was renumbered without
  // a new stamp is read again and the counts agree the next night
  const fields = options.objectids ? (["death_date", "objectid"] as const) : (["death_date"] as const);
  const listed = months === null ? await source.listed(undefined, fields) : months.length === 0 ? [] : await source.listed(monthsWhere(months), fields);
  const proof = proveListed(listed, months, stored, fetched);
  if (!proof.ok) return proof;
  const { unaccounted } = proof;
  if (unaccounted.length > limit) return { ok: false, reason: `${unaccounted.length} listed rows are not in the record as they stand` };
  const late = await fetchByIds(source, unaccounted);
  if (late.length !== unaccounted.length) return { ok: false, reason: "rows listed by id did not all come back (the source changed while it was read)" };
  const rows = [...fetched.values(), ...late].sort((a, b) => (String(a[":id"]) < String(b[":id"]) ? -1 : 1));
  return { ok: true, rows, listed, months, total, unchanged: Math.max(0, total - rows.length) };
}

/**
 * The row-by-row proof in the listed months: no case number listed twice (among the listed and the
 * fetched rows), every fetched row of a listed month listed, and the listed rows the record does
 * not hold as they are (under another id, case number, month or objectid: to fetch by id), each
 * settling only cases stored in the listed months.
 */
function proveListed(
  listed: readonly ListedRow[],
  months: Array<string | null> | null,
  stored: Stored,
  fetched: ReadonlyMap<string, RawRow>,
): { ok: true; unaccounted: string[] } | { ok: false; reason: string } {
  const scope = months === null ? null : new Set(months);
  const numbers = new Map<string, string>();
  const claim = (id: string, casenumber: unknown): string | undefined => {
    const key = caseNumberKey(casenumber);
    if (key === null) return undefined;
    const other = numbers.get(key);
    if (other !== undefined && other !== id) return key;
    numbers.set(key, id);
    return undefined;
  };
  const ids = new Set<string>();
  for (const row of listed) {
    ids.add(row.id);
    const twice = claim(row.id, row.casenumber);
    if (twice) return { ok: false, reason: `the source lists case ${twice} more than once` };
  }
  for (const [id, row] of fetched) {
    if ((scope === null || scope.has(monthOf(row))) && !ids.has(id)) {
      return { ok: false, reason: `row ${id} changed but is not in the list of rows (the source changed while it was read)` };
    }
    const twice = claim(id, row.casenumber);
    if (twice) return { ok: false, reason: `the source lists case ${twice} more than once` };
  }
  const unaccounted: string[] = [];
  for (const row of listed) {
    if (fetched.has(row.id)) continue;
    const known = stored.byId.get(row.id);
    const same = known && !known.removed && known.casenumber === caseNumberKey(row.casenumber);
    if (same && (row.month === undefined || row.month === known.month) && (row.objectid === undefined || row.objectid === known.objectid)) continue;
    const outside = scope === null ? undefined : unsettled(row.id, row, stored, fetched).find((month) => !scope.has(month));
    if (outside !== undefined) return { ok: false, reason: `row ${row.id} speaks for a case stored in ${outside}, a month not listed` };
    unaccounted.push(row.id);
  }
  return { ok: true, unaccounted };
}

/** Rows by `:id`, a request per hundred; those the source no longer holds do not come back. */
async function fetchByIds(source: SocrataSource, ids: readonly string[]): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
    const batch = ids.slice(i, i + IDS_PER_REQUEST);
    for await (const page of source.pages(`:id IN (${batch.map((id) => `'${id.replaceAll("'", "''")}'`).join(", ")})`)) rows.push(...page);
  }
  return rows;
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
