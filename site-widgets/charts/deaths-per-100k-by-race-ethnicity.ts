/**
 * Deaths per 100,000 residents by race and ethnicity, adjusted for age: counts alone mislead, since
 * the groups differ in size and in age. The bars are the age-adjusted rates; the CSV adds the
 * deaths, the population and the crude rates, and the Unknown row, which has no population.
 */
import { barsAcross, barsWithValues, vegaLite, type ChartBuilder } from "../chart.ts";
import { dateInWords, deaths, formatRate, people, capitalized } from "../format.ts";
import { RATES_NOTE, recordNote } from "../notes.ts";
import { rateKey, type GroupRate } from "../rates.ts";
import { RATED_FROM, RELIABLE_FROM } from "../../pipeline/store/figures.ts";
import type { Lens } from "../../schemas/lenses.ts";

/** How the takeaway speaks of each rated group's residents, by key. */
const RESIDENTS: Readonly<Record<string, string>> = {
  latino: "Latino residents",
  white: "White residents",
  black: "Black residents",
  asian: "Asian residents",
  other: "residents of other races (American Indian included)",
};

const AXIS_TITLE = "Deaths per 100,000 residents, age-adjusted";

/** Under the chart, when a rate is unreliable or missing: why (NCHS's rule). */
const RELIABILITY_NOTE =
  `* Fewer than ${RELIABLE_FROM} deaths: the rate is unreliable (NCHS's rule), drawn lighter. ` +
  `A group with fewer than ${RATED_FROM} deaths has no rate and no bar.`;

/** A rated group, with its age-adjusted rate as a number to draw. */
type Rated = GroupRate & { age_adjusted_per_100k: string; value: number };

export const deathsPer100kByRaceEthnicity: ChartBuilder = ({ rates, daily, lens }) => {
  const rows = rates.groups.map(({ race_ethnicity, deaths, population: residents, crude_per_100k, age_adjusted_per_100k, reliable }) => ({
    race_ethnicity,
    deaths,
    population: residents,
    crude_per_100k,
    age_adjusted_per_100k,
    reliable,
  }));
  const rated: Rated[] = rates.groups.flatMap((g) => (g.age_adjusted_per_100k === null ? [] : [{ ...g, age_adjusted_per_100k: g.age_adjusted_per_100k, value: Number(g.age_adjusted_per_100k) }]));
  const order = rated.map((g) => g.race_ethnicity);
  const speak = (g: GroupRate) => RESIDENTS[rateKey(rates, g) ?? ""] ?? `${g.race_ethnicity} residents`;
  const description = takeaway(rated, rates.groups, speak, daily[0].date, daily.at(-1)!.date, lens);
  const flagged = rates.groups.some((g) => g.reliable === "false");
  return {
    id: "deaths-per-100k-by-race-ethnicity",
    title: `${capitalized(lens.deaths)} recorded by the Cook County Medical Examiner per 100,000 residents, by race and ethnicity, age-adjusted`,
    notes: `${recordNote(lens)} ${RATES_NOTE}${flagged ? ` ${RELIABILITY_NOTE}` : ""}`,
    description,
    columns: ["race_ethnicity", "deaths", "population", "crude_per_100k", "age_adjusted_per_100k", "reliable"],
    rows,
    spec: vegaLite(
      "deaths-per-100k-by-race-ethnicity",
      description,
      { race_ethnicity: "string", deaths: "number", population: "number", crude_per_100k: "number", age_adjusted_per_100k: "number", reliable: "string" },
      {
        height: rated.length * 28,
        // Unknown has deaths but no population, so no rate to draw: it stays in the CSV only.
        transform: [{ filter: "isValid(datum.age_adjusted_per_100k)" }],
        encoding: {
          y: { field: "race_ethnicity", type: "nominal", sort: order, title: null },
          x: { field: "age_adjusted_per_100k", type: "quantitative", title: AXIS_TITLE, axis: { format: ",d", tickCount: 4 } },
        },
        // the values as the CSV and datasette print them: 2 decimals
        ...barsWithValues({
          horizontal: true,
          value: "age_adjusted_per_100k",
          format: ".2f",
          muted: "datum.reliable === 'false'",
          tooltip: [
            { field: "race_ethnicity", type: "nominal", title: "Race or ethnicity" },
            { field: "age_adjusted_per_100k", type: "quantitative", title: "Per 100,000, age-adjusted", format: ".2f" },
            { field: "crude_per_100k", type: "quantitative", title: "Per 100,000, crude", format: ".2f" },
            { field: "deaths", type: "quantitative", title: "Deaths", format: ",d" },
            { field: "population", type: "quantitative", title: "Residents (2020)", format: ",d" },
          ],
        }),
      },
    ),
    plot: (Plot, size) =>
      barsAcross(Plot, size, {
        rows: rated,
        x: "value",
        y: "race_ethnicity",
        order,
        xLabel: AXIS_TITLE,
        // an unreliable rate (fewer than RELIABLE_FROM deaths) is drawn lighter and starred, as the notes say
        value: (d) => (d.reliable === "false" ? `${d.age_adjusted_per_100k}*` : d.age_adjusted_per_100k),
        muted: (d) => d.reliable === "false",
        marginLeft: 184,
      }),
  };
};

function takeaway(rated: readonly Rated[], groups: readonly GroupRate[], speak: (g: GroupRate) => string, first: string, latest: string, lens: Lens): string {
  const parts = rated.map((g, i) => `${g.age_adjusted_per_100k}${i === 0 ? ` ${lens.deaths}` : ""} per 100,000 ${speak(g)}`);
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}` : parts[0];
  const sentences = [`From ${dateInWords(first)} to ${dateInWords(latest)}, the Cook County Medical Examiner recorded ${list}, adjusted for age.`];
  const [highest, lowest] = [rated[0], rated.at(-1)!];
  if (rated.length > 1 && lowest.value > 0) {
    const ratio = highest.value / lowest.value;
    sentences.push(`The recorded death rate of ${speak(highest)} was ${formatRate(ratio)} times that of ${speak(lowest)}.`);
  }
  sentences.push(
    "Rates are against the county's population estimates for 2020 and count only the deaths the Medical Examiner investigated. " +
      "Adjusting for age weighs each group's rates by age as in the 2000 U.S. standard population, since the groups differ in age.",
  );
  const tooFew = groups.filter((g) => g.population !== null && g.age_adjusted_per_100k === null);
  if (tooFew.length > 0) {
    sentences.push(`No rate is given for ${tooFew.map((g) => `${speak(g)} (${deaths(g.deaths)})`).join(" or ")}: fewer than ${RATED_FROM} deaths are too few to rate.`);
  }
  const unreliable = rated.filter((g) => g.reliable === "false");
  if (unreliable.length > 0) sentences.push(`The rates of ${unreliable.map((g) => speak(g)).join(" and ")} rest on fewer than ${RELIABLE_FROM} deaths and are unreliable.`);
  const unknownRace = groups.filter((g) => g.population === null).reduce((n, g) => n + g.deaths, 0);
  if (unknownRace > 0) sentences.push(`The race or ethnicity of ${people(unknownRace)} was not recorded: they are in no group's rate.`);
  const unknownAge = rated.reduce((n, g) => n + g.deaths_unknown_age, 0);
  if (unknownAge > 0) sentences.push(`The age of ${people(unknownAge)} was not recorded: they count in the crude rates but not in the age-adjusted ones.`);
  return sentences.join(" ");
}
