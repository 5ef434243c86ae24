/**
 * Deaths by age group: how much of the toll fell on the oldest.
 */
import { AGE_GROUPS } from "../../schemas/case.ts";
import { MARK, barsWithValues, tally, vegaLite, type ChartBuilder } from "../chart.ts";
import { formatCount, formatShare, people, capitalized } from "../format.ts";
import { recordNote } from "../notes.ts";

const UNKNOWN = "Unknown";

export const deathsByAgeGroup: ChartBuilder = ({ people: persons, lens }) => {
  const counts = tally(persons, (p) => p.age_group ?? UNKNOWN);
  const groups = [...AGE_GROUPS, UNKNOWN].filter((g) => g !== UNKNOWN || counts.has(UNKNOWN));
  const rows = groups.map((age_group) => ({ age_group, deaths: counts.get(age_group) ?? 0 }));
  const total = persons.length;
  const sum = (names: readonly string[]) => names.reduce((n, g) => n + (counts.get(g) ?? 0), 0);
  const over80 = sum(["80+"]);
  const over70 = sum(["70-79", "80+"]);
  const under40 = sum(["0-17", "18-29", "30-39"]);
  const unknown = counts.get(UNKNOWN) ?? 0;
  const description =
    `Of the ${people(total)} whose ${lens.deaths} the Cook County Medical Examiner recorded, ${formatCount(over80)} (${formatShare(over80, total)}) were 80 or older ` +
    `and ${formatCount(over70)} (${formatShare(over70, total)}) were 70 or older; ${formatCount(under40)} (${formatShare(under40, total)}) were under 40.` +
    (unknown > 0 ? ` The age of ${people(unknown)} was not recorded.` : "");
  // Labels turn when the chart is too narrow to set them side by side (phones).
  const axis = { labelAngle: { expr: "width < 440 ? -45 : 0" }, labelAlign: { expr: "width < 440 ? 'right' : 'center'" } };
  const x = { field: "age_group", type: "ordinal", sort: groups, title: "Age", axis } as const;
  return {
    id: "deaths-by-age-group",
    title: `${capitalized(lens.deaths)} recorded by the Cook County Medical Examiner, by age group`,
    notes: recordNote(lens),
    description,
    columns: ["age_group", "deaths"],
    rows,
    spec: vegaLite("deaths-by-age-group", description, { age_group: "string", deaths: "number" }, {
      encoding: { x, y: { field: "deaths", type: "quantitative", title: "Deaths", axis: { format: ",d" } } },
      ...barsWithValues({
        horizontal: false,
        value: "deaths",
        format: ",d",
        tooltip: [
          { field: "age_group", type: "ordinal", title: "Age" },
          { field: "deaths", type: "quantitative", title: "Deaths", format: ",d" },
        ],
      }),
    }),
    plot: (Plot, size) => ({
      width: size.width,
      height: size.height,
      marginLeft: 52,
      // on a phone the labels turn, as they do in the interactive chart
      ...(size.width < 400 && { marginBottom: 56 }),
      x: { domain: groups, label: "Age", padding: 0.2, ...(size.width < 400 && { tickRotate: -45 }) },
      y: { grid: true, label: "Deaths", labelArrow: "none" },
      marks: [
        Plot.barY(rows, { x: "age_group", y: "deaths", className: MARK.accentFill }),
        Plot.text(rows, { x: "age_group", y: "deaths", text: (d: { deaths: number }) => formatCount(d.deaths), dy: -7 }),
        Plot.ruleY([0]),
      ],
    }),
  };
};
