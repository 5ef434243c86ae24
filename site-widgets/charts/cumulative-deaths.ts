/**
 * The running total of deaths, and how early half of them had already happened.
 */
import { MARK, vegaLite, type ChartBuilder, drawnPoints } from "../chart.ts";
import { eventLayers, eventMarks, eventsSentence, type Span } from "../events.ts";
import { dateInWords, formatCount, utcDay } from "../format.ts";
import { recordNote } from "../notes.ts";
import { provisionalLayers, provisionalMarks, provisionalSentence } from "../provisional.ts";

/** The static SVG's margins; the top one grows to make room for the events' labels. */
const MARGIN = { left: 52, right: 20, top: 20 } as const;

export const cumulativeDeaths: ChartBuilder = ({ daily, events, lens, provisional }) => {
  const total = daily.at(-1)!.cumulative_deaths;
  const half = daily.find((d) => d.cumulative_deaths * 2 >= total)!;
  const span: Span = [daily[0].date, daily.at(-1)!.date];
  const description =
    `The ${lens.deaths} the Cook County Medical Examiner recorded rose to ${formatCount(total)} between ` +
    `${dateInWords(daily[0].date)} and ${dateInWords(daily.at(-1)!.date)}. Half of them had died by ${dateInWords(half.date)}.` +
    eventsSentence(events, span) +
    provisionalSentence(provisional.provisional_from, span);
  const date = { field: "date", type: "temporal", timeUnit: "utcyearmonthdate" } as const;
  return {
    id: "cumulative-deaths",
    title: `Total ${lens.deaths} recorded by the Cook County Medical Examiner`,
    notes: recordNote(lens),
    description,
    columns: ["date", "cumulative_deaths"],
    rows: daily.map((d) => ({ date: d.date, cumulative_deaths: d.cumulative_deaths })),
    spec: vegaLite("cumulative-deaths", description, { date: "date", cumulative_deaths: "number" }, {
      encoding: {
        x: { ...date, title: null, axis: { format: "%b %Y", labelOverlap: true, tickCount: 6 } },
        y: { field: "cumulative_deaths", type: "quantitative", title: "Total deaths", axis: { format: ",d" } },
      },
      layer: [
        ...provisionalLayers(provisional.provisional_from, span, date),
        { mark: { type: "area", color: { expr: "muted" }, opacity: 0.5 } },
        { mark: { type: "line", color: { expr: "accent" }, strokeWidth: 2 } },
        {
          params: [{ name: "hover", select: { type: "point", encodings: ["x"], nearest: true, on: "pointerover", clear: "pointerout" } }],
          mark: { type: "point", color: { expr: "accent" }, filled: true },
          encoding: {
            opacity: { condition: { param: "hover", empty: false, value: 1 }, value: 0 },
            tooltip: [
              { ...date, title: "Day", format: "%B %-d, %Y" },
              { field: "cumulative_deaths", type: "quantitative", title: "Total so far", format: ",d" },
            ],
          },
        },
        ...eventLayers(events, span, date),
      ],
    }),
    plot: (Plot, size) => {
      const points = drawnPoints(daily).map((d) => ({ date: utcDay(d.end), total: d.cumulative_deaths }));
      const annotations = eventMarks(Plot, events, span, { ...MARGIN, width: size.width, fontSize: size.fontSize });
      return {
        width: size.width,
        height: size.height,
        marginLeft: MARGIN.left,
        marginRight: MARGIN.right,
        marginTop: annotations.marginTop,
        x: { type: "utc", label: null },
        y: { grid: true, label: "Total deaths", labelArrow: "none" },
        marks: [
          ...provisionalMarks(Plot, provisional.provisional_from, span, size.fontSize),
          Plot.areaY(points, { x: "date", y: "total", className: MARK.mutedFill, fillOpacity: 0.5 }),
          Plot.lineY(points, { x: "date", y: "total", strokeWidth: 2, className: MARK.accentStroke }),
          Plot.ruleY([0]),
          ...annotations.marks,
        ],
      };
    },
  };
};
