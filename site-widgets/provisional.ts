/**
 * Days whose counts are not final (pipeline/store/figures/provisional.sql): the time charts shade
 * them, lighter, under a label, in the static SVG and the Vega-Lite spec alike; their CSV marks them
 * (`provisional`), and their alt text says the counts from that day on are expected to rise.
 */
import { MARK, type Plot, type PlotOptions } from "./chart.ts";
import type { Span } from "./events.ts";
import { dateInWords, utcDay } from "./format.ts";

/** The label over the shaded days. */
export const PROVISIONAL_LABEL = "Not final yet";

/** The first shaded day when it falls within the chart's days; null when every day drawn is final. */
export function shadedFrom(from: string | null, [first, last]: Span): string | null {
  return from === null || from > last ? null : from < first ? first : from;
}

/** Each row with `provisional`: "true" from the first day not final on, "false" before. */
export function withProvisional<R extends { date: string }>(rows: readonly R[], from: string | null): Array<R & { provisional: "true" | "false" }> {
  return rows.map((row) => ({ ...row, provisional: from !== null && row.date >= from ? "true" : "false" }));
}

/** The alt text's sentence on the days not final; empty when there are none. */
export function provisionalSentence(from: string | null, span: Span): string {
  const shaded = shadedFrom(from, span);
  if (shaded === null) return "";
  return ` Counts from ${dateInWords(shaded)} on are not final and are expected to rise as cases are closed; the chart shades them, labelled "${PROVISIONAL_LABEL}".`;
}

/** Plot marks for the static SVG: a light band over the days not final, and its label at the top. */
export function provisionalMarks(Plot: Plot, from: string | null, span: Span, fontSize: number): NonNullable<PlotOptions["marks"]> {
  const shaded = shadedFrom(from, span);
  if (shaded === null) return [];
  // to the end of the last day, so a single day is a band, not a line
  const band = [{ x1: utcDay(shaded), x2: new Date(utcDay(span[1]).getTime() + 86_400_000) }];
  return [
    Plot.rect(band, { x1: "x1", x2: "x2", fill: "currentColor", fillOpacity: 0.12, className: MARK.provisional }),
    Plot.text(band, { x: "x1", text: () => PROVISIONAL_LABEL, frameAnchor: "top", textAnchor: "end", dx: -4, dy: 4, lineAnchor: "top", fontSize: fontSize * 0.9, className: MARK.eventLabel }),
  ];
}

/** Vega-Lite layers: the same band and label, over the days not final. */
export function provisionalLayers(from: string | null, span: Span, date: Record<string, unknown>): Array<Record<string, unknown>> {
  const shaded = shadedFrom(from, span);
  if (shaded === null) return [];
  const data = { values: [{ from: shaded, to: span[1], label: PROVISIONAL_LABEL }], format: { parse: { from: "date", to: "date" } } };
  return [
    {
      data,
      mark: { type: "rect", color: { expr: "muted" }, opacity: 0.35 },
      encoding: { x: { ...date, field: "from", title: null }, x2: { field: "to" }, tooltip: { value: `Counts from ${dateInWords(shaded)} on are not final and are expected to rise` } },
    },
    {
      data,
      mark: { type: "text", align: "right", baseline: "top", dx: -4, y: 4 },
      encoding: { x: { ...date, field: "from", title: null }, text: { field: "label" } },
    },
  ];
}
