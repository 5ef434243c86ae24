/**
 * COVID-19 deaths per 100,000 residents by race and ethnicity, crude and age-adjusted: computed
 * here, once, for the chart and the summary. The rules are rows of the population tables (which
 * standard age groups a rate is computed over, which population each race_ethnicity is rated
 * against), so datasette's `rates` query, which computes the same figures in SQL, follows them too.
 *
 * Age-adjusted rates use the direct method: a group's death rate in each age group, times the
 * share of that age group in the 2000 U.S. standard population, summed over the age groups. The
 * county's estimates come in 5-year groups, so the standard's "under 1" and "1-4" share the 0-4
 * rate. A death of unknown age counts in the crude rate but belongs to no age group: it is left
 * out of the age-adjusted rate and counted apart.
 */
import { InternalError } from "../pipeline/errors.ts";
import type { PersonRow, PopulationData } from "./read.ts";

export const PER_RESIDENTS = 100_000;
export const ALL_RESIDENTS = "All residents";

export interface GroupRate {
  /** As the rates name it: Latino, White, Black, Asian, Other (incl. American Indian), Unknown, All residents. */
  race_ethnicity: string;
  /** The group's name in stat names ("black", "other"; "all" for all residents); null for Unknown. */
  key: string | null;
  deaths: number;
  /** Residents (2020 estimates); null when the group has no population (Unknown). */
  population: number | null;
  /** Deaths per 100,000 residents, 2 decimals; null without a population. */
  crude_per_100k: number | null;
  /** Age-adjusted deaths per 100,000 residents, 2 decimals; null without a population. */
  age_adjusted_per_100k: number | null;
  /** Deaths of unknown age: in `deaths` and the crude rate, not in the age-adjusted rate. */
  deaths_unknown_age: number;
}

export interface AgeGroupRate {
  /** A rated group, or ALL_RESIDENTS. */
  race_ethnicity: string;
  /** An age group the rates are computed over: 0-4, 5-14, ..., 75-84, 85+. */
  age_group: string;
  deaths: number;
  population: number;
  /** Deaths per 100,000 residents of that age, 2 decimals. */
  crude_per_100k: number;
}

export interface Rates {
  /** The rated groups, highest age-adjusted rate first, then Unknown (deaths only). */
  groups: GroupRate[];
  /** Every death (Unknown race included) against every resident. */
  all: GroupRate;
  /** Crude rates by age group: all residents first, then each rated group in the order of `groups`. */
  byAgeGroup: AgeGroupRate[];
  /** The age groups, youngest first. */
  ageGroups: string[];
}

interface Tally {
  deaths: number;
  unknownAge: number;
  byAge: Map<string, number>;
}

