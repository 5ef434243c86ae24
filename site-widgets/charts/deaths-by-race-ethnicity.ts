/**
 * Deaths by race and ethnicity, as the county reports them (Latino overrides race).
 */
import { barsAcross, barsWithValues, tally, vegaLite, type ChartBuilder } from "../chart.ts";
import { formatCount, formatShare, people, capitalized } from "../format.ts";
import { recordNote } from "../notes.ts";

export const deathsByRaceEthnicity: ChartBuilder = ({ people: persons, lens }) => {
  const counts = tally(persons, (p) => p.race_ethnicity);
  // Largest first; ties in a fixed order so the output never depends on row order.
  const rows = [...counts]
    .map(([race_ethnicity, deaths]) => ({ race_ethnicity, deaths }))
    .sort((a, b) => b.deaths - a.deaths || a.race_ethnicity.localeCompare(b.race_ethnicity));
  const total = persons.length;
  const parts = rows.map((r, i) => `${formatCount(r.deaths)} ${i === 0 ? "were " : ""}${r.race_ethnicity} (${formatShare(r.deaths, total)})`);
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}` : parts[0];
  const description =
    `Of the ${people(total)} whose ${lens.deaths} the Cook County Medical Examiner recorded, ${list}. ` +
    `As in the county's own reports, Latino people are counted as Latino whatever their race.`;
  const order = rows.map((r) => r.race_ethnicity);
  return {
    id: "deaths-by-race-ethnicity",
    title: `${capitalized(lens.deaths)} recorded by the Cook County Medical Examiner, by race and ethnicity`,
    notes: recordNote(lens),
    description,
    columns: ["race_ethnicity", "deaths"],
    rows,
    spec: vegaLite("deaths-by-race-ethnicity", description, { race_ethnicity: "string", deaths: "number" }, {
      // A fixed height rather than a step: vega-lite drops "fit" sizing on a stepped axis.
      height: rows.length * 28,
      encoding: {
        y: { field: "race_ethnicity", type: "nominal", sort: order, title: null },
        x: { field: "deaths", type: "quantitative", title: "Deaths", axis: { format: ",d", tickCount: 4 } },
      },
      ...barsWithValues({
        horizontal: true,
        value: "deaths",
        format: ",d",
        tooltip: [
          { field: "race_ethnicity", type: "nominal", title: "Race or ethnicity" },
          { field: "deaths", type: "quantitative", title: "Deaths", format: ",d" },
        ],
      }),
    }),
    plot: (Plot, size) =>
      barsAcross(Plot, size, { rows, x: "deaths", y: "race_ethnicity", order, xLabel: "Deaths", value: (d) => formatCount(d.deaths), marginLeft: 104 }),
  };
};
