/**
 * The memorial speaks of people, not points: for each day with deaths, a headline and one
 * sentence per person ("A 47-year-old man from Chicago."). The sentences are the ones stored with
 * each case (pipeline/normalize/memorial.ts), the same words datasette's memorial query shows.
 */
import type { MemorialDay, MemorialYear } from "../schemas/widgets.ts";
import { dateInWords, people } from "./format.ts";
import type { PersonRow } from "./read.ts";

export function memorialDay(date: string, persons: readonly PersonRow[]): MemorialDay {
  const dateText = dateInWords(date);
  return {
    date_text: dateText,
    deaths: persons.length,
    headline: `The Cook County Medical Examiner recorded the COVID-19 deaths of ${people(persons.length)} on ${dateText}.`,
    people: persons.map((p) => p.memorial_sentence),
  };
}

/**
 * Every day with deaths, grouped into one object per year (the files `memorial/YYYY.json`):
 * small enough for Hugo to load quickly, and a post only pulls the year it shows. `people` must
 * be ordered by day; within a day the order is kept.
 */
export function memorialYears(persons: readonly PersonRow[]): Map<string, MemorialYear> {
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
    file[date] = memorialDay(date, group);
  }
  return years;
}