export function computeRates(people: ReadonlyArray<Pick<PersonRow, "age" | "race_ethnicity">>, population: PopulationData): Rates {
  const standard = [...population.standard].sort((a, b) => a.age_min - b.age_min);
  const ageGroups = [...new Set(standard.map((s) => s.rate_age_group))];
  const weights = new Map<string, number>();
  for (const s of standard) weights.set(s.rate_age_group, (weights.get(s.rate_age_group) ?? 0) + s.weight);
  const ageGroupOf = (age: number): string => {
    const found = standard.find((s) => age >= s.age_min && (s.age_max === null || age <= s.age_max));
    if (!found) throw new InternalError(`standard_population has no age group for age ${age}`);
    return found.rate_age_group;
  };

  const residents = new Map<string, Map<string, number>>();
  const everyone = new Map<string, number>();
  for (const r of population.residents) {
    const age = ageGroupOf(r.age_min);
    const byAge = residents.get(r.race_ethnicity) ?? residents.set(r.race_ethnicity, new Map()).get(r.race_ethnicity)!;
    byAge.set(age, (byAge.get(age) ?? 0) + r.population);
    everyone.set(age, (everyone.get(age) ?? 0) + r.population);
  }

  const groupOf = new Map(population.groups.map((g) => [g.race_ethnicity, g]));
  const tallies = new Map<string, Tally>(population.groups.map((g) => [g.rate_group, emptyTally()]));
  const all = emptyTally();
  for (const person of people) {
    const group = groupOf.get(person.race_ethnicity);
    if (!group) throw new InternalError(`population_groups does not say how to rate race_ethnicity ${person.race_ethnicity}`);
    const age = person.age === null ? null : ageGroupOf(person.age);
    count(tallies.get(group.rate_group)!, age);
    count(all, age);
  }

  const rate = (name: string, key: string | null, tally: Tally, byAge: Map<string, number> | undefined): GroupRate => {
    const figures = (population: number | null, crude: number | null, adjusted: number | null): GroupRate => ({
      race_ethnicity: name,
      key,
      deaths: tally.deaths,
      population,
      crude_per_100k: crude,
      age_adjusted_per_100k: adjusted,
      deaths_unknown_age: tally.unknownAge,
    });
    if (!byAge) return figures(null, null, null);
    const total = ageGroups.reduce((n, age) => n + residentsOf(byAge, age, name), 0);
    const adjusted = ageGroups.reduce((sum, age) => sum + ((tally.byAge.get(age) ?? 0) / residentsOf(byAge, age, name)) * PER_RESIDENTS * weights.get(age)!, 0);
    return figures(total, round2((tally.deaths / total) * PER_RESIDENTS), round2(adjusted));
  };

  const groups: GroupRate[] = [];
  for (const g of population.groups) {
    if (groups.some((r) => r.race_ethnicity === g.rate_group)) continue;
    const pop = g.population_race_ethnicity;
    if (pop !== null && !residents.has(pop)) throw new InternalError(`the population table has no ${pop} residents to rate ${g.rate_group} deaths against`);
    groups.push(rate(g.rate_group, pop === null ? null : pop.toLowerCase(), tallies.get(g.rate_group)!, pop === null ? undefined : residents.get(pop)));
  }
  groups.sort((a, b) => (b.age_adjusted_per_100k ?? -1) - (a.age_adjusted_per_100k ?? -1) || a.race_ethnicity.localeCompare(b.race_ethnicity));

  const ageRows = (name: string, tally: Tally, byAge: Map<string, number>): AgeGroupRate[] =>
    ageGroups.map((age) => {
      const deaths = tally.byAge.get(age) ?? 0;
      const residentsOfAge = residentsOf(byAge, age, name);
      return { race_ethnicity: name, age_group: age, deaths, population: residentsOfAge, crude_per_100k: round2((deaths / residentsOfAge) * PER_RESIDENTS) };
    });
  const byAgeGroup = [
    ...ageRows(ALL_RESIDENTS, all, everyone),
    ...groups.flatMap((g) => {
      const pop = population.groups.find((p) => p.rate_group === g.race_ethnicity)!.population_race_ethnicity;
      return pop === null ? [] : ageRows(g.race_ethnicity, tallies.get(g.race_ethnicity)!, residents.get(pop)!);
    }),
  ];
  return { groups, all: rate(ALL_RESIDENTS, "all", all, everyone), byAgeGroup, ageGroups };
}

function emptyTally(): Tally {
  return { deaths: 0, unknownAge: 0, byAge: new Map() };
}

function count(tally: Tally, age: string | null): void {
  tally.deaths++;
  if (age === null) tally.unknownAge++;
  else tally.byAge.set(age, (tally.byAge.get(age) ?? 0) + 1);
}

function residentsOf(byAge: Map<string, number>, age: string, name: string): number {
  const n = byAge.get(age);
  if (!n) throw new InternalError(`the population table has no ${name} residents aged ${age}: no rate can be computed`);
  return n;
}

/** 2 decimals, as the CSV, the summary and datasette's `rates` query give them. */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
