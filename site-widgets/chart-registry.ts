/** The charts vigil draws, by id: each a builder from the widgets' data to a chart draft. */
import { CHART_IDS, type ChartId } from "../schemas/widgets.ts";
import type { ChartBuilder, ChartDraft } from "./chart.ts";
import { cumulativeDeaths } from "./charts/cumulative-deaths.ts";
import { dailyDeaths } from "./charts/daily-deaths.ts";
import { deathsByAgeGroup } from "./charts/deaths-by-age-group.ts";
import { deathsByMonth } from "./charts/deaths-by-month.ts";
import { deathsByRaceEthnicity } from "./charts/deaths-by-race-ethnicity.ts";
import { deathsPer100kByRaceEthnicity } from "./charts/deaths-per-100k-by-race-ethnicity.ts";
import type { WidgetData } from "./read.ts";

export const CHARTS: Record<ChartId, ChartBuilder> = {
  "daily-deaths": dailyDeaths,
  "cumulative-deaths": cumulativeDeaths,
  "deaths-by-age-group": deathsByAgeGroup,
  "deaths-by-race-ethnicity": deathsByRaceEthnicity,
  "deaths-per-100k-by-race-ethnicity": deathsPer100kByRaceEthnicity,
  "deaths-by-month": deathsByMonth,
};

/** Every chart's draft, in the order of CHART_IDS. */
export function draftCharts(data: WidgetData): ChartDraft[] {
  return CHART_IDS.map((id) => CHARTS[id](data));
}
