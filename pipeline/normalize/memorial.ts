/**
 * The memorial's words for one person: "A 47-year-old man from Chicago." Only age, gender and city
 * of residence are used: never a street, a ZIP or coordinates. Computed once, when a case is
 * normalized, and stored with it (`cases.memorial_sentence`), so the site and datasette say the
 * same words and neither has to know how they are made.
 */
import type { Case } from "../../schemas/case.ts";

/** Residence values that mean "not recorded". */
const UNKNOWN_PLACE = /^(unk|unknown|n\/?a|none|null|not provided|-+|\?+)\.?$/i;

export type Person = Pick<Case, "age" | "gender" | "residence_city">;

/**
 * Manners of death whose people no memorial, feed or memorial query lists one by one, following the
 * recommendations for reporting on suicide: they are counted in every chart and figure, and the
 * memorial says so once. The one list: datasette's queries get it from datasette/metadata.ts.
 */
export const UNLISTED_MANNERS: readonly string[] = ["SUICIDE"];

/** Whether a memorial lists a person whose manner of death is `manner`. */
export function listedOnMemorial(manner: string | null): boolean {
  return manner === null || !UNLISTED_MANNERS.includes(manner);
}

/**
 * Sentences already made, by city, gender and age: a bulk load asks for the same few thousand
 * combinations again and again, and making one costs about a microsecond (a fifth of normalizing
 * a row). Maps within maps, keyed by the values themselves (null apart from the text "null"): a
 * key made by joining the three strings cost as much as a tenth of the making it saved.
 * Emptied when it grows past a bound.
 */
const made = new Map<string | null, Map<string | null, Map<number | null, string>>>();
let madeCount = 0;
const MADE_MAX = 50_000;

/** The sentence the memorial shows for a person, capitalized and with its final period. */
export function memorialSentence(person: Person): string {
  const { age, gender, residence_city: city } = person;
  let sentence = made.get(city)?.get(gender)?.get(age);
  if (sentence === undefined) {
    if (madeCount >= MADE_MAX) {
      made.clear();
      madeCount = 0;
    }
    sentence = `${capitalize(describePerson(person))}.`;
    memo(city, gender, age, sentence);
  }
  return sentence;
}

function memo(city: string | null, gender: string | null, age: number | null, sentence: string): void {
  let byGender = made.get(city);
  if (byGender === undefined) made.set(city, (byGender = new Map()));
  let byAge = byGender.get(gender);
  if (byAge === undefined) byGender.set(gender, (byAge = new Map()));
  byAge.set(age, sentence);
  madeCount++;
}

/** "a 47-year-old man from Chicago", "a baby under one year old", "a woman", "a person from Oak Lawn". */
export function describePerson(person: Person): string {
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
 * be a street address in the wrong column, and the memorial never shows one.
 */
export function placeName(city: string | null): string | null {
  const text = city?.replace(/\s+/g, " ").trim();
  if (!text || UNKNOWN_PLACE.test(text) || /\d/.test(text)) return null;
  return titleCase(text);
}

/**
 * Cities are stored upper case: "OAK LAWN" → "Oak Lawn", "MCCOOK" → "McCook", "O'HARE" →
 * "O'Hare". Small words inside a name stay lower case ("Village of Oak Park"). After an
 * apostrophe, the next part is capitalized only when a single letter comes before it ("O'Hare",
 * "D'Arcy"); otherwise it stays lower case ("RIVER'S EDGE" → "River's Edge").
 */
export function titleCase(name: string): string {
  const small = new Set(["of", "the", "and", "on", "in"]);
  return name
    .toLowerCase()
    .split(/(\s+|-|')/)
    .map((part, i, parts) => {
      if (i > 0 && small.has(part)) return part;
      if (i > 1 && parts[i - 1] === "'" && !/^[a-z]$/.test(parts[i - 2])) return part;
      const word = part.charAt(0).toUpperCase() + part.slice(1);
      return word.replace(/^Mc([a-z])/, (_, c: string) => `Mc${c.toUpperCase()}`);
    })
    .join("");
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
