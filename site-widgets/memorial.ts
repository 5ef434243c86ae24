/**
 * The memorial speaks of people, not points: for each day with deaths, a headline and one
 * sentence per person ("A 47-year-old man from Chicago."). The sentences are the ones stored with
 * each case (pipeline/normalize/memorial.ts), the same words datasette's memorial query shows.
 * Deaths by suicide are counted in the charts and never listed: the headline counts the people
 * listed, and a day whose deaths are all unlisted says they are counted in the charts.
 */
import type { MemorialDay, MemorialYear } from "../schemas/widgets.ts";
import { listedOnMemorial } from "../pipeline/normalize/memorial.ts";
import { dateInWords, people } from "./format.ts";
import { DEFAULT_LENS, LENSES, type Lens } from "../schemas/lenses.ts";
import type { PersonRow } from "./read.ts";

export function memorialDay(date: string, persons: readonly PersonRow[], lens: Lens = LENSES[DEFAULT_LENS]): MemorialDay {
  const dateText = dateInWords(date);
  const listed = persons.filter((p) => listedOnMemorial(p.manner));
  const unlisted = persons.length - listed.length;
  return {
    date_text: dateText,
    deaths: listed.length,
    unlisted,
    // a headline counts only the people it lists: a day with none listed says no more than that
    headline:
      listed.length > 0
        ? `The Cook County Medical Examiner recorded the ${lens.deaths} of ${people(listed.length)} on ${dateText}.`
        : `No one is listed here for ${dateText}.`,
    people: listed.map((p) => p.memorial_sentence),
  };
}

/**
 * Every day with deaths, grouped into one object per year (the files `memorial/YYYY.json`):
 * small enough for Hugo to load quickly, and a post only pulls the year it shows. `people` must
 * be ordered by day; within a day the order is kept.
 */
export function memorialYears(persons: readonly PersonRow[], lens: Lens = LENSES[DEFAULT_LENS]): Map<string, MemorialYear> {
  const byDay = new Map<string, PersonRow[]>();
  for (const person of persons) {
    const day = byDay.get(person.death_date);
    if (day) day.push(person);
    else byDay.set(person.death_date, [person]);
  }
  const years = new Map<string, MemorialYear>();
  for (const [date, group] of byDay) {
    const year = date.slice(0, 4);
    let file = years.get(year);
    if (!file) years.set(year, (file = {}));
    file[date] = memorialDay(date, group, lens);
  }
  return years;
}
