/**
 * The memorial speaks of people, not points: for each day with deaths, a headline and one
 * sentence per person ("A 47-year-old man from Chicago."). Only age, gender and city of
 * residence are used: never a street, a ZIP or coordinates.
 */
import type { MemorialDay, MemorialYear } from "../schemas/widgets.ts";
import { capitalize, dateInWords, people, titleCase } from "./format.ts";
import type { PersonRow } from "./read.ts";

/** Residence values that mean "not recorded". */
const UNKNOWN_PLACE = /^(unk|unknown|n\/?a|none|null|not provided|-+|\?+)\.?$/i;

/** "a 47-year-old man from Chicago", "a baby under one year old", "a woman", "a person from Oak Lawn". */
export function describePerson(person: Pick<PersonRow, "age" | "gender" | "residence_city">): string {
  const noun = nounFor(person.gender, person.age);
  let who: string;
  if (person.age === 0) who = "a baby under one year old";
  else if (person.age === null) who = `a ${noun}`;
  else who = `${article(person.age)} ${person.age}-year-old ${noun}`;
  const place = placeName(person.residence_city);
  return place ? `${who} from ${place}` : who;
}

function nounFor(gender: string | null, age: number | null): string {
  const g = gender?.trim().toLowerCase();
  const child = age !== null && age < 18;
  if (g === "male" || g === "m") return child ? "boy" : "man";
  if (g === "female" || g === "f") return child ? "girl" : "woman";
  return child ? "child" : "person";
}

/** "an 8-year-old", "an 18-year-old", "an 80-year-old": the article follows the spoken number. */
function article(age: number): "a" | "an" {
  return age === 8 || age === 11 || age === 18 || (age >= 80 && age <= 89) ? "an" : "a";
}

/**
 * The city of residence for readers, or null. A value with digits is refused outright: it would
 * be a street address in the wrong column, and the site never shows one.
 */
export function placeName(city: string | null): string | null {
  const text = city?.replace(/\s+/g, " ").trim();
  if (!text || UNKNOWN_PLACE.test(text) || /\d/.test(text)) return null;
  return titleCase(text);
}

export function memorialDay(date: string, persons: readonly PersonRow[]): MemorialDay {
  const dateText = dateInWords(date);
  return {
    date_text: dateText,
    deaths: persons.length,
    headline: `On ${dateText}, ${people(persons.length)} died of COVID-19 in Cook County.`,
    people: persons.map((p) => `${capitalize(describePerson(p))}.`),
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
