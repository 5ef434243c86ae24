/**
 * The memorial's words are computed in TypeScript when a case is written; cases written before get
 * theirs here, in the words of this version (memorialSentence004, a copy of
 * pipeline/normalize/memorial.ts as it shipped with this migration).
 */
import type Database from "better-sqlite3";
import type { Migration } from "./migration.ts";

interface Person004 {
  age: number | null;
  gender: string | null;
  residence_city: string | null;
}

export const migration: Migration = {
  name: "004-memorial-sentence",
  sql: "ALTER TABLE cases ADD COLUMN memorial_sentence TEXT;",
  fill(db: Database.Database) {
    const update = db.prepare("UPDATE cases SET memorial_sentence = ? WHERE rowid = ?");
    const batch = db.prepare("SELECT rowid, age, gender, residence_city FROM cases WHERE rowid > ? ORDER BY rowid LIMIT 10000");
    // in batches: a statement cannot write while another one is still reading
    for (let after = 0, rows; (rows = batch.all(after) as Array<Person004 & { rowid: number }>).length > 0; after = rows[rows.length - 1].rowid) {
      for (const row of rows) update.run(memorialSentence004(row), row.rowid);
    }
  },
};

/** Residence values that mean "not recorded". */
const UNKNOWN_PLACE = /^(unk|unknown|n\/?a|none|null|not provided|-+|\?+)\.?$/i;

/** "A 47-year-old man from Chicago.": only age, gender and city of residence, never a street. */
export function memorialSentence004(person: Person004): string {
  const text = describePerson(person);
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

function describePerson(person: Person004): string {
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

/** The city of residence for readers, or null; a value with digits would be a street address. */
function placeName(city: string | null): string | null {
  const text = city?.replace(/\s+/g, " ").trim();
  if (!text || UNKNOWN_PLACE.test(text) || /\d/.test(text)) return null;
  return titleCase(text);
}

/** "OAK LAWN" → "Oak Lawn", "MCCOOK" → "McCook", "O'HARE" → "O'Hare", "RIVER'S EDGE" → "River's Edge". */
function titleCase(name: string): string {
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
