/**
 * CSV exports → raw rows shaped like the JSON endpoint's, so a bulk load goes through the one
 * validation path (normalizeRow). Pure: header in, column plan out; record in, raw row out.
 *
 * Two header flavours exist: the bulk export users download (`/api/views/<id>/rows.csv`) has display
 * names ("Case Number") and US 12-hour dates; `/resource/<id>.csv` has field names ("casenumber")
 * and the JSON endpoint's values. A file may be either; the header says which.
 */
import { FIELD_BY_DISPLAY_NAME, isComputedRegion, KNOWN_FIELDS, OPTIONAL_SOURCE_COLUMNS, SOURCE_COLUMNS, type Drift, type RawRow, type SocrataType } from "../../../schemas/source-columns.ts";
import { hasShape, shape, type ParsedRow } from "../../../schemas/source-row.ts";
import type { ViewMetadata } from "../../../schemas/view-metadata.ts";
import { plainReader } from "../../normalize/row.ts";

export type HeaderFlavour = "display names" | "field names";

/** How to read each column of a CSV export. Plain data: it is sent to the parsing workers. */
export interface CsvLayout {
  flavour: HeaderFlavour;
  header: string[];
  /** Field name each column maps to; null for a column vigil does not know. */
  fields: Array<string | null>;
  /** The Socrata type of each column, which decides how its text is converted. */
  types: Array<SocrataType | "text">;
  drift: Drift;
}

const KNOWN_COLUMNS = [...SOURCE_COLUMNS, ...OPTIONAL_SOURCE_COLUMNS];
const TYPE_BY_FIELD = new Map<string, SocrataType>(KNOWN_COLUMNS.map((c) => [c.fieldName, c.dataTypeName]));
const REQUIRED = [
  { field: "casenumber", display: "Case Number" },
  { field: "death_date", display: "Date of Death" },
];

/**
 * Maps a header row onto field names, or explains why this is not a Medical Examiner export.
 * With view metadata (a download from the portal) its display names and types win; a local file
 * is read against the columns vigil knows.
 */
export function planColumns(header: string[], metadata?: ViewMetadata): CsvLayout | { error: string } {
  const names = header.map((h) => h.trim());
  const byDisplay = new Map(FIELD_BY_DISPLAY_NAME);
  const types = new Map<string, SocrataType | "text">(TYPE_BY_FIELD);
  const fieldNames = new Set(KNOWN_FIELDS);
  for (const column of metadata?.columns ?? []) {
    byDisplay.set(column.name, column.fieldName);
    fieldNames.add(column.fieldName);
    types.set(column.fieldName, asSocrataType(column.dataTypeName));
  }
  const displayHits = names.filter((n) => byDisplay.has(n)).length;
  const fieldHits = names.filter((n) => fieldNames.has(n)).length;
  const flavour: HeaderFlavour = displayHits >= fieldHits ? "display names" : "field names";
  const fields = names.map((n) => (flavour === "display names" ? byDisplay.get(n) : fieldNames.has(n) ? n : undefined) ?? null);
  const missingRequired = REQUIRED.filter((r) => !fields.includes(r.field));
  if (missingRequired.length > 0) {
    const wanted = missingRequired.map((r) => `"${r.display}" (or "${r.field}")`).join(" and ");
    return { error: `its header has no ${wanted} column, so it is not a Medical Examiner CSV export; header: ${excerpt(names.join(","))}` };
  }
  // A repeated column keeps its first occurrence; the copy is reported, not read. Computed regions
  // are not drift: a field-name header names them as such, and a display-name header carries the
  // region's title, which only the view metadata ties to its `:@computed_region_*` field (a local
  // display-name file cannot tell one from a new column, and reports it).
  const seen = new Set<string>();
  const unknown: string[] = [];
  fields.forEach((field, i) => {
    if (field !== null && seen.has(field)) {
      fields[i] = null;
      unknown.push(`${names[i]} (repeated)`);
    } else if (field !== null) {
      seen.add(field);
      if (!KNOWN_FIELDS.has(field) && !isComputedRegion(field)) unknown.push(field);
    } else if (!isComputedRegion(names[i])) {
      unknown.push(names[i]);
    }
  });
  const optional = new Set(OPTIONAL_SOURCE_COLUMNS.map((c) => c.fieldName));
  const missing = SOURCE_COLUMNS.map((c) => c.fieldName).filter((f) => !seen.has(f) && !optional.has(f));
  return {
    flavour,
    header: names,
    fields,
    types: fields.map((f) => (f === null ? "text" : (types.get(f) ?? "text"))),
    drift: { unknown: unknown.sort(), missing },
  };
}

function asSocrataType(name: string): SocrataType | "text" {
  return name === "number" || name === "calendar_date" || name === "checkbox" || name === "location" ? name : "text";
}

