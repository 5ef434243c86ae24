/**
 * The public record: a projection of the private database that never holds where a person died.
 * Withheld: the incident street address and its coordinates (and the `location` they came from),
 * the raw source rows, and any value of those fields wherever else it might hide (notes, the
 * correction log, reasons and errors). Everything else the private database serves stays: the
 * cases with their area-level places (community area, ZIP, city, ward, commissioner district),
 * the views, the correction log of published fields, the runs, the rejects without their rows,
 * and full-text search over the causes of death.
 *
 * The file is reproducible: the same private data gives the same bytes, since nothing in it
 * depends on the time, the machine or the order rows happen to be read in. Its hash then changes
 * only when the public record does.
 */
import Database from "better-sqlite3";
import type { DB } from "../store/db.ts";
import { dataLastChanged, lastSuccess } from "../store/run-records.ts";

/** Columns of `cases` that never leave the private database, with why. */
export const WITHHELD_COLUMNS: Readonly<Record<string, string>> = {
  incident_address: "the street address of the incident, often a home: the public record is never a map of where people died",
  latitude: "the incident's exact position",
  longitude: "the incident's exact position",
};

/**
 * Every field whose values are withheld wherever they appear (notes, reasons, the correction log,
 * the corrections feed): the withheld columns and the source fields they are made from.
 */
export const WITHHELD_FIELDS: readonly string[] = [...Object.keys(WITHHELD_COLUMNS), "incident_street", "location"];

/** WITHHELD_FIELDS as an SQL list of strings, for `NOT IN (...)`. */
export const WITHHELD_FIELDS_SQL = WITHHELD_FIELDS.map((field) => `'${field}'`).join(", ");

/** Tables of the private database that are not part of the public record at all. */
export const PRIVATE_TABLES: ReadonlySet<string> = new Set(["migrations", "backfill_checkpoints", "backfill_seen", "backfill_rejected", "sqlite_sequence"]);

/** What replaces a withheld value found inside text. */
export const WITHHELD = "[withheld]";

export interface ProjectionResult {
  /** The last successful run the projection includes, or null when there is none. */
  runId: number | null;
  /** When a successful run last changed a case (UTC ISO), or null. */
  dataLastChanged: string | null;
  /** Published COVID-19 deaths in the projection. */
  deaths: number;
}

/**
 * Writes the public projection of the private database at `source` into a new file at `target`
 * (which must not exist). The source is read in one read transaction, so a run writing it at the
 * same time is either wholly in the projection or not at all.
 */
export function writeProjection(source: string, target: string): ProjectionResult {
  const db = new Database(target);
  try {
    db.pragma("journal_mode = DELETE");
    db.pragma("page_size = 4096");
    db.exec(`ATTACH DATABASE ${quote(source)} AS src`);
    const scrub = scrubber(db);
    db.function("scrub_text", { deterministic: true }, (value: unknown) => (typeof value === "string" ? scrub(value) : value));
    let result: ProjectionResult | undefined;
    db.transaction(() => {
      result = copy(db);
    }).immediate();
    db.exec("DETACH DATABASE src");
    // a fresh, compact file: no free pages that could hold anything, the same bytes for the same data
    db.exec("VACUUM");
    return result as ProjectionResult;
  } finally {
    db.close();
  }
}

function copy(db: DB): ProjectionResult {
  const objects = db
    .prepare("SELECT type, name, tbl_name, sql FROM src.sqlite_master WHERE sql IS NOT NULL ORDER BY type = 'table' DESC, name")
    .all() as Array<{ type: string; name: string; tbl_name: string; sql: string }>;
  const tables = objects.filter((o) => o.type === "table" && !PRIVATE_TABLES.has(o.name) && !o.name.startsWith("cases_fts"));

  for (const table of tables) {
    const columns = publicColumns(db, table.name);
    const key = columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => ident(c.name));
    const definitions = columns.map((c) => `${ident(c.name)} ${c.type}${c.notnull ? " NOT NULL" : ""}`);
    if (key.length > 0) definitions.push(`PRIMARY KEY (${key.join(", ")})`);
    db.exec(`CREATE TABLE ${ident(table.name)} (${definitions.join(", ")})`);
    const names = columns.map((c) => ident(c.name));
    const values = columns.map((c) => (SCRUBBED[table.name]?.includes(c.name) ? `scrub_text(${ident(c.name)})` : ident(c.name)));
    db.exec(
      `INSERT INTO main.${ident(table.name)} (rowid, ${names.join(", ")})
       SELECT rowid, ${values.join(", ")} FROM src.${ident(table.name)} ${ROW_FILTER[table.name] ?? ""} ORDER BY rowid`,
    );
  }
  // indexes on what is kept (the one on rejects' raw rows goes with them), views, the search index
  for (const object of objects) {
    if (object.type === "index" && tables.some((t) => t.name === object.tbl_name) && !/\braw\b/.test(object.sql)) db.exec(object.sql);
  }
  for (const object of objects) if (object.type === "view") db.exec(object.sql);
  const fts = objects.find((o) => o.name === "cases_fts");
  if (fts) {
    db.exec(fts.sql);
    db.exec("INSERT INTO cases_fts (cases_fts) VALUES ('rebuild')");
  }

  // the projection's own runs: those that made the record what it is
  const deaths = db.prepare("SELECT count(*) FROM covid_deaths").pluck().get() as number;
  return { runId: lastSuccess(db)?.id ?? null, dataLastChanged: dataLastChanged(db), deaths };
}

