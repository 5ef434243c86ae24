import { z } from "zod";

/** The Medical Examiner's datasets on the county's portal that vigil knows by name. */
export const DATASETS = {
  /** The COVID-19 view: COVID-related deaths only. The default. */
  covid: "3trz-enys",
  /** The whole case archive, every cause of death (its COVID Related flag marks the COVID deaths). */
  archive: "cjeq-bs86",
} as const;

const DATASET_ID = /^[a-z0-9]{4}-[a-z0-9]{4}$/;

/**
 * The portal and dataset a pasted dataset page names (`https://HOST/d/ID`, or the long form
 * `https://HOST/Category/Name/ID`), for a message that says which flags to give; undefined for
 * anything else.
 */
export function datasetPage(value: string): { portal: string; dataset: string } | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  const dataset = url.pathname.split("/").filter(Boolean).at(-1);
  return dataset !== undefined && DATASET_ID.test(dataset) ? { portal: url.origin, dataset } : undefined;
}

/** The advice for a dataset page given where a flag wants a portal or an id. */
function pageAdvice(value: string, ctx: z.RefinementCtx, what: string): void {
  const page = datasetPage(value);
  if (page) ctx.addIssue({ code: "custom", message: `is a dataset's page, not ${what}: use --portal ${page.portal} --dataset ${page.dataset}` });
}

/** Settings shared by every command, after flags and environment are merged (flags win). */
export const configSchema = z.object({
  db: z.string().min(1).describe("Path of the SQLite database file"),
  portal: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://datacatalog.cookcountyil.gov" })
    .superRefine((url, ctx) => pageAdvice(url, ctx, "a portal"))
    .transform((url) => url.replace(/\/+$/, ""))
    .describe("Base URL of the Socrata portal"),
  dataset: z
    .preprocess(
      // the datasets vigil knows by name: --dataset archive is cjeq-bs86
      (value) => (typeof value === "string" && Object.hasOwn(DATASETS, value.trim()) ? DATASETS[value.trim() as keyof typeof DATASETS] : value),
      z
        .string()
        .superRefine((value, ctx) => pageAdvice(value, ctx, "a dataset id"))
        .regex(DATASET_ID, `must be a Socrata dataset id such as ${DATASETS.covid}, or a name: ${Object.keys(DATASETS).join(", ")}`),
    )
    .describe("Socrata dataset (or view) id, or covid (the COVID-19 view) or archive (the whole case archive)"),
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
