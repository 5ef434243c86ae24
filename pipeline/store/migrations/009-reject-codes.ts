/**
 * Why a row was refused, as stable codes beside the words (`rejects.codes`, a JSON array), so that
 * code and queries match a code, never wording. Rows refused before get their codes here, read
 * from the words vigil wrote until this version (rejectCodes009).
 */
import type Database from "better-sqlite3";
import type { Migration } from "./migration.ts";

export const migration: Migration = {
  name: "009-reject-codes",
  sql: "ALTER TABLE rejects ADD COLUMN codes TEXT NOT NULL DEFAULT '[]';",
  fill(db: Database.Database) {
    const update = db.prepare("UPDATE rejects SET codes = ? WHERE id = ?");
    const batch = db.prepare("SELECT id, reasons FROM rejects WHERE id > ? ORDER BY id LIMIT 10000");
    // in batches: a statement cannot write while another one is still reading
    for (let after = 0, rows; (rows = batch.all(after) as Array<{ id: number; reasons: string }>).length > 0; after = rows[rows.length - 1].id) {
      for (const row of rows) update.run(JSON.stringify(rejectCodes009(row.reasons)), row.id);
    }
  },
};

/** The fields a reason could name until this version: the source's columns and system fields. */
const FIELDS = new Set([
  "casenumber", "incident_date", "death_date", "age", "gender", "race", "latino", "manner", "primarycause",
  "primarycause_linea", "primarycause_lineb", "primarycause_linec", "secondarycause", "gunrelated", "opioids",
  "cold_related", "heat_related", "commissioner_district", "incident_street", "incident_city", "incident_zip",
  "residence_city", "residence_zip", "latitude", "longitude", "location", "objectid", "chi_ward", "chi_commarea",
  "covid_related", "transportation_related_type", "transportation_status", ":id", ":created_at", ":updated_at", "row",
]);

/**
 * The codes of the words in `rejects.reasons` as vigil wrote them until this version: reasons
 * joined by "; ", each one of
 *   `<field> is missing`                                      missing_<field>
 *   `death_date <value> is after today (<day>)`               death_date_after_today
 *   `death_date <value> is before <day>`                      death_date_too_early
 *   `casenumber appears more than once in the source; ...`    duplicate_casenumber
 *   `<field> <value> <what is wrong>`                         invalid_<field>
 *   `<field>.<part> <what is wrong>`                          invalid_<field>
 * with `line N of <file>` after them, or ` (<file>)` after each, in a backfill. A value may itself
 * hold "; ": a piece that names no field continues the reason before it. Words that match none
 * give `unrecognized`, so that every refused row has a code.
 */
export function rejectCodes009(reasons: string): string[] {
  const codes: string[] = [];
  for (const piece of reasons.split("; ")) {
    if (/^line \d+ of /.test(piece)) continue;
    if (piece.startsWith("casenumber appears more than once in the source")) codes.push("duplicate_casenumber");
    else if (/^death_date .* is after today \(\d{4}-\d\d-\d\d\)/.test(piece)) codes.push("death_date_after_today");
    else if (/^death_date .* is before \d{4}-\d\d-\d\d/.test(piece)) codes.push("death_date_too_early");
    else {
      const missing = /^(\S+) is missing(?: \(.*\))?$/.exec(piece);
      const field = missing?.[1] ?? /^([^\s.]+)[\s.]/.exec(piece)?.[1];
      if (field !== undefined && FIELDS.has(field)) codes.push(`${missing ? "missing" : "invalid"}_${field}`);
    }
  }
  return codes.length === 0 ? ["unrecognized"] : [...new Set(codes)];
}
