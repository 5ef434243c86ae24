/**
 * Dated events: the built-in list shipped in reference/events/ and the site owner's `--events`
 * file, read from CSV and checked, and the `events` table datasette lists them in. Migration
 * 007-events made the table with a copy of the built-in list as it then stood; each `vigil run`
 * makes the table match this version's built-in list plus the owner's file of that run (`origin`
 * = 'site'; none without --events), so an event the owner deletes from the file leaves the table,
 * and the charts, at the next run.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { EVENT_COLUMNS, eventRowSchema, MAX_LABEL_LENGTH, type ChartEvent, type EventOrigin } from "../../schemas/events.ts";
import { InternalError, UsageError } from "../errors.ts";
import { projectPath } from "../paths.ts";
import type { DB } from "./db.ts";

// csv-parse is loaded when a file is read, not by every command that opens the database.
const require = createRequire(import.meta.url);

export const BUILT_IN_EVENTS = projectPath("pipeline", "store", "reference", "events", "events.csv");

/**
 * The events of a CSV file with the columns date,label,source_url (any order; blank lines and
 * lines starting with # are skipped). A file that breaks the format fails with one line naming the
 * file and line: a usage error for the owner's file, an internal one for the built-in list.
 */
export function readEventsFile(path: string, origin: EventOrigin): ChartEvent[] {
  const fail = (message: string, hint: string): never => {
    if (origin === "built-in") throw new InternalError(`${path}: ${message}`, { hint: "the built-in events list is damaged; reinstall vigil" });
    throw new UsageError(`--events ${path}: ${message}`, { hint });
  };
  const columns = `the first line names the columns: ${EVENT_COLUMNS.join(",")}`;
  if (!existsSync(path)) fail("no such file", `give the path of a CSV file whose ${columns}`);
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    const { parse } = require("csv-parse/sync") as typeof import("csv-parse/sync");
    // with `info`, each record comes with the line it ends on
    records = parse(readFileSync(path, "utf8"), { bom: true, info: true, skip_empty_lines: true, comment: "#", comment_no_infix: true }) as unknown as typeof records;
  } catch (error) {
    return fail((error as Error).message.replace(/\.$/, ""), 'a field with a comma, quote or line break goes in double quotes, its quotes doubled: "Vigil, ""together"""');
  }
  if (records.length === 0) fail("is empty, not even a header line", columns);
  const header = records[0].record.map((name) => name.trim());
  const missing = EVENT_COLUMNS.filter((column) => !header.includes(column));
  if (missing.length > 0) fail(`line ${records[0].info.lines}: no column ${missing.join(", ")}`, columns);
  const unknown = header.find((name) => !(EVENT_COLUMNS as readonly string[]).includes(name));
  if (unknown !== undefined) fail(`line ${records[0].info.lines}: unknown column "${unknown}"`, columns);
  const twice = header.find((name, i) => header.indexOf(name) !== i);
  if (twice !== undefined) fail(`line ${records[0].info.lines}: column ${twice} twice`, columns);

  return records.slice(1).map(({ record, info }) => {
    const row = Object.fromEntries(header.map((name, i) => [name, record[i]]));
    const parsed = eventRowSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = String(issue.path[0]);
      const given = field === "label" ? "" : ` "${row[field]}"`;
      return fail(`line ${info.lines}: ${field}${given} ${issue.message}`, `each event: a date YYYY-MM-DD, a label of at most ${MAX_LABEL_LENGTH} characters, an http(s) source_url`);
    }
    return { ...parsed.data, origin };
  });
}

/** The built-in events, as this version of vigil ships them. */
export function builtInEvents(): ChartEvent[] {
  return readEventsFile(BUILT_IN_EVENTS, "built-in");
}

/**
 * The built-in events plus the site's, in date order: a site event with the date and label of a
 * built-in one, or of an earlier row of its file, is the same event, listed once.
 */
export function mergeEvents(builtIn: readonly ChartEvent[], site: readonly ChartEvent[]): ChartEvent[] {
  const merged = new Map<string, ChartEvent>();
  for (const event of [...builtIn, ...site]) {
    const key = `${event.date}\n${event.label}`;
    if (!merged.has(key)) merged.set(key, event);
  }
  return [...merged.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** The events stored in the database (none when it predates the events table). */
export function storedEvents(db: DB): ChartEvent[] {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get()) return [];
  return db.prepare("SELECT date, label, source_url, origin FROM events ORDER BY date, label").all() as ChartEvent[];
}

/**
 * Makes the table hold exactly `events` (one per date and label, as mergeEvents gives them).
 * Nothing is written when it already does, so a night with the same events changes no byte (and
 * makes no new public snapshot).
 */
export function replaceEvents(db: DB, events: readonly ChartEvent[]): boolean {
  const key = (e: ChartEvent) => JSON.stringify([e.date, e.label, e.source_url, e.origin]);
  const stored = new Set(storedEvents(db).map(key));
  if (stored.size === events.length && events.every((e) => stored.has(key(e)))) return false;
  db.exec("DELETE FROM events");
  const insert = db.prepare("INSERT INTO events (date, label, source_url, origin) VALUES (?, ?, ?, ?)");
  for (const e of events) insert.run(e.date, e.label, e.source_url, e.origin);
  return true;
}
