/**
 * The columns of the Medical Examiner Case Archive (and of its COVID-19 view), as the portal
 * describes them in `/api/views/<id>.json`. The field name is what the JSON and `/resource/*.csv`
 * endpoints use; the display name is the header of the bulk CSV export.
 */
export type SocrataType = "text" | "number" | "calendar_date" | "checkbox" | "location";

export interface SourceColumn {
  fieldName: string;
  name: string;
  dataTypeName: SocrataType;
  description: string;
}

export const SOURCE_COLUMNS: readonly SourceColumn[] = [
  { fieldName: "casenumber", name: "Case Number", dataTypeName: "text", description: "Medical Examiner case number, e.g. ME2020-08702; the year is the year the case was opened" },
  { fieldName: "incident_date", name: "Date of Incident", dataTypeName: "calendar_date", description: "Date and time of the incident, Chicago local time" },
  { fieldName: "death_date", name: "Date of Death", dataTypeName: "calendar_date", description: "Date and time of death, Chicago local time" },
  { fieldName: "age", name: "Age", dataTypeName: "number", description: "Age at death in years" },
  { fieldName: "gender", name: "Gender", dataTypeName: "text", description: "Gender" },
  { fieldName: "race", name: "Race", dataTypeName: "text", description: "Race" },
  { fieldName: "latino", name: "Latino", dataTypeName: "checkbox", description: "Latino ethnicity" },
  { fieldName: "manner", name: "Manner of Death", dataTypeName: "text", description: "Manner of death" },
  { fieldName: "primarycause", name: "Primary Cause", dataTypeName: "text", description: "Primary cause of death" },
  { fieldName: "primarycause_linea", name: "Primary Cause Line A", dataTypeName: "text", description: "Primary cause, line A" },
  { fieldName: "primarycause_lineb", name: "Primary Cause Line B", dataTypeName: "text", description: "Primary cause, line B" },
  { fieldName: "primarycause_linec", name: "Primary Cause Line C", dataTypeName: "text", description: "Primary cause, line C" },
  { fieldName: "secondarycause", name: "Secondary Cause", dataTypeName: "text", description: "Other significant conditions" },
  { fieldName: "gunrelated", name: "Gun Related", dataTypeName: "checkbox", description: "Gun related" },
  { fieldName: "opioids", name: "Opioid Related", dataTypeName: "checkbox", description: "Opioid involvement" },
  { fieldName: "cold_related", name: "Cold Related", dataTypeName: "checkbox", description: "Cold related" },
  { fieldName: "heat_related", name: "Heat Related", dataTypeName: "checkbox", description: "Heat related" },
  { fieldName: "commissioner_district", name: "Commissioner District", dataTypeName: "number", description: "Cook County commissioner district of the incident" },
  { fieldName: "incident_street", name: "Incident Address", dataTypeName: "text", description: "Street address of the incident" },
  { fieldName: "incident_city", name: "Incident City", dataTypeName: "text", description: "City of the incident" },
  { fieldName: "incident_zip", name: "Incident Zip Code", dataTypeName: "text", description: "ZIP code of the incident" },
  { fieldName: "residence_city", name: "Residence City", dataTypeName: "text", description: "City of residence" },
  { fieldName: "residence_zip", name: "Residence Zip", dataTypeName: "text", description: "ZIP code of residence" },
  { fieldName: "latitude", name: "latitude", dataTypeName: "number", description: "Latitude of the incident" },
  { fieldName: "longitude", name: "longitude", dataTypeName: "number", description: "Longitude of the incident" },
  { fieldName: "location", name: "location", dataTypeName: "location", description: "Incident location (legacy point)" },
  { fieldName: "objectid", name: "OBJECTID", dataTypeName: "number", description: "Publisher's object id" },
  { fieldName: "chi_ward", name: "Chicago Ward", dataTypeName: "number", description: "Chicago ward of the incident" },
  { fieldName: "chi_commarea", name: "Chicago Community Area", dataTypeName: "text", description: "Chicago community area of the incident" },
  { fieldName: "covid_related", name: "COVID Related", dataTypeName: "checkbox", description: "COVID-19 related, as flagged by the Medical Examiner" },
];

/** Columns the newer portal metadata shows; known, so not schema drift, but optional. */
export const OPTIONAL_SOURCE_COLUMNS: readonly SourceColumn[] = [
  { fieldName: "transportation_related_type", name: "Transportation Related Type", dataTypeName: "text", description: "Kind of transportation involved" },
  { fieldName: "transportation_status", name: "Transportation Status", dataTypeName: "text", description: "Role of the deceased in a transportation incident" },
];

/** Socrata system fields, returned with `$select=:*,*`. */
export const SYSTEM_FIELDS = [":id", ":created_at", ":updated_at"] as const;

/**
 * Socrata's computed region columns (`:@computed_region_bdys_3d7i`): the portal's own lookup of a
 * row's point in boundary datasets, not data the Medical Examiner publishes. They are never schema
 * drift, and vigil does not load them.
 */
export function isComputedRegion(fieldName: string): boolean {
  return fieldName.startsWith(":@computed_region_");
}

export const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  ...SOURCE_COLUMNS.map((c) => c.fieldName),
  ...OPTIONAL_SOURCE_COLUMNS.map((c) => c.fieldName),
  ...SYSTEM_FIELDS,
]);

/** Display name (bulk CSV header) to field name. */
export const FIELD_BY_DISPLAY_NAME: ReadonlyMap<string, string> = new Map(
  [...SOURCE_COLUMNS, ...OPTIONAL_SOURCE_COLUMNS].map((c) => [c.name, c.fieldName]),
);

/** How the source's columns differ from the ones vigil knows. */
export interface Drift {
  /** Columns the source has that vigil does not know (kept in the raw row, not loaded); never a computed region. */
  unknown: string[];
  /** Known required columns the source no longer has. */
  missing: string[];
}

/** Raw source row as the JSON endpoint sends it: null fields omitted, numbers as strings. */
export type RawRow = Record<string, unknown>;
