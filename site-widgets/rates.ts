/**
 * The death rates as the site shows them: the rows of the `rates` and `rates_by_age_group` figures
 * (pipeline/store/figures/), which datasette serves from the same SQL. Nothing is computed here:
 * the rates are the strings the queries made, printed as they are in the chart's CSV, the summary
 * and the `vigil-stat` values.
 */
import { RATE_KEYS, type RateKey, type RatesSummary } from "../schemas/widgets.ts";
import { InternalError } from "../pipeline/errors.ts";
import { RATED_FROM, type AgeGroupRate, type GroupRate } from "../pipeline/store/figures.ts";
import { POPULATION_AS_OF } from "../pipeline/store/population.ts";

export type { AgeGroupRate, GroupRate };

export const ALL_RESIDENTS = "All residents";

export interface Rates {
  /** Every death (Unknown race included) against every resident. */
  all: GroupRate;
  /** The rated groups, highest age-adjusted rate first, then Unknown (deaths only). */
  groups: GroupRate[];
  /** Crude rates by age group: all residents first, then each rated group. */
  byAgeGroup: AgeGroupRate[];
  /** Each rated group's name in stat names ("black", "other"; "all" for all residents), by its race_ethnicity. */
  keys: ReadonlyMap<string, RateKey>;
}

/**
 * The figures' rows, with All residents apart. `ratedAs` gives the population each group is rated
 * against (population_groups), whose name the group's stats are named for.
 */
export function splitRates(rows: readonly GroupRate[], byAgeGroup: readonly AgeGroupRate[], ratedAs: ReadonlyMap<string, string>): Rates {
  const all = rows.find((row) => row.race_ethnicity === ALL_RESIDENTS);
  if (!all) throw new InternalError(`the rates figure has no ${ALL_RESIDENTS} row`, { hint: "see pipeline/store/figures/rates.sql" });
  const keys = new Map<string, RateKey>([[ALL_RESIDENTS, "all"]]);
  for (const [group, population] of ratedAs) {
    const key = RATE_KEYS.find((k) => k === population.toLowerCase());
    if (key) keys.set(group, key);
  }
  return { all, groups: rows.filter((row) => row !== all), byAgeGroup: [...byAgeGroup], keys };
}

/** The group's name in stat names; null for a group never rated (Unknown). */
export function rateKey(rates: Pick<Rates, "keys">, group: GroupRate): RateKey | null {
  return group.population === null ? null : (rates.keys.get(group.race_ethnicity) ?? null);
}

/** The rates for the summary: every group's figures, and all residents' by age group. */
export function ratesSummary(rates: Rates): RatesSummary {
  return {
    population_as_of: POPULATION_AS_OF,
    standard_population: "2000 U.S. standard population (NCHS), 11 age groups",
    all: rates.all,
    groups: rates.groups,
    by_age_group: rates.byAgeGroup.filter((r) => r.race_ethnicity === ALL_RESIDENTS).map(({ race_ethnicity: _, ...r }) => r),
  };
}

export type RateStat = `${"crude" | "age_adjusted"}_per_100k_${RateKey}`;

/** What a stat says of a group with too few deaths to rate. */
export const NO_RATE = `not given (fewer than ${RATED_FROM} deaths)`;

/**
 * crude_per_100k_black, age_adjusted_per_100k_black, ...: the figures' strings, like "312.40"
 * (NO_RATE for a group with fewer than RATED_FROM deaths).
 */
export function rateStats(rates: Rates): Record<RateStat, string> {
  const stats: Partial<Record<RateStat, string>> = {};
  for (const group of [rates.all, ...rates.groups]) {
    const key = rateKey(rates, group);
    if (key === null) continue;
    stats[`crude_per_100k_${key}`] = group.crude_per_100k ?? NO_RATE;
    stats[`age_adjusted_per_100k_${key}`] = group.age_adjusted_per_100k ?? NO_RATE;
  }
  // a group missing here fails the summary's contract, which names it
  return stats as Record<RateStat, string>;
}
