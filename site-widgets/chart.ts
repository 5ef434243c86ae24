/**
 * What every chart is made of, and the pieces they share: a chart is a pure function of the
 * widget data that returns its rows (the CSV), its plain-language takeaway, a Vega-Lite spec for
 * the interactive version and the Observable Plot options for the static SVG.
 */
import type { DailyRow } from "../pipeline/store/figures.ts";
import type * as PlotLib from "@observablehq/plot";
import type { ChartId, VegaLiteSpec } from "../schemas/widgets.ts";
import type { WidgetData } from "./read.ts";
import { RELIABLE_FROM } from "../pipeline/store/figures.ts";

export type Plot = typeof PlotLib;
export type PlotOptions = PlotLib.PlotOptions;

export type CsvValue = string | number | null;

export interface ChartDraft {
  id: ChartId;
  title: string;
  /** The notes line under the chart: what the record covers, and anything else a reader must know to read it. */
  notes: string;
  /** The takeaway in plain language: alt text, `<desc>`, `aria-label` and the spec's description. */
  description: string;
  columns: readonly string[];
  rows: ReadonlyArray<Record<string, CsvValue>>;
  spec: VegaLiteSpec;
  /**
   * Plot options for a static SVG of `size` (wide, or narrow for phones); Plot itself is passed in
   * so it is only loaded to render.
   */
  plot(Plot: Plot, size: SvgSize): PlotOptions;
}

export type ChartBuilder = (data: WidgetData) => ChartDraft;

/** A chart drawn: its draft, the static SVG, the spec and the CSV, as written into the site. */
export interface BuiltChart {
  draft: ChartDraft;
  svg: string;
  /** The SVG drawn for phones (SVG_NARROW). */
  narrowSvg: string;
  spec: string;
  csv: string;
}

/** Colors of marks. Text and axes use `currentColor`, so they follow the page around the chart. */
export const PALETTE = {
  light: { accent: "#2f4b7c", muted: "#7d95c4" },
  dark: { accent: "#b3c8f5", muted: "#5d74aa" },
} as const;

/** The size of a static SVG's viewBox and the size of its text, in viewBox units. */
export interface SvgSize {
  width: number;
  height: number;
  fontSize: number;
}

/** The static SVG for pages wider than a phone; it scales to its container, keeping this aspect. */
export const SVG_SIZE: SvgSize = { width: 560, height: 320, fontSize: 11 };

/**
 * The static SVG for phones (the site's stylesheet swaps it in below 480 CSS px): drawn 320 wide
 * with 12.5-unit text, so that in a column 320 px or wider its text is at least 12 CSS px.
 */
export const SVG_NARROW: SvgSize = { width: 320, height: 300, fontSize: 12.5 };

/**
 * Class names set on Plot marks: the SVG's own stylesheet colors the first three (see `svgStyle`);
 * the events' line and label are drawn in `currentColor`, and named for the site's stylesheet.
 */
export const MARK = {
  accentFill: "vigil-fill-accent",
  mutedFill: "vigil-fill-muted",
  accentStroke: "vigil-stroke-accent",
  eventRule: "vigil-event-rule",
  eventLabel: "vigil-event-label",
  /** The band over the days whose counts are not final (site-widgets/provisional.ts). */
  provisional: "vigil-provisional",
} as const;

/** The stylesheet inside each SVG: mark colors for light and dark, the rest inherits the page. */
export function svgStyle(): string {
  const rules = (p: { accent: string; muted: string }) =>
    `.${MARK.accentFill}{fill:${p.accent}}.${MARK.mutedFill}{fill:${p.muted}}.${MARK.accentStroke}{stroke:${p.accent}}`;
  return `${rules(PALETTE.light)}@media (prefers-color-scheme: dark){${rules(PALETTE.dark)}}`;
}

/**
 * The envelope of every chart's Vega-Lite spec. The data URL is the CSV beside the spec; the
 * upgrade script points it at the copy it was given (site-wide or frozen). Mark colors are
 * parameters so the script can swap in `usermeta.vigil.dark` for readers in dark mode.
 */
export function vegaLite(id: ChartId, description: string, parse: Record<string, string>, body: Record<string, unknown>): VegaLiteSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    description,
    width: "container",
    height: 280,
    autosize: { type: "fit-x", contains: "padding" },
    data: { url: `${id}.csv`, format: { type: "csv", parse } },
    params: [
      { name: "accent", value: PALETTE.light.accent },
      { name: "muted", value: PALETTE.light.muted },
    ],
    ...body,
    // Marks and axes stay out of the accessibility tree: a screen reader hears the description (the
    // takeaway), and the data is a table under the chart, not a thousand points to step through.
    config: { aria: false, mark: { aria: false }, view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: "normal" } },
    usermeta: { vigil: { chart: id, dark: { ...PALETTE.dark } } },
  };
}

/**
 * Bars with each bar's value written at its end, for a spec whose `encoding` holds the positions:
 * a reader sees the figures without hovering, and the tooltip adds the rest.
 */
