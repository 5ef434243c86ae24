/**
 * The raw row as the portal's JSON endpoint sends it (SODA 2.1): null fields omitted, numbers as
 * strings ("47", "20.0"), checkboxes as booleans, calendar dates as floating timestamps with no
 * zone (America/Chicago local), with or without milliseconds. Unknown keys pass through; they are
 * recorded as schema drift, not errors (Socrata's computed region columns aside). Bulk CSV rows are mapped onto this same shape first.
 */
import { z } from "zod";

const FLOATING_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?)?$/;

/** A calendar_date value: `2020-07-01T19:53:00.000`, local time, never converted. */
export const floatingTimestamp = z
  .string()
  .trim()
  .regex(FLOATING_TIMESTAMP, "is not a timestamp like 2020-07-01T19:53:00.000")
  .refine(isRealDate, "is not a real calendar date");

/** A number column: a string on the JSON endpoint ("47", "20.0", "-87.61"), a number elsewhere. */
export const numberText = z.union([
  z.number().finite(),
  z
    .string()
    .trim()
    .regex(/^[-+]?(\d+\.?\d*|\.\d+)$/, "is not a number")
    .transform(Number),
]);

/** Checkbox words: JSON true/false, or "true"/"false" text from a CSV. Absent means not provided. */
export const CHECKBOX_TRUTHY = ["true", "TRUE", "True", "Y", "Yes"];
export const CHECKBOX_FALSY = ["false", "FALSE", "False", "N", "No"];
/** A checkbox column: JSON true/false, or one of the words above in any case (stringbool's default). */
export const checkbox = z.union([z.boolean(), z.stringbool({ truthy: CHECKBOX_TRUTHY, falsy: CHECKBOX_FALSY })]);

const text = z.string();

export const locationSchema = z
  .object({
    latitude: numberText.optional(),
    longitude: numberText.optional(),
    human_address: z.string().optional(),
    needs_recoding: z.boolean().optional(),
  })
  .loose();

/** Fields a case cannot exist without: a failure here rejects the row. */
export const REQUIRED_FIELDS = ["casenumber", "death_date"] as const;

export const rawRowSchema = z
  .object({
    ":id": text.optional(),
    ":created_at": text.optional(),
    ":updated_at": text.optional(),
    casenumber: z.string().trim().min(1, "is empty"),
    death_date: floatingTimestamp,
    incident_date: floatingTimestamp.optional(),
    age: z.union([numberText, z.string()]).optional(),
    gender: text.optional(),
    race: text.optional(),
    latino: checkbox.optional(),
    manner: text.optional(),
    primarycause: text.optional(),
    primarycause_linea: text.optional(),
    primarycause_lineb: text.optional(),
    primarycause_linec: text.optional(),
    secondarycause: text.optional(),
    gunrelated: checkbox.optional(),
    opioids: checkbox.optional(),
    cold_related: checkbox.optional(),
    heat_related: checkbox.optional(),
    covid_related: checkbox.optional(),
    commissioner_district: numberText.optional(),
    incident_street: text.optional(),
    incident_city: text.optional(),
    incident_zip: z.union([text, z.number()]).optional(),
    residence_city: text.optional(),
    residence_zip: z.union([text, z.number()]).optional(),
    latitude: numberText.optional(),
    longitude: numberText.optional(),
    location: locationSchema.optional(),
    objectid: numberText.optional(),
    chi_ward: numberText.optional(),
    chi_commarea: text.optional(),
    transportation_related_type: text.optional(),
    transportation_status: text.optional(),
  })
  .loose();

export type ParsedRow = z.infer<typeof rawRowSchema>;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A text's shape by character: "0" for any digit, any other character for itself. */
export function shape(template: string): Int32Array {
  return Int32Array.from(template, (c) => (c === "0" ? -1 : c.charCodeAt(0)));
}

/** Whether `text` starts with `shape` (see shape()): read by position, for the shapes a bulk load reads millions of. */
export function hasShape(text: string, wanted: Int32Array): boolean {
  if (text.length < wanted.length) return false;
  for (let i = 0; i < wanted.length; i++) {
    const c = text.charCodeAt(i);
    if (wanted[i] === -1 ? c < 48 || c > 57 : c !== wanted[i]) return false;
  }
  return true;
}

/** `2020-07-01T19:53:00`: the floating timestamp of every row of a bulk export. */
export const TIMESTAMP_SHAPE = shape("0000-00-00T00:00:00");

/** The number written at text[from, to), all digits. */
function digits(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

/** A timestamp of the right shape whose date exists (no February 30) and whose time is within the day. */
export function isRealDate(value: string): boolean {
  if (value.length === 19 && hasShape(value, TIMESTAMP_SHAPE)) {
    return realDate(digits(value, 0, 4), digits(value, 5, 7), digits(value, 8, 10)) && digits(value, 11, 13) < 24 && digits(value, 14, 16) < 60 && digits(value, 17, 19) < 60;
  }
  const m = FLOATING_TIMESTAMP.exec(value.trim());
  if (!m) return false;
  if (!realDate(Number(m[1]), Number(m[2]), Number(m[3]))) return false;
  return (m[4] === undefined || Number(m[4]) < 24) && (m[5] === undefined || Number(m[5]) < 60) && (m[6] === undefined || Number(m[6]) < 60);
}

function realDate(year: number, month: number, day: number): boolean {
  // years 0-99 count as not real, as they always have: JavaScript dates read them as 1900-1999
  if (year < 100 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]);
}
