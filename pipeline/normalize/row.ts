/**
 * Raw source row → normalized case, or a reject with its reasons. Pure: the only outside input is
 * the run's own "today" (Chicago local), used to refuse death dates in the future.
 */
import type { RawRow } from "../../schemas/source-columns.ts";
import type { z } from "zod";
import { CHECKBOX_FALSY, CHECKBOX_TRUTHY, hasShape, isRealDate, TIMESTAMP_SHAPE, rawRowSchema, REQUIRED_FIELDS, type ParsedRow } from "../../schemas/source-row.ts";
import { AGE_GROUPS, type Case } from "../../schemas/case.ts";
import { memorialSentence } from "./memorial.ts";
import { deathAfterToday, deathTooEarly, invalidField, missingField, type Reason } from "./reasons.ts";

export interface NormalizeContext {
  /** The run's date in America/Chicago, YYYY-MM-DD. */
  today: string;
}

export interface Normalized {
  ok: true;
  case: Case;
  sourceRowId: string | null;
  sourceUpdatedAt: string | null;
}

export interface Rejected {
  ok: false;
  casenumber: string | null;
  sourceRowId: string | null;
  reasons: Reason[];
  /** Where the row was in the source, for readers ("line 702 of export.csv"), when known. */
  where?: string;
}

const COOK_COUNTY = { latMin: 41.4, latMax: 42.2, lonMin: -88.3, lonMax: -87.5 };
const EARLIEST_DEATH = "1900-01-01";

export function normalizeRow(raw: RawRow, ctx: NormalizeContext): Normalized | Rejected {
  const notes: string[] = [];
  const plain = plainRow(raw);
  if (plain) return finish(raw, plain, notes, ctx);
  const parsed = parseWithSchema(raw, notes);
  return parsed.ok ? finish(raw, parsed.row, notes, ctx) : parsed;
}

/**
 * normalizeRow, adding the time (ms) spent validating the row and making the case to `times`:
 * for a backfill's profile (pipeline/backfill/profile.ts), never on otherwise.
 */
export function normalizeRowTimed(raw: RawRow, ctx: NormalizeContext, times: { validate: number; normalize: number }): Normalized | Rejected {
  const notes: string[] = [];
  const t0 = performance.now();
  const plain = plainRow(raw);
  const parsed = plain ? ({ ok: true, row: plain } as const) : parseWithSchema(raw, notes);
  const t1 = performance.now();
  times.validate += t1 - t0;
  if (!parsed.ok) return parsed;
  const result = finish(raw, parsed.row, notes, ctx);
  times.normalize += performance.now() - t1;
  return result;
}

/** The zod path: every row that is not plain, and the wording of every error. */
function parseWithSchema(raw: RawRow, notes: string[]): { ok: true; row: ParsedRow } | Rejected {
  let parsed = rawRowSchema.safeParse(raw);
  if (!parsed.success) {
    const bad = new Map<string, string>();
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? "row");
      if (!bad.has(field)) bad.set(field, issue.message);
    }
    const required = REQUIRED_FIELDS.filter((f) => bad.has(f));
    if (required.length > 0 || bad.has("row")) {
      return reject(raw, [...bad].map(([field, message]) => describeIssue(raw, field, message)));
    }
    // A bad optional field keeps the row: drop the field and say so.
    const copy: RawRow = { ...raw };
    for (const [field, message] of bad) {
      notes.push(describeIssue(raw, field, message).message);
      delete copy[field];
    }
    parsed = rawRowSchema.safeParse(copy);
    if (!parsed.success) return reject(raw, parsed.error.issues.map((i) => invalidField(String(i.path[0] ?? "row"), i.message, i.path.join("."))));
  }
  return { ok: true, row: parsed.data };
}

/**
 * The case made from a plain row (plainReader) with no raw row at hand, or undefined when the row is
 * refused: the caller then normalizes the raw row, which words the reasons.
 */
