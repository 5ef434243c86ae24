/**
 * Deaths per day with the 7-day average: the shape of the waves, and the deadliest day.
 */
import { MARK, maxBy, peakAverage, vegaLite, type ChartBuilder, drawnPoints } from "../chart.ts";
import { eventLayers, eventMarks, eventsSentence, type Span } from "../events.ts";
import { dateInWords, deaths, formatAverage, formatCount, utcDay, capitalized } from "../format.ts";
import { recordNote } from "../notes.ts";
import { provisionalLayers, provisionalMarks, provisionalSentence, withProvisional } from "../provisional.ts";

/** What the average's line is called, at its end. */
const AVERAGE_LABEL = "7-day average";

/** The static SVG's margins; the top one grows to make room for the events' labels. */
const MARGIN = { left: 44, right: 20, top: 20 } as const;

export const dailyDeaths: ChartBuilder = ({ daily, events, lens, provisional }) => {
  const total = daily.at(-1)!.cumulative_deaths;
  const peak = maxBy(daily, (d) => d.deaths);
  const peakAvg = peakAverage(daily);
  const span: Span = [daily[0].date, daily.at(-1)!.date];
  const description =
    `From ${dateInWords(daily[0].date)} to ${dateInWords(daily.at(-1)!.date)}, the Cook County Medical Examiner recorded ` +
    `${formatCount(total)} ${lens.deaths}. The deadliest day was ${dateInWords(peak.date)}, with ${deaths(peak.deaths)}` +
    (peakAvg ? `; the 7-day average peaked at ${formatAverage(peakAvg.deaths_7day_avg)} deaths a day on ${dateInWords(peakAvg.date)}.` : ".") +
    eventsSentence(events, span) +
    provisionalSentence(provisional.provisional_from, span);
  const date = { field: "date", type: "temporal", timeUnit: "utcyearmonthdate" } as const;
  return {
    id: "daily-deaths",
    title: `${capitalized(lens.deaths)} per day recorded by the Cook County Medical Examiner`,
    notes: recordNote(lens),
    description,
    columns: ["date", "deaths", "deaths_7day_avg", "cumulative_deaths", "provisional"],
    rows: withProvisional(daily, provisional.provisional_from),
    spec: vegaLite("daily-deaths", description, { date: "date", deaths: "number", deaths_7day_avg: "number", cumulative_deaths: "number" }, {
      encoding: { x: { ...date, title: null, axis: { format: "%b %Y", labelOverlap: true, tickCount: 6 } } },
      layer: [
        ...provisionalLayers(provisional.provisional_from, span, date),
        {
          // A stepped area rather than ~700 hairline bars, which render as a pale haze.
          mark: { type: "area", interpolate: "step-after", color: { expr: "muted" } },
          encoding: { y: { field: "deaths", type: "quantitative", title: "Deaths per day", axis: { format: ",d", tickMinStep: 1 } } },
        },
        {
          mark: { type: "line", color: { expr: "accent" }, strokeWidth: 2 },
          encoding: { y: { field: "deaths_7day_avg", type: "quantitative" } },
        },
        {
          // the line named beside its peak (the earliest, on a tie), rather than in a legend
          transform: [
            { filter: "isValid(datum.deaths_7day_avg)" },
            { window: [{ op: "row_number", as: "rank" }], sort: [{ field: "deaths_7day_avg", order: "descending" }, { field: "date", order: "ascending" }] },
            { filter: "datum.rank === 1" },
          ],
          mark: { type: "text", text: AVERAGE_LABEL, align: "left", baseline: "middle", dx: 8, color: { expr: "accent" }, fontWeight: "bold" },
          encoding: { y: { field: "deaths_7day_avg", type: "quantitative" } },
        },
        {
          params: [{ name: "hover", select: { type: "point", encodings: ["x"], nearest: true, on: "pointerover", clear: "pointerout" } }],
          mark: { type: "rule", color: { expr: "accent" } },
          encoding: {
            opacity: { condition: { param: "hover", empty: false, value: 0.6 }, value: 0 },
            tooltip: [
              { ...date, title: "Day", format: "%B %-d, %Y" },
              { field: "deaths", type: "quantitative", title: "Deaths", format: ",d" },
              { field: "deaths_7day_avg", type: "quantitative", title: "7-day average", format: ".1f" },
              { field: "cumulative_deaths", type: "quantitative", title: "Total so far", format: ",d" },
            ],
          },
        },
        ...eventLayers(events, span, date),
      ],
    }),
    plot: (Plot, size) => {
      const points = drawnPoints(daily).map((d) => ({ date: utcDay(d.date), end: utcDay(d.end), deaths: d.deaths, avg: d.deaths_7day_avg }));
      const annotations = eventMarks(Plot, events, span, { ...MARGIN, width: size.width, fontSize: size.fontSize });
      return {
        width: size.width,
        height: size.height,
        marginLeft: MARGIN.left,
        marginRight: MARGIN.right,
        marginTop: annotations.marginTop,
        x: { type: "utc", label: null },
        // whole deaths: a lens with a few deaths a day gets ticks at 0, 1, 2, not at 0.2
        y: { grid: true, label: "Deaths per day", labelArrow: "none", ...(peak.deaths < 6 ? { ticks: peak.deaths } : {}) },
        marks: [
          ...provisionalMarks(Plot, provisional.provisional_from, span, size.fontSize),
          Plot.areaY(points, { x: "date", y: "deaths", curve: "step", className: MARK.mutedFill }),
          Plot.lineY(points, { x: "end", y: "avg", strokeWidth: 2, className: MARK.accentStroke }),
          // beside the peak, on the side with room for it
          Plot.text(peakAvg ? [{ date: utcDay(peakAvg.date), avg: peakAvg.deaths_7day_avg }] : [], {
            x: "date",
            y: "avg",
            text: () => AVERAGE_LABEL,
            ...(peakAvg && rightHalf(peakAvg.date, span) ? { textAnchor: "end", dx: -8 } : { textAnchor: "start", dx: 8 }),
            fontWeight: "bold",
            className: MARK.accentFill,
          }),
          Plot.ruleY([0]),
          ...annotations.marks,
        ],
      };
    },
  };
};

/** Whether a day falls in the right half of the span the chart draws. */
function rightHalf(date: string, [first, last]: Span): boolean {
  const at = utcDay(date).getTime();
  return at - utcDay(first).getTime() > utcDay(last).getTime() - at;
}
