/**
 * Why a source row is refused, said twice from one place: a stable code that code and queries
 * match (`rejects.codes`, a JSON array) and the words a reader sees (`rejects.reasons`). Every
 * refusal is made by one of the functions below, so the two cannot drift apart, and the words
 * can change without breaking a query.
 */

export interface Reason {
  /** Stable: `missing_<field>`, `invalid_<field>`, or one of the codes below. */
  readonly code: string;
  /** For readers; may quote the refused value. */
  readonly message: string;
}

/** A death date after the day of the run (Chicago): a refusal a later day may lift. */
export const AFTER_TODAY = "death_date_after_today";
/** A death date before the earliest vigil accepts. */
export const TOO_EARLY = "death_date_too_early";
/** A case number the source lists more than once: one row is kept, the others refused. */
export const DUPLICATE = "duplicate_casenumber";

/** A field the row cannot do without is absent. */
export function missingField(field: string): Reason {
  return { code: `missing_${field}`, message: `${field} is missing` };
}

/**
 * A field's value is not what it should be: `death_date "2021-02-30" is not a real calendar date`.
 * `shownAs` names a part of the field ("location.latitude"); the code names the field.
 */
export function invalidField(field: string, wording: string, shownAs = field): Reason {
  return { code: `invalid_${field}`, message: `${shownAs} ${wording}` };
}

export function deathAfterToday(deathDate: string, today: string): Reason {
  return { code: AFTER_TODAY, message: `death_date ${deathDate} is after today (${today})` };
}

export function deathTooEarly(deathDate: string, earliest: string): Reason {
  return { code: TOO_EARLY, message: `death_date ${deathDate} is before ${earliest}` };
}

/** `which`: which row was kept instead, e.g. "kept row row-1 (updated 2021-01-01T00:00:00.000)". */
export function duplicateCase(which: string): Reason {
  return { code: DUPLICATE, message: `casenumber appears more than once in the source; ${which}` };
}

/** The reasons as `rejects.reasons` words them, with where the row was when that is known. */
export function reasonsText(reasons: readonly Reason[], where?: string): string {
  return [...reasons.map((r) => r.message), ...(where === undefined ? [] : [where])].join("; ");
}

/** The codes as `rejects.codes` holds them: a JSON array, each code once, in the order given. */
export function codesJson(reasons: readonly Reason[]): string {
  return JSON.stringify([...new Set(reasons.map((r) => r.code))]);
}
