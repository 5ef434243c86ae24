/**
 * What every chart and memorial says under itself about what the record is: the words that keep a
 * figure from claiming more than the Medical Examiner recorded.
 */
import { POPULATION_AS_OF } from "../pipeline/store/population.ts";
import { dateInWords } from "./format.ts";

/**
 * The day the Medical Examiner stopped taking most COVID-19 deaths in hospitals and nursing homes
 * (a built-in event, pipeline/store/reference/events/events.csv): a day after it with no death in
 * the record does not mean nobody died.
 */
export const NARROWED_ON = "2022-04-01";

/** What the record covers, under every chart and memorial. */
export const RECORD_NOTE =
  `Only deaths the Cook County Medical Examiner investigated are recorded; since ${dateInWords(NARROWED_ON)}, ` +
  "it no longer takes most COVID-19 deaths in hospitals and nursing homes.";

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
