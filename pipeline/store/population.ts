/**
 * The denominators of the death rates, shipped with their provenance in reference/population/:
 * Cook County's residents by race and ethnicity, sex and 5-year age group (estimates for
 * 2020-07-01), and the 2000 U.S. standard population NCHS adjusts death rates to, read into three
 * tables, so that the site's rates and datasette's `rates` query read the same rules: which age
 * groups a rate is computed over (`standard_population`) and which population each race and
 * ethnicity of the cases is rated against (`population_groups`). A migration carries its own copy
 * of the rows (006-population): a change to these files ships as a new migration, and
 * test/migrations.test.ts holds the newest database to what loadPopulation reads here.
 */
import { readFileSync } from "node:fs";
import type Database from "better-sqlite3";
import { RACE_ETHNICITIES } from "../../schemas/case.ts";
import { InternalError } from "../errors.ts";
import { projectPath } from "../paths.ts";

/** The day the county's population estimates are for. */
export const POPULATION_AS_OF = "2020-07-01";

const REFERENCE = ["pipeline", "store", "reference", "population"] as const;
const COUNTY_FILE = "cook-county-2020.csv";
const STANDARD_FILE = "us-2000-standard.csv";

/**
 * How the deaths of each race_ethnicity are rated. The estimates' `other` covers American Indian
 * and other races, so vigil's Other and American Indian deaths are rated together against it;
 * Unknown has no population and is reported, never rated.
 */
const RATE_GROUPS: ReadonlyArray<{ file: string; population: string; label: string; deaths: readonly (typeof RACE_ETHNICITIES)[number][] }> = [
  { file: "hispanic", population: "Latino", label: "Latino", deaths: ["Latino"] },
  { file: "white", population: "White", label: "White", deaths: ["White"] },
  { file: "black", population: "Black", label: "Black", deaths: ["Black"] },
  { file: "asian", population: "Asian", label: "Asian", deaths: ["Asian"] },
  { file: "other", population: "Other", label: "Other (incl. American Indian)", deaths: ["Other", "American Indian"] },
];
const UNRATED = "Unknown";

const SEXES: Readonly<Record<string, string>> = { female: "Female", male: "Male" };

export const POPULATION_SQL = `
CREATE TABLE population (
  race_ethnicity TEXT NOT NULL,
  sex TEXT NOT NULL,
  age_group TEXT NOT NULL,
  age_min INTEGER NOT NULL,
  age_max INTEGER,
  population INTEGER NOT NULL,
  PRIMARY KEY (race_ethnicity, sex, age_group)
);
CREATE TABLE standard_population (
  age_group TEXT PRIMARY KEY NOT NULL,
  age_min INTEGER NOT NULL,
  age_max INTEGER,
  population_thousands INTEGER NOT NULL,
  weight REAL NOT NULL,
  rate_age_group TEXT NOT NULL
);
CREATE TABLE population_groups (
  race_ethnicity TEXT PRIMARY KEY NOT NULL,
  rate_group TEXT NOT NULL,
  population_race_ethnicity TEXT
);
`;

interface AgeRange {
  min: number;
  /** null: open-ended (85+). */
  max: number | null;
}

/** "0-4" → 0..4, "85+" → 85.., "under 1" → 0..0. */
function ageRange(group: string): AgeRange {
  const under = /^under (\d+)$/.exec(group);
  if (under) return { min: 0, max: Number(under[1]) - 1 };
  const closed = /^(\d+)-(\d+)$/.exec(group);
  if (closed) return { min: Number(closed[1]), max: Number(closed[2]) };
  const open = /^(\d+)\+$/.exec(group);
  if (open) return { min: Number(open[1]), max: null };
  throw new InternalError(`${REFERENCE.join("/")}: age group "${group}" is not written like 0-4, 85+ or under 1`);
}

