/**
 * Lenses: which deaths a memorial and its charts are about. Each is one of the Medical Examiner's
 * own flags, taken as the county sets it (1), never guessed from the cause's words. Defined here once:
 * the figures' SQL, datasette's views and queries, the site's words and paths all read this list.
 */
import { z } from "zod";
import type { CaseField } from "./case.ts";

export const LENS_NAMES = ["covid", "heat", "cold", "opioid", "gun"] as const;
export type LensName = (typeof LENS_NAMES)[number];
export const lensNameSchema = z.enum(LENS_NAMES, { error: `must be one of ${LENS_NAMES.join(", ")}` });

/** The lens of every command that is given none: the COVID-19 memorial, in the paths it always had. */
export const DEFAULT_LENS: LensName = "covid";

export interface Lens {
  name: LensName;
  /** The `cases` column that puts a death in the lens when it is 1. */
  field: CaseField;
  /** The portal's flag behind it (field name, and the bulk export's column). */
  sourceFlag: string;
  sourceColumn: string;
  /** The datasette view of the lens's deaths (not removed). */
  view: string;
  /** How the words speak of the deaths, plural and singular: "heat-related deaths". */
  deaths: string;
  death: string;
  /** What the flag says, and what it does not: shown under the lens's charts and in datasette. */
  meaning: string;
  /**
   * Days after a death by which 95% of the lens's deaths are in the record, when the record has seen
   * too few deaths join the lens to estimate it (docs/lenses.md gives the reasons).
   */
  defaultLagDays: number;
}

const lens = (l: Omit<Lens, "view">): Lens => ({ ...l, view: `${l.name}_deaths` });

export const LENSES: Readonly<Record<LensName, Lens>> = {
  covid: lens({
    name: "covid",
    field: "is_covid",
    sourceFlag: "covid_related",
    sourceColumn: "COVID Related",
    deaths: "COVID-19 deaths",
    death: "COVID-19 death",
    meaning:
      "A COVID-19 death is one the Medical Examiner flagged COVID related, or, without the flag, one whose cause names COVID-19, as the county builds its COVID-19 view.",
    defaultLagDays: 60,
  }),
  heat: lens({
    name: "heat",
    field: "heat_related",
    sourceFlag: "heat_related",
    sourceColumn: "Heat Related",
    deaths: "heat-related deaths",
    death: "heat-related death",
    meaning:
      "A heat-related death is one the Medical Examiner flagged heat related: heat caused or contributed to it. The flag does not say that heat alone caused the death.",
    defaultLagDays: 120,
  }),
  cold: lens({
    name: "cold",
    field: "cold_related",
    sourceFlag: "cold_related",
    sourceColumn: "Cold Related",
    deaths: "cold-related deaths",
    death: "cold-related death",
    meaning:
      "A cold-related death is one the Medical Examiner flagged cold related: cold caused or contributed to it. The flag does not say that cold alone caused the death.",
    defaultLagDays: 120,
  }),
  opioid: lens({
    name: "opioid",
    field: "opioid_related",
    sourceFlag: "opioids",
    sourceColumn: "Opioid Related",
    deaths: "opioid-related deaths",
    death: "opioid-related death",
    meaning:
      "An opioid-related death is one the Medical Examiner flagged opioid related: opioids were involved. The flag records involvement, not that an opioid was the cause, and it waits on toxicology, which can take months.",
    defaultLagDays: 180,
  }),
  gun: lens({
    name: "gun",
    field: "gun_related",
    sourceFlag: "gunrelated",
    sourceColumn: "Gun Related",
    deaths: "gun-related deaths",
    death: "gun-related death",
    meaning:
      "A gun-related death is one the Medical Examiner flagged gun related: a firearm was involved, in a homicide, a suicide or an accident. The flag does not say who fired it.",
    defaultLagDays: 30,
  }),
};

/** The lenses in their fixed order, once each, whatever order they were asked in. */
export function orderedLenses(names: readonly LensName[]): Lens[] {
  return LENS_NAMES.filter((name) => names.includes(name)).map((name) => LENSES[name]);
}

/**
 * The lens's flag of a case `alias`, chosen by the `lens` CTE the figures' SQL defines (one row,
 * `field`): the figures take the lens as the `:lens` parameter, so datasette runs the same text.
 */
export function lensFlagSql(alias: string): string {
  const arms = LENS_NAMES.map((name) => `WHEN '${LENSES[name].field}' THEN ${alias}.${LENSES[name].field}`).join(" ");
  return `(CASE lens.field ${arms} END)`;
}

/** The `lens` CTE's rows (pipeline/store/figures/lens.sql): every lens's name, field, default lag, words and view, as SQL VALUES. */
export function lensValuesSql(): string {
  return LENS_NAMES.map((name) => {
    const { field, defaultLagDays, deaths, view } = LENSES[name];
    const text = (value: string) => `'${value.replaceAll("'", "''")}'`;
    return `(${text(name)}, ${text(field)}, ${defaultLagDays}, ${text(deaths)}, ${text(view)})`;
  }).join(", ");
}
