import { z } from "zod";

/** Settings shared by every command, after flags and environment are merged (flags win). */
export const configSchema = z.object({
  db: z.string().min(1).describe("Path of the SQLite database file"),
  portal: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL such as https://datacatalog.cookcountyil.gov" })
    .transform((url) => url.replace(/\/+$/, ""))
    .describe("Base URL of the Socrata portal"),
  dataset: z
    .string()
    .regex(/^[a-z0-9]{4}-[a-z0-9]{4}$/, "must be a Socrata dataset id such as 3trz-enys")
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
  dataset: "3trz-enys",
} as const;
