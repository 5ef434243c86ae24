/**
 * Dated events on the time charts: a dashed line at each event's day with its label above the
 * plot, where no data is drawn, in the page's text color (so it reads in light and dark mode
 * alike); and a sentence for the alt text. Only the events within a chart's days are drawn or
 * named. The static SVG (Observable Plot) and the Vega-Lite spec place the labels the same way.
 */
import type { ChartEvent } from "../schemas/events.ts";
import { MARK, type Plot, type PlotOptions } from "./chart.ts";
import { dateInWords, utcDay } from "./format.ts";

/** The days a chart spans, YYYY-MM-DD, both included. */
export type Span = readonly [first: string, last: string];

const FONT_SIZE = 10;
/** The wide static SVG's text size, at which its labels are FONT_SIZE. */
const WIDE_FONT_SIZE = 11;
const LINE_HEIGHT = 12;
/** Width of a character of a label: ~0.62 em at FONT_SIZE in a sans-serif. */
const CHAR_WIDTH = 6.2;
/** Pixels between a label and the plot or the label below it, and between labels side by side. */
const GAP = 6;
const DASH = [4, 3];
/** The static SVG scales as a whole, so its labels are placed for its own width, 30 characters a line. */
const WIDE_LINE = 30;
/**
 * The interactive chart's labels keep their size when the chart narrows: they are placed for a
 * plot as narrow as a phone's, in lines short enough that one side of any line has room for its
 * label, and then fit any wider plot too.
 */
const NARROW = { width: 250, line: 19 } as const;

interface PlacedEvent extends ChartEvent {
  /** The label, wrapped. */
  lines: string[];
  /** Pixels from the top of the plot up to the bottom of the label. */
  lift: number;
  /** Pixels from the top of the plot up to the top of the label, where its line ends. */
  reach: number;
  /** Which side of its line the label sits on: right of it, or left of it near the chart's end. */
  side: "right" | "left";
}

interface Layout {
  events: PlacedEvent[];
  /** Pixels the labels need above the plot (0 without events). */
  height: number;
}

/** The events on the days of `span`, in date order. */
export function eventsWithin(events: readonly ChartEvent[], [first, last]: Span): ChartEvent[] {
  return events.filter((e) => e.date >= first && e.date <= last);
}

/**
 * Where each label goes on a plot `width` pixels wide: beside its line, in the lowest band above
 * the plot where it overlaps no other label and no earlier event's line crosses it (a line runs up
 * through the bands below its own label; it may still cross a label that sits right on its day).
 */
function place(events: readonly ChartEvent[], span: Span, width: number, lineChars: number): Layout {
  const start = utcDay(span[0]).getTime();
  const duration = Math.max(1, utcDay(span[1]).getTime() - start);
  const placed: Array<{ event: ChartEvent; lines: string[]; side: PlacedEvent["side"]; x: number; from: number; to: number; band: number }> = [];
  const bandLines: number[] = [];
  for (const event of eventsWithin(events, span)) {
    const lines = wrap(event.label, lineChars);
    const x = ((utcDay(event.date).getTime() - start) / duration) * width;
    const w = Math.max(...lines.map((l) => l.length)) * CHAR_WIDTH + 4;
    const side: PlacedEvent["side"] = x + w > width && x * 2 > width ? "left" : "right";
    const [from, to] = side === "right" ? [x, x + w] : [x - w, x];
    const clear = (band: number) =>
      placed.every((p) => (p.band === band ? to + GAP < p.from || from > p.to + GAP : p.band < band || p.x < from - GAP || p.x > to + GAP));
    let band = 0;
    while (!clear(band)) band++;
    bandLines[band] = Math.max(bandLines[band] ?? 0, lines.length);
    placed.push({ event, lines, side, x, from, to, band });
  }
  const bottom = (band: number) => GAP + bandLines.slice(0, band).reduce((sum, n) => sum + (n ?? 0) * LINE_HEIGHT + GAP, 0);
  return {
    events: placed.map(({ event, lines, side, band }) => ({ ...event, lines, side, lift: bottom(band), reach: bottom(band) + lines.length * LINE_HEIGHT })),
    height: placed.length === 0 ? 0 : bottom(bandLines.length),
  };
}