/**
 * One CSV record as the JSON endpoint would send it: empty fields omitted, "true"/"false" as
 * booleans, US dates as floating timestamps, a location's point as `{latitude, longitude}`.
 * Numbers stay text, as on the JSON endpoint; anything odd is passed on for validation to word.
 */
export function recordToRaw(record: readonly string[], layout: CsvLayout): RawRow {
  const raw: RawRow = {};
  const { fields, types } = layout;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const value = record[i];
    if (field === null || value === undefined || value === "") continue;
    switch (types[i]) {
      case "checkbox":
        raw[field] = value === "true" ? true : value === "false" ? false : value;
        break;
      case "calendar_date":
        raw[field] = floatingTimestamp(value);
        break;
      case "location": {
        const point = parseLocation(value);
        if (point) raw[field] = point;
        break;
      }
      default:
        raw[field] = value;
    }
  }
  return raw;
}

/** A cell as recordToRaw reads it, by the column's type: undefined when empty. */
const CELLS = {
  text: (value: string | undefined) => (value === "" ? undefined : value),
  checkbox: (value: string | undefined) => (value === "" || value === undefined ? undefined : value === "true" ? true : value === "false" ? false : value),
  calendar_date: (value: string | undefined) => (value === "" || value === undefined ? undefined : floatingTimestamp(value)),
  location: (value: string | undefined) => (value === "" || value === undefined ? undefined : parseLocation(value)),
};

/**
 * plainRow(recordToRaw(record, layout)) in one step, made once per layout: each known field read
 * from its column as recordToRaw reads it, with no raw row in between (a row object with ~35
 * keys added one by one took a third of a worker's time). Undefined for a row that is not plain.
 */
export function plainRecordReader(layout: CsvLayout): (record: readonly string[]) => ParsedRow | undefined {
  return plainReader<readonly string[]>((field) => {
    const i = layout.fields.indexOf(field);
    if (i === -1) return "undefined";
    const type = layout.types[i];
    return `${type === "checkbox" || type === "calendar_date" || type === "location" ? type : "text"}(input[${i}])`;
  }, CELLS);
}

/** `MM/DD/YYYY HH:MM:SS `, then AM or PM. */
const US_TIMESTAMP_SHAPE = shape("00/00/0000 00:00:00 ");

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?: ?([AaPp])[Mm])?)?$/;

/**
 * `07/01/2020 07:53:00 PM` → `2020-07-01T19:53:00`: the wall-clock time as written, no zone (it is
 * Chicago time, and must never be shifted). ISO text passes through; anything unreadable is left
 * as written so that validation rejects it with its value.
 */
export function floatingTimestamp(value: string): string {
  // the export's own shape, `07/01/2020 07:53:00 PM`, read by position: a bulk load reads two a row
  if (value.length === 22 && hasShape(value, US_TIMESTAMP_SHAPE)) {
    const half = value.charCodeAt(20) | 0x20;
    if ((half === 0x61 || half === 0x70) && (value.charCodeAt(21) | 0x20) === 0x6d) {
      const hour = (value.charCodeAt(11) - 48) * 10 + value.charCodeAt(12) - 48;
      if (hour < 1 || hour > 12) return value;
      const hh = (hour % 12) + (half === 0x70 ? 12 : 0);
      return `${value.slice(6, 10)}-${value.slice(0, 2)}-${value.slice(3, 5)}T${hh < 10 ? "0" : ""}${hh}${value.slice(13, 19)}`;
    }
  }
  const text = value.trim();
  const m = US_DATE.exec(text);
  if (!m) return value;
  const [, month, day, year, hh, mm = "00", ss = "00", half] = m;
  const date = `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}`;
  if (hh === undefined) return date;
  let hour = Number(hh);
  if (half !== undefined) {
    if (hour < 1 || hour > 12) return value;
    hour = (hour % 12) + (half === "P" || half === "p" ? 12 : 0);
  }
  return `${date}T${String(hour).padStart(2, "0")}:${mm}:${ss}`;
}

const WKT_POINT = /^POINT\s*\(\s*(\S+)\s+(\S+)\s*\)$/i;
const LEGACY_POINT = /\(\s*([-+\d.]+)\s*,\s*([-+\d.]+)\s*\)\s*$/;

/**
 * A location column's point: WKT `POINT (lon lat)` in today's exports, `(lat, lon)` (possibly
 * after address lines) in older ones. A location with an address only has no point: omitted, as
 * its coordinates would be.
 */
export function parseLocation(value: string): { latitude: string; longitude: string } | undefined {
  const text = value.trim();
  let m = WKT_POINT.exec(text);
  if (m) return { latitude: m[2], longitude: m[1] };
  m = LEGACY_POINT.exec(text);
  return m ? { latitude: m[1], longitude: m[2] } : undefined;
}

function excerpt(text: string, length = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(flat.length > length ? `${flat.slice(0, length)}…` : flat);
}
