/**
 * Dated events drawn on the time charts and listed in datasette's `events` table: the built-in
 * list (pipeline/store/reference/events/) and the site owner's own, from `--events FILE`. Both
 * are CSV files with the columns `date,label,source_url`, one event a row.
 */
import { z } from "zod";

/** The columns of an events CSV, in the order vigil writes them. */
export const EVENT_COLUMNS = ["date", "label", "source_url"] as const;

/** Where an event comes from: vigil's own list, or the site owner's `--events` file. */
export const EVENT_ORIGINS = ["built-in", "site"] as const;
export type EventOrigin = (typeof EVENT_ORIGINS)[number];

/** A label is drawn beside its line on a 560-pixel chart: a few words, not a paragraph. */
export const MAX_LABEL_LENGTH = 80;

/** Whether YYYY-MM-DD names a day of the calendar (not 2021-02-30). */
function isCalendarDay(text: string): boolean {
  const day = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === text;
}

export const eventRowSchema = z.object({
  date: z
    .string()
    .trim()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date written YYYY-MM-DD")
    .refine(isCalendarDay, "is not a day of the calendar")
    .describe("Day of the event, YYYY-MM-DD, America/Chicago"),
  label: z
    .string()
    // a label is one line of words, whatever line breaks or runs of spaces the file had
    .transform((text) => text.replace(/\s+/g, " ").trim())
    .pipe(z.string().min(1, "is empty").max(MAX_LABEL_LENGTH, `is longer than ${MAX_LABEL_LENGTH} characters: it is drawn on the chart, keep it short`))
    .describe("What happened, in a few words, as drawn on the charts"),
  source_url: z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }))
    .describe("Where a reader can check it: a public http(s) page"),
});

/** One row of an events CSV, checked. */
export type EventRow = z.infer<typeof eventRowSchema>;

/** An event with where it comes from. */
export type ChartEvent = EventRow & { origin: EventOrigin };