/** A label in lines of at most `chars` characters, broken between words. */
function wrap(label: string, chars: number): string[] {
  const lines: string[] = [];
  for (const word of label.split(" ")) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= chars) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/**
 * Plot marks for the static SVG, whose plot is `margin.left` and `margin.right` short of its
 * `width`, and the top margin that makes room for the labels above `margin.top`.
 */
export function eventMarks(
  Plot: Plot,
  events: readonly ChartEvent[],
  span: Span,
  size: { width: number; left: number; right: number; top: number; fontSize: number },
): { marks: NonNullable<PlotOptions["marks"]>; marginTop: number } {
  // Labels are placed at FONT_SIZE and the whole layout scaled: a phone's chart has larger text,
  // so fewer characters a line.
  const k = Math.max(1, size.fontSize / WIDE_FONT_SIZE);
  const layout = place(events, span, (size.width - size.left - size.right) / k, k > 1 ? NARROW.line : WIDE_LINE);
  const at = (e: PlacedEvent) => utcDay(e.date);
  const marks = layout.events.flatMap((e) => [
    // from the bottom of the plot up along its label, so the label reads as the line's
    Plot.ruleX([e], { x: at, insetTop: -e.reach * k, stroke: "currentColor", strokeOpacity: 0.7, strokeDasharray: DASH.join(","), className: MARK.eventRule }),
    Plot.text([e], {
      x: at,
      text: (d: PlacedEvent) => d.lines.join("\n"),
      frameAnchor: "top",
      lineAnchor: "bottom",
      textAnchor: e.side === "right" ? "start" : "end",
      dx: e.side === "right" ? 4 : -4,
      dy: -e.lift * k,
      fontSize: FONT_SIZE * k,
      lineHeight: LINE_HEIGHT / FONT_SIZE,
      className: MARK.eventLabel,
    }),
  ]);
  return { marks, marginTop: size.top + layout.height * k };
}

/**
 * Vega-Lite layers: a dashed rule per event from the bottom of the plot up along its label, and
 * the label; both with a tooltip naming the event, its day and its source. The events are in the
 * spec itself, so a frozen copy keeps its own. `y` is in pixels from the top of the plot (`top`,
 * the top of the label, above it), and set on each layer: the chart's own y encoding is not theirs.
 */
export function eventLayers(events: readonly ChartEvent[], span: Span, date: Record<string, unknown>): Array<Record<string, unknown>> {
  const layout = place(events, span, NARROW.width, NARROW.line);
  const data = (placed: PlacedEvent[]) => ({
    values: placed.map((e) => ({ date: e.date, label: e.label, source_url: e.source_url, lines: e.lines, top: -e.reach })),
    format: { parse: { date: "date" } },
  });
  const x = { ...date, title: null };
  const y = { field: "top", type: "quantitative", scale: null };
  const tooltip = [
    { field: "label", type: "nominal", title: "Event" },
    { ...date, title: "Day", format: "%B %-d, %Y" },
    { field: "source_url", type: "nominal", title: "Source" },
  ];
  if (layout.events.length === 0) return [];
  const layers: Array<Record<string, unknown>> = [
    { data: data(layout.events), mark: { type: "rule", strokeDash: DASH, opacity: 0.7 }, encoding: { x, y, y2: { value: { expr: "height" } }, tooltip } },
  ];
  for (const side of ["right", "left"] as const) {
    const placed = layout.events.filter((e) => e.side === side);
    if (placed.length === 0) continue;
    layers.push({
      data: data(placed),
      mark: { type: "text", baseline: "top", align: side === "right" ? "left" : "right", dx: side === "right" ? 4 : -4, fontSize: FONT_SIZE, lineHeight: LINE_HEIGHT },
      encoding: { x, y, text: { field: "lines" }, tooltip },
    });
  }
  return layers;
}

/** The alt text's words for the events the chart spans, after its takeaway; empty when it spans none. */
export function eventsSentence(events: readonly ChartEvent[], span: Span): string {
  const named = eventsWithin(events, span).map((e) => `${dateInWords(e.date)}: ${e.label.replace(/[.\s]+$/, "")}`);
  if (named.length === 0) return "";
  return named.length === 1 ? ` A dashed line marks ${named[0]}.` : ` Dashed lines mark ${named.join("; ")}.`;
}