export function normalizePlain(row: ParsedRow, ctx: NormalizeContext): Normalized | undefined {
  const result = finish(undefined, row, [], ctx);
  return result.ok ? result : undefined;
}

function finish(raw: RawRow | undefined, row: ParsedRow, notes: string[], ctx: NormalizeContext): Normalized | Rejected {
  const deathDate = row.death_date.slice(0, 10);
  if (deathDate > ctx.today) return reject(raw ?? {}, [deathAfterToday(row.death_date, ctx.today)]);
  if (deathDate < EARLIEST_DEATH) return reject(raw ?? {}, [deathTooEarly(row.death_date, EARLIEST_DEATH)]);

  const age = normalizeAge(row.age, notes);
  const latino = flag(row.latino);
  const coords = normalizeCoordinates(row, notes);
  const covidRelated = flag(row.covid_related);
  const gender = cleanText(row.gender);
  const residenceCity = normalizeCity(row.residence_city);
  const causes = [row.primarycause, row.primarycause_linea, row.primarycause_lineb, row.primarycause_linec, row.secondarycause];

  const normalized: Case = {
    casenumber: caseNumberKey(row.casenumber) as string,
    death_date: deathDate,
    death_datetime: localTimestamp(row.death_date),
    incident_date: row.incident_date ? row.incident_date.slice(0, 10) : null,
    incident_datetime: row.incident_date ? localTimestamp(row.incident_date) : null,
    age,
    age_group: age === null ? null : ageGroup(age),
    gender,
    race: cleanText(row.race),
    latino,
    race_ethnicity: raceEthnicity(row.race, latino),
    manner: cleanText(row.manner)?.toUpperCase() ?? null,
    primary_cause: cleanText(row.primarycause),
    primary_cause_line_a: cleanText(row.primarycause_linea),
    primary_cause_line_b: cleanText(row.primarycause_lineb),
    primary_cause_line_c: cleanText(row.primarycause_linec),
    secondary_cause: cleanText(row.secondarycause),
    covid_related: covidRelated,
    is_covid: covidRelated ?? (causes.some((c) => c !== undefined && /covid/i.test(c)) ? 1 : 0),
    gun_related: flag(row.gunrelated),
    opioid_related: flag(row.opioids),
    cold_related: flag(row.cold_related),
    heat_related: flag(row.heat_related),
    incident_address: normalizeStreet(row.incident_street),
    incident_city: normalizeCity(row.incident_city),
    incident_zip: normalizeZip(row.incident_zip, "incident_zip", notes),
    residence_city: residenceCity,
    residence_zip: normalizeZip(row.residence_zip, "residence_zip", notes),
    latitude: coords.latitude,
    longitude: coords.longitude,
    commissioner_district: wholeNumber(row.commissioner_district, "commissioner_district", notes),
    chicago_ward: wholeNumber(row.chi_ward, "chi_ward", notes),
    chicago_community_area: cleanText(row.chi_commarea)?.toUpperCase() ?? null,
    transportation_related_type: cleanText(row.transportation_related_type),
    transportation_status: cleanText(row.transportation_status),
    objectid: wholeNumber(row.objectid, "objectid", notes),
    memorial_sentence: memorialSentence({ age, gender, residence_city: residenceCity }),
    notes: notes.length ? notes.join("; ") : null,
  };
  return {
    ok: true,
    case: normalized,
    sourceRowId: row[":id"] ?? null,
    sourceUpdatedAt: row[":updated_at"] ?? null,
  };
}

/** A case number as cases are stored under it (trimmed, upper case), or null when there is none. */
export function caseNumberKey(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value.trim().toUpperCase() : null;
}

function reject(raw: RawRow, reasons: Reason[]): Rejected {
  // Written as normalized cases are, so a reject can be matched with its stored case.
  const casenumber = caseNumberKey(raw.casenumber);
  const id = raw[":id"];
  return { ok: false, casenumber, sourceRowId: typeof id === "string" ? id : null, reasons };
}

