/**
 * What every chart and memorial says under itself about what the record is: the words that keep a
 * figure from claiming more than the Medical Examiner recorded.
 */
import { POPULATION_AS_OF } from "../pipeline/store/population.ts";
import { dateInWords, formatCount } from "./format.ts";
import type { Lens } from "../schemas/lenses.ts";

/**
 * The day the Medical Examiner stopped taking most COVID-19 deaths in hospitals and nursing homes
 * (a built-in event, pipeline/store/reference/events/events.csv): a day after it with no death in
 * the record does not mean nobody died.
 */
export const NARROWED_ON = "2022-04-01";

/** What the COVID-19 record covers, under every chart and memorial of that lens. */
export const RECORD_NOTE =
  `Only deaths the Cook County Medical Examiner investigated are recorded; since ${dateInWords(NARROWED_ON)}, ` +
  "it no longer takes most COVID-19 deaths in hospitals and nursing homes.";

/** What a lens's record covers and what its flag means, under each of its charts and memorials. */
export function recordNote(lens: Lens): string {
  return lens.name === "covid" ? RECORD_NOTE : `Only deaths the Cook County Medical Examiner investigated are recorded. ${lens.meaning}`;
}

/** Said once on every page with a memorial (the summary's `unlisted_note`). */
export const UNLISTED_NOTE =
  "Deaths by suicide are counted in the charts and figures but are not listed here, one by one. " +
  "If you or someone you know is struggling, call or text 988, the 988 Suicide & Crisis Lifeline, any time.";

/** Said first under everything the demo draws: its people are made up. */
export const GENERATED_NOTE = "Generated data for the vigil demo: these are not real people, and this is not the Medical Examiner's record.";

/** The demo's source line. */
export const GENERATED_SOURCE = "vigil demo (generated data)";

/** Where the rates' denominators come from, under the rates chart. */
export const RATES_NOTE =
  `Rates are per 100,000 residents, from the U.S. Census Bureau's population estimates for Cook County for ${dateInWords(POPULATION_AS_OF)}, ` +
  "age-adjusted to the 2000 U.S. standard population.";

/**
 * A day without a recorded death, said truly (DATE stands for the day, in words): before the
 * narrowing, none was recorded; from it on, "no deaths" is a claim the record cannot make.
 */
export const NO_DEATHS_TEXT = {
  before: "The Cook County Medical Examiner recorded no COVID-19 deaths on DATE.",
  // what the record covers since then is the notes line's (RECORD_NOTE), said just below
  after: "The Cook County Medical Examiner recorded no COVID-19 deaths on DATE: this does not mean that nobody died of COVID-19 that day.",
} as const;

/** What the memorial says of a day without a recorded death in a lens: COVID-19's words, or the same words both sides for a lens the narrowing did not touch. */
export function noDeathsText(lens: Lens): { before: string; after: string } {
  if (lens.name === "covid") return { ...NO_DEATHS_TEXT };
  const none = `The Cook County Medical Examiner recorded no ${lens.deaths} on DATE.`;
  return { before: none, after: none };
}

/**
 * What the charts and the memorial say of the days whose counts are not final (provisional.sql):
 * from which day, why, and how many cases are still pending. Null when every day is final.
 */
export function provisionalNote(lens: Lens, provisional: { provisional_from: string | null; pending: number; lag_days: number; lag_source: "observed" | "default" }): string | null {
  if (provisional.provisional_from === null) return null;
  const pending =
    provisional.pending === 0 ? "" : ` ${formatCount(provisional.pending)} ${provisional.pending === 1 ? "case is" : "cases are"} still pending a manner of death.`;
  const lag =
    provisional.lag_source === "observed"
      ? `(95 in 100 of those vigil saw arrive were in the record within ${formatCount(provisional.lag_days)} days)`
      : `(vigil assumes 95 in 100 are in the record within ${formatCount(provisional.lag_days)} days until it has seen enough arrive to measure it)`;
  return (
    `Counts from ${dateInWords(provisional.provisional_from)} on are not final and are expected to rise: ` +
    `the Medical Examiner records some ${lens.deaths} weeks or months after the death, as cases are closed ${lag}.${pending}`
  );
}

