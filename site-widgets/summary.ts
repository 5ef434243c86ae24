/** summary.json: the record's headline figures, with each in words for `{{< vigil-stat >}}`. */
import type { MemorialYear, Summary } from "../schemas/widgets.ts";
import { maxBy, peakAverage } from "./chart.ts";
import { dateInWords, deaths, formatAverage, formatCount, instantDayInWords, instantInWords } from "./format.ts";
import { GENERATED_NOTE, GENERATED_SOURCE, NARROWED_ON, noDeathsText, provisionalNote, recordNote, UNLISTED_NOTE } from "./notes.ts";
import { rateStats, ratesSummary } from "./rates.ts";
import type { Freshness, WidgetData } from "./read.ts";

export const SOURCE_NAME = "Cook County Medical Examiner";

/** The 7-day average's stats while the series is shorter than seven days. */
const NO_AVERAGE_YET = "not yet (fewer than seven days)";

/**
 * `site` says where the public record lives (the memorial links each day to its records there) and
 * whether the data is generated (the demo), which every note then says first.
 */
export function buildSummary(
  data: WidgetData,
  sourceUrl: string,
  memorial: Map<string, MemorialYear>,
  site: { recordsUrl?: string; generated: boolean } = { generated: false },
): Summary {
  const { daily, freshness, lens, provisional } = data;
  const figure = (d: (typeof daily)[number]) => ({ date: d.date, date_text: dateInWords(d.date), deaths: d.deaths, deaths_7day_avg: d.deaths_7day_avg });
  const total = daily.at(-1)!.cumulative_deaths;
  const peak = maxBy(daily, (d) => d.deaths);
  const peakAvg = peakAverage(daily);
  const first = daily[0].date;
  const latest = daily.at(-1)!.date;
  // the memorial's default day: the latest with someone it lists
  const latestListed = [...memorial.values()].flatMap((year) => Object.entries(year)).filter(([, day]) => day.deaths > 0).map(([date]) => date).sort().at(-1) ?? null;
  const daysWithDeaths = daily.filter((d) => d.deaths > 0).length;
  const changed = freshness.data_last_changed ? instantInWords(freshness.data_last_changed) : null;
  const checked = freshness.last_checked ? instantInWords(freshness.last_checked) : null;
  return {
    schema_version: 2,
    lens: lens.name,
    lens_deaths: lens.deaths,
    total_deaths: total,
    first_death_date: first,
    latest_death_date: latest,
    latest_listed_date: latestListed,
    days_with_deaths: daysWithDeaths,
    peak_day: figure(peak),
    peak_7day_avg: peakAvg && figure(peakAvg),
    recent_days: daily.slice(-14).map(figure),
    data_last_changed: freshness.data_last_changed,
    data_last_changed_text: changed,
    last_checked: freshness.last_checked,
    last_checked_text: checked,
    run_id: freshness.run_id,
    source_url: sourceUrl,
    source_name: site.generated ? GENERATED_SOURCE : SOURCE_NAME,
    data_as_of_text: dataAsOf(freshness),
    record_note: site.generated ? `${GENERATED_NOTE} ${recordNote(lens)}` : recordNote(lens),
    unlisted_note: UNLISTED_NOTE,
    records_url: site.recordsUrl === undefined ? null : `${site.recordsUrl}/vigil/memorial?${lens.name === "covid" ? "" : `lens=${lens.name}&`}date=`,
    narrowed_on: lens.name === "covid" ? NARROWED_ON : null,
    no_deaths_text: noDeathsText(lens),
    pending: provisional.pending,
    provisional_from: provisional.provisional_from,
    provisional_note: provisionalNote(lens, provisional),
    lag_days: provisional.lag_days,
    lag_source: provisional.lag_source,
    memorial: { years: [...memorial.keys()], days: [...memorial.values()].reduce((n, year) => n + Object.keys(year).length, 0) },
    rates: ratesSummary(data.rates),
    stats: {
      total_deaths: formatCount(total),
      first_death_date: dateInWords(first),
      latest_death_date: dateInWords(latest),
      days_with_deaths: formatCount(daysWithDeaths),
      peak_day: `${deaths(peak.deaths)} on ${dateInWords(peak.date)}`,
      peak_day_date: dateInWords(peak.date),
      peak_day_deaths: formatCount(peak.deaths),
      peak_7day_avg: peakAvg ? formatAverage(peakAvg.deaths_7day_avg) : NO_AVERAGE_YET,
      peak_7day_avg_date: peakAvg ? dateInWords(peakAvg.date) : NO_AVERAGE_YET,
      data_last_changed: changed ?? "not yet",
      last_checked: checked ?? "not yet",
      pending: formatCount(provisional.pending),
      provisional_from: provisional.provisional_from ? dateInWords(provisional.provisional_from) : "not yet known (no run has changed the record)",
      ...rateStats(data.rates),
    },
  };
}

/** "Data as of November 26, 2026 (last changed March 2, 2024)." in Chicago days. */
export function dataAsOf(freshness: Pick<Freshness, "data_last_changed" | "last_checked">): string {
  const checked = freshness.last_checked ? instantDayInWords(freshness.last_checked) : null;
  const changed = freshness.data_last_changed ? instantDayInWords(freshness.data_last_changed) : null;
  if (!checked) return "Data as of the last load.";
  return changed && changed !== checked ? `Data as of ${checked} (last changed ${changed}).` : `Data as of ${checked}.`;
}