function describeIssue(raw: RawRow, field: string, message: string): Reason {
  if (!(field in raw)) return missingField(field);
  return invalidField(field, `${JSON.stringify(raw[field])} ${message.replace(/^Invalid input: /, "")}`);
}

/** `2020-07-01T19:53:00.000` → `2020-07-01T19:53:00`: the wall-clock time as written, no zone. */
const FULL_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?$/;

export function localTimestamp(value: string): string {
  // the usual shapes, without splitting: the first 19 characters are the answer
  if (value.length === 19 && hasShape(value, TIMESTAMP_SHAPE)) return value;
  if (FULL_TIMESTAMP.test(value)) return value.slice(0, 19);
  const [date, time = "00:00:00"] = value.trim().split("T");
  const [h = "00", m = "00", s = "00"] = time.split(".")[0].split(":");
  return `${date}T${h}:${m}:${s}`;
}

/** Whitespace that cleaning would change: runs, tabs or line breaks, or any at either end. */
const UNCLEAN_SPACE = /\s\s|[^\S ]|^\s|\s$/;

function cleanText(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!UNCLEAN_SPACE.test(value)) return value === "" ? null : value;
  const text = value.replace(/\s+/g, " ").trim();
  return text === "" ? null : text;
}

function flag(value: boolean | undefined): 0 | 1 | null {
  return value === undefined ? null : value ? 1 : 0;
}

function normalizeAge(value: number | string | undefined, notes: string[]): number | null {
  if (value === undefined) return null;
  if (typeof value === "number") {
    if (value >= 0 && value <= 125) return Math.floor(value);
    notes.push(`age ${value} is out of range, set to NULL`);
    return null;
  }
  // Infants may be written in months, weeks or days.
  const m = /^\s*(\d+(?:\.\d+)?)\s*(month|week|day)s?\s*$/i.exec(value);
  if (m) {
    const perYear = { month: 12, week: 52, day: 365 }[m[2].toLowerCase() as "month" | "week" | "day"];
    return Math.floor(Number(m[1]) / perYear);
  }
  notes.push(`age ${JSON.stringify(value)} is not a number, set to NULL`);
  return null;
}

export function ageGroup(age: number): (typeof AGE_GROUPS)[number] {
  if (age < 18) return "0-17";
  if (age < 30) return "18-29";
  if (age >= 80) return "80+";
  return AGE_GROUPS[Math.floor(age / 10) - 1];
}

const RACES: Record<string, Case["race_ethnicity"]> = {
  white: "White",
  black: "Black",
  "african american": "Black",
  asian: "Asian",
  "am. indian": "American Indian",
  "am.indian": "American Indian",
  "american indian": "American Indian",
  other: "Other",
  unknown: "Unknown",
};

/** Latino overrides race, as the county reports. */
export function raceEthnicity(race: string | undefined, latino: 0 | 1 | null): Case["race_ethnicity"] {
  if (latino === 1) return "Latino";
  const key = race?.trim().toLowerCase();
  if (!key) return "Unknown";
  return RACES[key] ?? "Other";
}

const STREET_UNKNOWN = /^(unk|unknown|n\/?a|none)\.?$/i;

function normalizeStreet(value: string | undefined): string | null {
  const text = cleanText(value);
  return text === null || STREET_UNKNOWN.test(text) ? null : text;
}

function normalizeCity(value: string | undefined): string | null {
  return cleanText(value)?.toUpperCase() ?? null;
}

const ZIP_PLACEHOLDERS = new Set(["00000", "99999"]);