export function barsWithValues(options: {
  horizontal: boolean;
  value: string;
  format: string;
  tooltip: readonly unknown[];
  /** A Vega expression on `datum`: the bars drawn in the lighter color, their values starred (e.g. unreliable rates). */
  muted?: string;
}): { layer: unknown[]; padding?: unknown } {
  const label = options.horizontal ? { type: "text", align: "left", baseline: "middle", dx: 4 } : { type: "text", align: "center", baseline: "bottom", dy: -4 };
  const color = options.muted ? { expr: `${options.muted} ? muted : accent` } : { expr: "accent" };
  const text = options.muted
    ? { transform: [{ calculate: `format(datum.${options.value}, '${options.format}') + (${options.muted} ? '*' : '')`, as: "vigil_label" }], encoding: { text: { field: "vigil_label", type: "nominal" } } }
    : { encoding: { text: { field: options.value, type: "quantitative", format: options.format } } };
  return {
    // room after the longest bar for its value
    ...(options.horizontal && { padding: { left: 5, top: 5, bottom: 5, right: 56 } }),
    layer: [
      { mark: { type: "bar", color }, encoding: { tooltip: options.tooltip } },
      { mark: label, ...text },
    ],
  };
}

/** How the data table under a chart heads each CSV column. */
export const COLUMN_LABELS: Readonly<Record<string, string>> = {
  date: "Day",
  month: "Month",
  deaths: "Deaths",
  deaths_7day_avg: "7-day average",
  cumulative_deaths: "Total so far",
  age_group: "Age group",
  race_ethnicity: "Race or ethnicity",
  population: "Residents (2020)",
  crude_per_100k: "Per 100,000, crude",
  age_adjusted_per_100k: "Per 100,000, age-adjusted",
  reliable: `Reliable (${RELIABLE_FROM} deaths or more)`,
  provisional: "Not final yet",
};

/** The first sentence of a takeaway: the chart's headline. */
export function firstSentence(text: string): string {
  const end = text.search(/\.\s+(?=[A-Z])/);
  return end === -1 ? text : text.slice(0, end + 1);
}

/**
 * Plot options for horizontal bars, one per name in `order`, each with its value at its end. On a
 * phone's narrow SVG each name goes above its bar, so the bars keep the width and no name is cut.
 */
export function barsAcross<T extends Record<string, unknown>>(
  Plot: Plot,
  size: SvgSize,
  options: {
    rows: readonly T[];
    x: keyof T & string;
    y: keyof T & string;
    order: readonly string[];
    xLabel: string;
    value: (d: T) => string;
    /** Bars drawn in the lighter color (e.g. unreliable rates). */
    muted?: (d: T) => boolean;
    marginLeft: number;
  },
): PlotOptions {
  const narrow = size.width < 400;
  const { rows, x, y } = options;
  return {
    width: size.width,
    height: size.height,
    marginLeft: narrow ? 12 : options.marginLeft,
    marginRight: narrow ? 64 : 48,
    marginBottom: 40,
    x: { grid: true, label: options.xLabel, labelArrow: "none", labelAnchor: narrow ? "left" : "center" },
    y: narrow ? { domain: options.order, axis: null, padding: 0.5 } : { domain: options.order, label: null, padding: 0.2 },
    marks: [
      Plot.barX(rows.filter((d) => !options.muted?.(d)), { x, y, className: MARK.accentFill }),
      Plot.barX(rows.filter((d) => options.muted?.(d) ?? false), { x, y, className: MARK.mutedFill }),
      Plot.text(rows, { x, y, text: options.value, textAnchor: "start", dx: 4 }),
      ...(narrow ? [Plot.text(rows, { x: () => 0, y, text: y, textAnchor: "start", dx: 4, dy: -16 })] : []),
      Plot.ruleX([0]),
    ],
  };
}

/** RFC 4180 CSV with a header; fields are quoted only when they must be. */
export function toCsv(columns: readonly string[], rows: ReadonlyArray<Record<string, CsvValue>>): string {
  const field = (value: CsvValue) => {
    const text = value === null ? "" : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [columns.map((c) => field(c)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => field(row[c] ?? null)).join(","));
  return lines.join("\n") + "\n";
}

/** Counts by key, in the order keys are first met. */
export function tally<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/** The day the 7-day average was highest (the earliest, on a tie); null while the series is shorter than seven days. */
export function peakAverage<D extends { deaths_7day_avg: number | null }>(daily: readonly D[]): (D & { deaths_7day_avg: number }) | null {
  const averaged = daily.filter((d): d is D & { deaths_7day_avg: number } => d.deaths_7day_avg !== null);
  return averaged.length > 0 ? maxBy(averaged, (d) => d.deaths_7day_avg) : null;
}

/** The first item with the largest value (ties go to the earliest). */
export function maxBy<T>(items: readonly T[], value: (item: T) => number): T {
  let best = items[0];
  for (const item of items) if (value(item) > value(best)) best = item;
  return best;
}

/** A static time chart draws every day over at most this many; a longer span, one point a week. */
export const DRAWN_DAILY_UP_TO = 730;

/**
 * The points a static time chart draws. Over a span of years a day is a fraction of a pixel (12
 * years on 560 units: 0.13 each), and drawing each one costs most of the chart's time: the chart
 * then draws one point a week, the week's highest count from its first day (the outline the daily
 * drawing has at that width) and its last day's average and running total at that day (`end`).
 * The CSV, the data table and the interactive chart keep every day.
 */
export function drawnPoints(daily: readonly DailyRow[]): Array<{ date: string; end: string; deaths: number; deaths_7day_avg: number | null; cumulative_deaths: number }> {
  if (daily.length <= DRAWN_DAILY_UP_TO) return daily.map((d) => ({ ...d, end: d.date }));
  const weeks = [];
  for (let i = 0; i < daily.length; i += 7) {
    const week = daily.slice(i, i + 7);
    const last = week.at(-1)!;
    weeks.push({ date: week[0].date, end: last.date, deaths: Math.max(...week.map((d) => d.deaths)), deaths_7day_avg: last.deaths_7day_avg, cumulative_deaths: last.cumulative_deaths });
  }
  return weeks;
}

