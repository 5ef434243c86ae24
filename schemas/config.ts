import { z } from "zod";

/** The Medical Examiner's datasets on the county's portal that vigil knows by name. */
export const DATASETS = {
  /** The COVID-19 view: COVID-related deaths only. The default. */
  covid: "3trz-enys",
  /** The whole case archive, every cause of death (its COVID Related flag marks the COVID deaths). */
  archive: "cjeq-bs86",
} as const;

/** Settings shared by every command, after flags and environment are merged (flags win). */
export const configSchema = z.object({
  db: z.string().min(1).describe("Path of the SQLite database file"),
  portal: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://datacatalog.cookcountyil.gov" })
    .transform((url) => url.replace(/\/+$/, ""))
    .describe("Base URL of the Socrata portal"),
  dataset: z
    .string()
    .regex(/^[a-z0-9]{4}-[a-z0-9]{4}$/, `must be a Socrata dataset id such as ${DATASETS.covid}`)
    .describe("Socrata dataset (or view) id"),
  appToken: z.string().min(1).optional().describe("Socrata app token, sent as X-App-Token; never logged"),
  site: z.string().min(1).optional().describe("Root of the Hugo site that widgets are written into"),
  logFormat: z.enum(["json", "pretty"]).optional().describe("Log line format; default json unless stderr is a terminal"),
  debug: z.boolean().describe("Show stack traces and debug log lines"),
});

export type Config = z.infer<typeof configSchema>;

export const DEFAULTS = {
  db: "data/vigil.db",
  portal: "https://datacatalog.cookcountyil.gov",
  dataset: DATASETS.covid,
} as const;

/** The page a reader opens to see a dataset on its portal. */
export function datasetPageUrl(portal: string, dataset: string): string {
  return `${portal.replace(/\/+$/, "")}/d/${dataset}`;
}