function normalizeZip(value: string | number | undefined, field: string, notes: string[]): string | null {
  if (value === undefined) return null;
  const text = String(value).trim();
  if (text === "") return null;
  const m = /^(\d{5})(?:-?\d{4})?$/.exec(text);
  if (!m) {
    notes.push(`${field} ${JSON.stringify(text)} is not a ZIP code, set to NULL`);
    return null;
  }
  return ZIP_PLACEHOLDERS.has(m[1]) ? null : m[1];
}

function wholeNumber(value: number | undefined, field: string, notes: string[]): number | null {
  if (value === undefined) return null;
  if (Number.isInteger(value)) return value;
  notes.push(`${field} ${value} is not a whole number, set to NULL`);
  return null;
}

function normalizeCoordinates(row: ParsedRow, notes: string[]): { latitude: number | null; longitude: number | null } {
  const latitude = row.latitude ?? row.location?.latitude;
  const longitude = row.longitude ?? row.location?.longitude;
  if (latitude === undefined || longitude === undefined) return { latitude: null, longitude: null };
  const inside =
    latitude >= COOK_COUNTY.latMin && latitude <= COOK_COUNTY.latMax && longitude >= COOK_COUNTY.lonMin && longitude <= COOK_COUNTY.lonMax;
  if (!inside) {
    notes.push(`latitude/longitude ${latitude},${longitude} is outside Cook County, set to NULL`);
    return { latitude: null, longitude: null };
  }
  return { latitude, longitude };
}

/** Today's date in America/Chicago, from the run's clock. */
export function chicagoDate(now: Date): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Chicago", year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/** The pattern of numberText in schemas/source-row.ts, applied to trimmed text. */
const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)$/;

/** Thrown (and caught in plainRow) as soon as a value is not plain: the row goes the zod way. */
const NOT_PLAIN = new Error("not a plain row");

/**
 * How each known field of a plain row is checked, in the order rawRowSchema lists them: the value
 * as rawRowSchema would return it for a plain value (text as strings, checkboxes as booleans,
 * numbers as numeric text), or NOT_PLAIN thrown for anything else.
 */
const PLAIN_CHECKS: { [K in KnownField]-?: (value: unknown) => ParsedRow[K] } = {
  ":id": text,
  ":created_at": text,
  ":updated_at": text,
  casenumber: caseNumber,
  death_date: timestamp,
  incident_date: optionalTimestamp,
  age: age,
  gender: text,
  race: text,
  latino: checkbox,
  manner: text,
  primarycause: text,
  primarycause_linea: text,
  primarycause_lineb: text,
  primarycause_linec: text,
  secondarycause: text,
  gunrelated: checkbox,
  opioids: checkbox,
  cold_related: checkbox,
  heat_related: checkbox,
  covid_related: checkbox,
  commissioner_district: number,
  incident_street: text,
  incident_city: text,
  incident_zip: zip,
  residence_city: text,
  residence_zip: zip,
  latitude: number,
  longitude: number,
  location: location,
  objectid: number,
  chi_ward: number,
  chi_commarea: text,
  transportation_related_type: text,
  transportation_status: text,
};
type KnownField = keyof z.infer<typeof rawRowSchema> & string;

/**
 * Makes a reader of plain rows from any input: `source(field)` is the JavaScript expression that
 * reads a field's raw value from `input` (names in `helpers` may be used in it). The reader
 * returns rawRowSchema's result for a row whose values are all plain, built without zod, and
 * undefined for any other row, which then takes the zod path (which also words the errors).
 * Validation is the costliest step of a bulk load and nearly every row is plain; one object
 * literal with constant names, so every row has one shape, and a test holds both paths to the
 * same output.
 */
export function plainReader<I>(source: (field: KnownField) => string, helpers: Record<string, unknown> = {}): (input: I) => ParsedRow | undefined {
  const fields = Object.keys(PLAIN_CHECKS) as KnownField[];
  const literal = fields.map((f, i) => `${JSON.stringify(f)}: check${i}(${source(f)})`).join(",\n");
  const make = new Function(...fields.map((_, i) => `check${i}`), ...Object.keys(helpers), `return function plain(input) {\nreturn {\n${literal}\n};\n}`);
  const read = make(...fields.map((f) => PLAIN_CHECKS[f]), ...Object.values(helpers)) as (input: I) => ParsedRow;
  return (input) => {
    try {
      return read(input);
    } catch (error) {
      if (error === NOT_PLAIN) return undefined;
      throw error;
    }
  };
}

