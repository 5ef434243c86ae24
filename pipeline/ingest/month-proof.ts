/**
 * The proof an incremental night rests on, at the cost of one grouped query: the source's rows
 * counted by month of death (`date_trunc_ym(death_date)`), with the sum of their `objectid`s,
 * against the record's own count and sum of the same rows: the stored cases by the month their
 * source wrote, plus the rows refused still, after the night's fetched rows take the place of the
 * ones they replace. Where both agree, no row was removed and none arrived unseen: nothing there
 * is listed. (The sum is what tells a removal from an arrival in the same month: the count alone
 * cannot.) Only the months that disagree (and
 * the months of stored cases a fetched row no longer speaks for) are listed by `:id` and case
 * number, and only there can a case be tombstoned.
 *
 * The weakness, on purpose: in one month, a removal and an arrival stamped before the watermark
 * (an import carrying an old `:updated_at`) cancel out when their `objectid`s match as well (the
 * same objectid, or both without one, or removals and arrivals whose objectids sum the same), and
 * so do, alike, a row moved out of a month without a new stamp and another moved in. A view
 * without an `objectid` column is proven by the counts alone, where any removal and arrival in one
 * month cancel. The weekly full read (FULL_SYNC_EVERY_DAYS) finds what this misses.
 */
import type { RawRow } from "../../schemas/source-columns.ts";
import type { DB } from "../store/db.ts";
import { caseNumberKey } from "../normalize/row.ts";
import { numberOrNull, type MonthCount } from "../source/socrata.ts";

/** More months than this to list, and the whole listing is asked for instead (one plain query). */
export const MAX_MONTHS_LISTED = 36;

const MONTH = /^\d{4}-\d\d$/;

/** A stored case with a source row. */
export interface StoredRow {
  casenumber: string;
  /** "YYYY-MM" of its death date: the source's month, as cases.death_date is the day the source wrote. */
  month: string;
  objectid: number | null;
  removed: boolean;
  updatedAt: string | null;
  changedRun: number;
}

export interface Stored {
  /** Stored cases by their source row's `:id`. */
  byId: Map<string, StoredRow>;
  /** Present stored cases by case number: the row they were read from. */
  byNumber: Map<string, { id: string; month: string }>;
}

/** Every stored case that has a source row. */
export function storedRows(db: DB): Stored {
  const byId = new Map<string, StoredRow>();
  const byNumber = new Map<string, { id: string; month: string }>();
  const rows = db
    .prepare(
      `SELECT source_row_id AS id, casenumber, substr(death_date, 1, 7) AS month, objectid, removed_run_id IS NOT NULL AS removed,
              source_updated_at AS updatedAt, changed_run_id AS changedRun
       FROM cases WHERE source_row_id IS NOT NULL`,
    )
    .raw()
    .iterate() as Iterable<[string, string, string, number | null, number, string | null, number]>;
  for (const [id, casenumber, month, objectid, removed, updatedAt, changedRun] of rows) {
    byId.set(id, { casenumber, month, objectid, removed: removed === 1, updatedAt, changedRun });
    if (removed === 0) byNumber.set(casenumber, { id, month });
  }
  return { byId, byNumber };
}

/**
 * The rows refused before that may be refused still, to read again by `:id`: every refused row's
 * id but those a later run accepted (a present case stored from that row, written after the
 * refusal from a version at least as new).
 */
export function refusedIds(db: DB, stored: Stored): Set<string> {
  const ids = new Set<string>();
  const rows = db
    .prepare(`SELECT source_row_id, run_id, json_extract(raw, '$.":updated_at"') FROM rejects WHERE source_row_id IS NOT NULL`)
    .raw()
    .iterate() as Iterable<[string, number, unknown]>;
  for (const [id, run, updated] of rows) {
    const now = stored.byId.get(id);
    const superseded = now !== undefined && !now.removed && now.changedRun > run && typeof updated === "string" && now.updatedAt !== null && now.updatedAt >= updated;
    if (!superseded) ids.add(id);
  }
  return ids;
}

/** The month the portal counts a raw row under: its death timestamp's first seven characters as written, or null without one. */
export function monthOf(row: RawRow): string | null {
  const value = row.death_date;
  return typeof value === "string" ? value.slice(0, 7) : null;
}

/**
 * The months to list (null: the rows without a death date), or null to list every row: too many
 * months, or a month key of a shape vigil cannot ask for again. `objectids`: whether the portal's
 * counts carry their sums, to compare too.
 */
export function monthsToList(
  portal: ReadonlyMap<string | null, MonthCount>,
  stored: Stored,
  fetched: ReadonlyMap<string, RawRow>,
  objectids: boolean,
): Array<string | null> | null {
  const record = new Map<string | null, { n: number; objectids: number }>();
  const add = (month: string | null, objectid: number | null) => {
    const count = record.get(month) ?? { n: 0, objectids: 0 };
    record.set(month, { n: count.n + 1, objectids: count.objectids + (objectid ?? 0) });
  };
  for (const [id, row] of stored.byId) if (!row.removed && !fetched.has(id)) add(row.month, row.objectid);
  for (const row of fetched.values()) add(monthOf(row), numberOrNull(row.objectid));
  const months = new Set<string | null>();
  for (const month of new Set([...portal.keys(), ...record.keys()])) {
    const theirs = portal.get(month);
    const ours = record.get(month);
    if ((theirs?.n ?? 0) !== (ours?.n ?? 0) || (objectids && (theirs?.objectids ?? 0) !== (ours?.objectids ?? 0))) months.add(month);
  }
  for (const [id, row] of fetched) for (const month of unsettled(id, row, stored, fetched)) months.add(month);
  if (months.size > MAX_MONTHS_LISTED || [...months].some((month) => month !== null && !MONTH.test(month))) return null;
  return [...months].sort((a, b) => (a === null ? -1 : b === null ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The months of stored cases that the row `id` does not settle: the case stored from it under
 * another case number (no longer listed under it), and the case stored under its case number
 * from another row (listed still, a duplicate, or gone). Only a listing of their months tells.
 */
export function unsettled(id: string, row: { casenumber?: unknown }, stored: Stored, fetched: ReadonlyMap<string, unknown>): string[] {
  const months: string[] = [];
  const key = caseNumberKey(row.casenumber);
  const own = stored.byId.get(id);
  if (own && !own.removed && own.casenumber !== key) months.push(own.month);
  const other = key === null ? undefined : stored.byNumber.get(key);
  if (other && other.id !== id && !fetched.has(other.id)) months.push(other.month);
  return months;
}

/** A `$where` picking the rows of these months (null: without a death date). */
export function monthsWhere(months: ReadonlyArray<string | null>): string {
  return months.map((month) => (month === null ? "death_date IS NULL" : `(death_date >= '${month}-01T00:00:00' AND death_date < '${nextMonth(month)}-01T00:00:00')`)).join(" OR ");
}

function nextMonth(month: string): string {
  const [year, m] = month.split("-").map(Number);
  return m === 12 ? `${year + 1}-01` : `${year}-${String(m + 1).padStart(2, "0")}`;
}