/** Text columns that may quote a source value, and so are scrubbed of withheld ones. */
const SCRUBBED: Record<string, string[]> = {
  cases: ["notes"],
  case_revisions: ["old_value", "new_value"],
  rejects: ["reasons"],
  runs: ["error"],
};

/**
 * The correction log keeps the changes of published fields only. The runs are those that made the
 * record what it is (changed a case or refused a row): a night that found nothing new is not a
 * change of the record, so it does not make a new snapshot either.
 */
const ROW_FILTER: Record<string, string> = {
  case_revisions: `WHERE field IS NULL OR field NOT IN (${WITHHELD_FIELDS_SQL})`,
  runs: `WHERE status = 'success' AND (changed = 1 OR id IN (SELECT run_id FROM src.rejects))`,
};

interface Column {
  name: string;
  type: string;
  notnull: number;
  pk: number;
}

function publicColumns(db: DB, table: string): Column[] {
  const columns = db.prepare(`SELECT name, type, "notnull", pk FROM pragma_table_info(?, 'src')`).all(table) as Column[];
  const withheld = table === "rejects" ? new Set(["raw"]) : table === "cases" || table === "covid_deaths" ? new Set(Object.keys(WITHHELD_COLUMNS)) : new Set<string>();
  return columns.filter((c) => !withheld.has(c.name));
}

/**
 * Removes withheld values from a text, two ways. Every mention of a withheld field with its value
 * ("incident_street \"123 MAIN ST\" is too long", "latitude/longitude 45.1,-80.2 is outside Cook
 * County") keeps the field's name and loses the value. Then every quoted string and decimal number
 * left is checked against the withheld values the private database knows (each incident address
 * and coordinate, as stored and as the source sent them in refused rows).
 */
function scrubber(db: DB): (text: string) => string {
  const known = new Set<string>();
  const add = (value: unknown) => {
    if (value === null || value === undefined || value === "") return;
    known.add(String(value).trim());
  };
  const stored = db.prepare("SELECT incident_address, latitude, longitude FROM src.cases WHERE incident_address IS NOT NULL OR latitude IS NOT NULL OR longitude IS NOT NULL");
  for (const row of stored.iterate() as Iterable<Record<string, unknown>>) {
    add(row.incident_address);
    add(row.latitude);
    add(row.longitude);
  }
  for (const raw of db.prepare("SELECT raw FROM src.rejects").pluck().iterate() as Iterable<string>) {
    const row = JSON.parse(raw) as Record<string, unknown>;
    for (const field of WITHHELD_FIELDS) {
      const value = row[field];
      if (value && typeof value === "object") for (const number of JSON.stringify(value).match(NUMBER) ?? []) add(number);
      else add(value);
    }
  }
  const mention = new RegExp(`\\b(${WITHHELD_FIELDS.join("|")})((?:/\\w+)?)(\\s+)("(?:[^"\\\\]|\\\\.)*"|\\{(?:[^{}]|\\{[^{}]*\\})*\\}|\\[[^\\]]*\\]|[-+\\d.,eE]+)`, "g");
  return (text) =>
    text
      .replace(mention, (_, field: string, more: string, space: string) => `${field}${more}${space}${WITHHELD}`)
      .replace(/"(?:[^"\\]|\\.)*"/g, (quoted) => (known.has(unquote(quoted)) ? `"${WITHHELD}"` : quoted))
      .replace(NUMBER, (number) => (known.has(number) ? WITHHELD : number));
}

const NUMBER = /-?\d+\.\d+/g;

function unquote(quoted: string): string {
  try {
    return String(JSON.parse(quoted)).trim();
  } catch {
    return quoted.slice(1, -1).trim();
  }
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