/** rawRowSchema's result for a raw row whose values are all plain (see plainReader), or undefined. */
export const plainRow: (raw: RawRow) => ParsedRow | undefined = plainReader<RawRow>((f) => `input[${JSON.stringify(f)}]`);

function text(value: unknown): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  throw NOT_PLAIN;
}

function caseNumber(value: unknown): string {
  const trimmed = typeof value === "string" ? value.trim() : "";
  if (trimmed === "") throw NOT_PLAIN;
  return trimmed;
}

function timestamp(value: unknown): string {
  const trimmed = typeof value === "string" ? value.trim() : "";
  if (!isRealDate(trimmed)) throw NOT_PLAIN;
  return trimmed;
}

function optionalTimestamp(value: unknown): string | undefined {
  return value === undefined ? undefined : timestamp(value);
}

function age(value: unknown): number | string | undefined {
  if (typeof value !== "string") return number(value);
  const plain = numberText(value);
  if (plain !== undefined) return plain ? Number(value) : value;
  const trimmed = value.trim();
  // like the schema's union: numeric text becomes a number, any other text stays as written
  return NUMBER_TEXT.test(trimmed) ? Number(trimmed) : value;
}

function checkbox(value: unknown): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  // the words the schema's stringbool reads, as it reads them (any case, not trimmed): "False" and
  // "True" of a pandas dump, "NO" and "YES" of older exports
  if (typeof value === "string") {
    const word = CHECKBOX_WORDS.get(value.toLowerCase());
    if (word !== undefined) return word;
  }
  throw NOT_PLAIN;
}

const CHECKBOX_WORDS = new Map<string, boolean>([...CHECKBOX_TRUTHY.map((w) => [w.toLowerCase(), true] as const), ...CHECKBOX_FALSY.map((w) => [w.toLowerCase(), false] as const)]);

function number(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = plainNumber(value);
  if (n === undefined) throw NOT_PLAIN;
  return n;
}

function zip(value: unknown): string | number | undefined {
  if (value === undefined || typeof value === "string" || (typeof value === "number" && Number.isFinite(value))) return value;
  throw NOT_PLAIN;
}

function location(value: unknown): ParsedRow["location"] {
  if (value === undefined) return undefined;
  const parsed = plainLocation(value);
  if (parsed === undefined) throw NOT_PLAIN;
  return parsed as ParsedRow["location"];
}

function plainNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const plain = numberText(value);
  if (plain !== undefined) return plain ? Number(value) : undefined;
  const text = value.trim();
  return NUMBER_TEXT.test(text) ? Number(text) : undefined;
}

/**
 * NUMBER_TEXT's answer for text of signs, digits and dots only (nothing to trim), read by
 * character; undefined for any other text.
 */
function numberText(text: string): boolean | undefined {
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 46) dots++;
    else if (c !== 43 && c !== 45) return undefined;
    else if (i > 0) return false;
  }
  return digits > 0 && dots <= 1;
}

function plainLocation(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, unknown> = { ...value };
  const { latitude, longitude, human_address, needs_recoding } = value as Record<string, unknown>;
  if (latitude !== undefined && (out.latitude = plainNumber(latitude)) === undefined) return undefined;
  if (longitude !== undefined && (out.longitude = plainNumber(longitude)) === undefined) return undefined;
  if (human_address !== undefined && typeof human_address !== "string") return undefined;
  if (needs_recoding !== undefined && typeof needs_recoding !== "boolean") return undefined;
  return out;
}
