/**
 * Deaths by calendar month (Chicago time): the deadliest months at a glance.
 */
import { MARK, vegaLite, type ChartBuilder } from "../chart.ts";
import { formatCount, monthInWords, monthLabel, capitalized } from "../format.ts";
import { recordNote } from "../notes.ts";

export const deathsByMonth: ChartBuilder = ({ daily, lens }) => {
  // Built from the zero-filled daily series, so a month without deaths inside the span shows as 0.
  const months = new Map<string, number>();
  for (const d of daily) {
    const month = d.date.slice(0, 7);
    months.set(month, (months.get(month) ?? 0) + d.deaths);
  }
  const rows = [...months].map(([month, deaths]) => ({ month, deaths }));
  const ranked = [...rows].sort((a, b) => b.deaths - a.deaths || a.month.localeCompare(b.month));
  const [first, second] = ranked;
  const description =
    `The deadliest month in the Cook County Medical Examiner's record was ${monthInWords(first.month)}, with ${formatCount(first.deaths)} ${lens.deaths}` +
    (second ? `, followed by ${monthInWords(second.month)} with ${formatCount(second.deaths)}` : "") +
    `. The chart covers ${rows.length === 1 ? "1 month" : `${rows.length} months`}, from ${monthInWords(rows[0].month)} to ${monthInWords(rows.at(-1)!.month)}.`;
  return {
    id: "deaths-by-month",
    title: `${capitalized(lens.deaths)} recorded by the Cook County Medical Examiner, by month`,
    notes: recordNote(lens),
    description,
    columns: ["month", "deaths"],
    rows,
    spec: vegaLite("deaths-by-month", description, { month: "date", deaths: "number" }, {
      mark: { type: "bar", color: { expr: "accent" } },
      encoding: {
        // months as bands: each tick and label sits under the middle of its month's bar
        x: { field: "month", type: "ordinal", timeUnit: "utcyearmonth", title: null, axis: { format: "%b %Y", labelOverlap: "greedy", labelAngle: 0 } },
        y: { field: "deaths", type: "quantitative", title: "Deaths", axis: { format: ",d" } },
        tooltip: [
          { field: "month", type: "temporal", timeUnit: "utcyearmonth", title: "Month", format: "%B %Y" },
          { field: "deaths", type: "quantitative", title: "Deaths", format: ",d" },
        ],
      },
    }),
    plot: (Plot, size) => ({
      width: size.width,
      height: size.height,
      marginLeft: 52,
      // months as bands, a label under every few: each tick sits under the middle of its bar
      x: { type: "band", label: null, padding: 0.1, ticks: rows.filter((_, i) => i % labelEvery(rows.length) === 0).map((r) => r.month), tickFormat: monthLabel },
      y: { grid: true, label: "Deaths per month", labelArrow: "none" },
      marks: [
        Plot.barY(rows, { x: "month", y: "deaths", className: MARK.accentFill }),
        Plot.ruleY([0]),
      ],
    }),
  };
};

/** One month label in so many, so that about six fit across the static chart. */
function labelEvery(months: number): number {
  return Math.max(1, Math.ceil(months / 6));
}
