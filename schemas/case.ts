/**
 * A normalized case: one row of the `cases` table. The field descriptions are the single source
 * of truth for the datasette column descriptions.
 */
import { z } from "zod";

const text = z.string().nullable();
const int = z.number().int().nullable();
const flag = z.union([z.literal(0), z.literal(1)]).nullable();

export const AGE_GROUPS = ["0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"] as const;
export const RACE_ETHNICITIES = ["White", "Black", "Latino", "Asian", "American Indian", "Other", "Unknown"] as const;

export const caseSchema = z.object({
  casenumber: z.string().min(1).describe("Medical Examiner case number, e.g. ME2020-08702. The year is the year the case was opened, not the year of death"),
  death_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).describe("Date of death, YYYY-MM-DD, America/Chicago local time, taken from the source timestamp as written (never shifted between days)"),
  death_datetime: z.string().describe("Date and time of death as the source gives it, America/Chicago local, YYYY-MM-DDTHH:MM:SS; a time of 00:00:00 often means the time is unknown"),
  incident_date: text.describe("Date of the incident (injury or onset), YYYY-MM-DD, America/Chicago local; often missing and can be years before death"),
  incident_datetime: text.describe("Date and time of the incident as the source gives it, America/Chicago local"),
  age: int.describe("Age at death in whole years (infants under one year are 0)"),
  age_group: z.enum(AGE_GROUPS).nullable().describe("Age group derived from age: 0-17, 18-29, 30-39, 40-49, 50-59, 60-69, 70-79, 80+"),
  gender: text.describe("Gender as recorded by the Medical Examiner (Male, Female, ...)"),
  race: text.describe("Race as recorded by the Medical Examiner (White, Black, Asian, Am. Indian, Other, Unknown)"),
  latino: flag.describe("1 if the person was Latino, 0 if not, NULL if not recorded; recorded separately from race"),
  race_ethnicity: z.enum(RACE_ETHNICITIES).describe("Race and ethnicity as the county reports it: Latino overrides race; otherwise the race, with Unknown when missing"),
  manner: text.describe("Manner of death: NATURAL, ACCIDENT, HOMICIDE, SUICIDE, UNDETERMINED or PENDING"),
  primary_cause: text.describe("Primary cause of death, free text as written (since September 2023 it merges lines A to C)"),
  primary_cause_line_a: text.describe("Primary cause, line A (the immediate cause), free text; mostly missing"),
  primary_cause_line_b: text.describe("Primary cause, line B (due to), free text; mostly missing"),
  primary_cause_line_c: text.describe("Primary cause, line C (due to), free text; mostly missing"),
  secondary_cause: text.describe("Other significant conditions contributing to death, free text, e.g. HYPERTENSION; DEMENTIA"),
  covid_related: flag.describe("The Medical Examiner's COVID Related flag: 1, 0, or NULL if not provided"),
  is_covid: z.union([z.literal(0), z.literal(1)]).describe("1 if this is a COVID-19 death: the COVID Related flag when provided, otherwise \"covid\" in any of the five cause fields (how the county builds its COVID view)"),
  gun_related: flag.describe("Gun related: 1, 0, or NULL if not provided"),
  opioid_related: flag.describe("Opioid involvement (not necessarily the cause): 1, 0, or NULL if not provided"),
  cold_related: flag.describe("Cold related: 1, 0, or NULL if not provided"),
  heat_related: flag.describe("Heat related: 1, 0, or NULL if not provided"),
  incident_address: text.describe("Street address of the incident as published by the county; never shown on the site"),
  incident_city: text.describe("City of the incident, trimmed and upper case"),
  incident_zip: text.describe("5-digit ZIP code of the incident; ZIP+4 cut to 5 digits, placeholders (00000, 99999) and junk are NULL"),
  residence_city: text.describe("City of residence, trimmed and upper case"),
  residence_zip: text.describe("5-digit ZIP code of residence; ZIP+4 cut, placeholders and junk are NULL"),
  latitude: z.number().nullable().describe("Latitude of the incident (WGS84 degrees); NULL when missing or outside Cook County (41.4 to 42.2)"),
  longitude: z.number().nullable().describe("Longitude of the incident (WGS84 degrees); NULL when missing or outside Cook County (-88.3 to -87.5)"),
  commissioner_district: int.describe("Cook County Board commissioner district of the incident (integer)"),
  chicago_ward: int.describe("Chicago ward of the incident (integer; the source sends it as text like 20.0)"),
  chicago_community_area: text.describe("Chicago community area of the incident, upper case; only for geocoded Chicago incidents"),
  transportation_related_type: text.describe("Kind of transportation involved, when the source provides it"),
  transportation_status: text.describe("Role of the person in a transportation incident, when the source provides it"),
  objectid: int.describe("The publisher's OBJECTID; rises as cases are added, stability across republishes unknown"),
  memorial_sentence: z
    .string()
    .min(1)
    .describe(
      "How the memorial speaks of this person, from age, gender and city of residence only, e.g. \"A 47-year-old man from Chicago.\" The site and the memorial query show exactly these words",
    ),
  notes: text.describe("What normalization changed or dropped in this row, e.g. an unreadable age set to NULL; NULL when nothing"),
});

export type Case = z.infer<typeof caseSchema>;
export type CaseField = keyof Case;
export const CASE_FIELDS = Object.keys(caseSchema.shape) as CaseField[];

/** A stored case row's values in order: the case fields, then the source row's id and :updated_at. */
export const ROW_COLUMNS = [...CASE_FIELDS, "source_row_id", "source_updated_at"] as const;

/** Provenance columns stored beside each case; not part of the case's content, so never diffed. */
export const PROVENANCE_COLUMNS = {
  source_row_id: "The portal's row id (:id) of this case",
  source_updated_at: "The portal's :updated_at (UTC) for the row when its content last changed here",
  first_run_id: "The run that first saw this case (runs.id)",
  changed_run_id: "The run that last changed this case (runs.id)",
  removed_run_id: "The run that saw this case disappear from the source (runs.id); NULL while it is published. Removed cases are kept, never deleted, and left out of views and charts",
} as const;