/** Fills the three tables from the shipped files, in file order (the public snapshot's bytes depend on it). */
export function loadPopulation(db: Database.Database): void {
  const county = readReference(COUNTY_FILE, ["race", "sex", "age_group", "population"] as const);
  const standard = readReference(STANDARD_FILE, ["age_group", "population_thousands", "weight"] as const);

  const fiveYear = [...new Set(county.map((row) => row.age_group))].map((group) => ({ group, ...ageRange(group) }));
  const standardRows = standard.map((row) => ({ ...row, ...ageRange(row.age_group) }));
  const weights = standardRows.reduce((sum, row) => sum + number(row.weight, STANDARD_FILE), 0);
  if (Math.abs(weights - 1) > 1e-6) throw new InternalError(`${STANDARD_FILE}: the weights sum to ${weights}, not 1`);

  const insertStandard = db.prepare(
    "INSERT INTO standard_population (age_group, age_min, age_max, population_thousands, weight, rate_age_group) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const rateGroups = standardRows.map((row) => rateAgeGroup(row, fiveYear));
  const distinct = [...new Set(rateGroups)].map(ageRange);
  if (distinct.some((a, i) => distinct.some((b, k) => k > i && a.min <= (b.max ?? Infinity) && b.min <= (a.max ?? Infinity)))) {
    throw new InternalError(`${COUNTY_FILE}: its 5-year groups do not nest in the standard age groups (${[...new Set(rateGroups)].join(", ")})`);
  }
  standardRows.forEach((row, i) => {
    insertStandard.run(row.age_group, row.min, row.max, integer(row.population_thousands, STANDARD_FILE), number(row.weight, STANDARD_FILE), rateGroups[i]);
  });

  const insertPopulation = db.prepare("INSERT INTO population (race_ethnicity, sex, age_group, age_min, age_max, population) VALUES (?, ?, ?, ?, ?, ?)");
  for (const row of county) {
    const group = RATE_GROUPS.find((g) => g.file === row.race);
    const sex = SEXES[row.sex];
    if (!group || !sex) throw new InternalError(`${COUNTY_FILE}: unknown race "${row.race}" or sex "${row.sex}"`);
    const { min, max } = ageRange(row.age_group);
    insertPopulation.run(group.population, sex, row.age_group, min, max, integer(row.population, COUNTY_FILE));
  }

  const insertGroup = db.prepare("INSERT INTO population_groups (race_ethnicity, rate_group, population_race_ethnicity) VALUES (?, ?, ?)");
  for (const race of RACE_ETHNICITIES) {
    const group = RATE_GROUPS.find((g) => g.deaths.includes(race));
    if (!group && race !== UNRATED) throw new InternalError(`pipeline/store/population.ts: race_ethnicity ${race} has no population to be rated against`);
    insertGroup.run(race, group?.label ?? UNRATED, group?.population ?? null);
  }
}

/**
 * The 5-year groups of the estimates a standard group's rate is computed over, as one range:
 * 5-14 is 5-9 and 10-14. "Under 1" and "1-4" both fall in 0-4, the estimates' youngest group,
 * so they share its rate and their weights add up.
 */
function rateAgeGroup(standard: AgeRange & { age_group: string }, fiveYear: Array<AgeRange & { group: string }>): string {
  const top = (range: AgeRange) => range.max ?? Infinity;
  const overlapping = fiveYear.filter((g) => g.min <= top(standard) && standard.min <= top(g));
  if (overlapping.length === 0) throw new InternalError(`${COUNTY_FILE}: no 5-year group covers the standard group ${standard.age_group}`);
  const min = Math.min(...overlapping.map((g) => g.min));
  const max = overlapping.some((g) => g.max === null) ? null : Math.max(...overlapping.map((g) => g.max!));
  return max === null ? `${min}+` : `${min}-${max}`;
}

function readReference<C extends string>(file: string, columns: readonly C[]): Array<Record<C, string>> {
  const path = projectPath(...REFERENCE, file);
  const [header, ...lines] = readFileSync(path, "utf8").trimEnd().split(/\r?\n/);
  if (header !== columns.join(",")) throw new InternalError(`${path}: the header is "${header}", expected "${columns.join(",")}"`);
  return lines.map((line, i) => {
    const values = line.split(",");
    if (values.length !== columns.length) throw new InternalError(`${path}: line ${i + 2} has ${values.length} fields, expected ${columns.length}`);
    return Object.fromEntries(columns.map((column, k) => [column, values[k].trim()])) as Record<C, string>;
  });
}

function number(text: string, file: string): number {
  const value = Number(text);
  if (text === "" || !Number.isFinite(value) || value < 0) throw new InternalError(`${file}: "${text}" is not a number`);
  return value;
}

function integer(text: string, file: string): number {
  const value = number(text, file);
  if (!Number.isInteger(value)) throw new InternalError(`${file}: "${text}" is not a whole number`);
  return value;
}
