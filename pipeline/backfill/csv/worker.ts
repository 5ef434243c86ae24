/**
 * A parsing worker of `vigil backfill`: chunks of whole records parsed (records.ts), each
 * record mapped onto the raw-row shape and normalized. Parsing is the costliest step of a bulk
 * load, so it runs here, beside the main thread, which writes the database.
 *
 * Results go back packed: one JSON array of row arrays per chunk is far cheaper to send between
 * threads than thousands of objects; for a first load into a fresh file, in a staged file (stage.ts).
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { Case } from "../../../schemas/case.ts";
import { countLineFeeds } from "./chunks.ts";
import { readRecords, type Records } from "./records.ts";
import { ROW_VALUES, StageWriter, type StageSetup } from "./stage.ts";
import { plainRecordReader, recordToRaw, type CsvLayout } from "./rows.ts";
import { normalizePlain, normalizeRow, normalizeRowTimed } from "../../normalize/row.ts";
import type { ParsedRow } from "../../../schemas/source-row.ts";
import { parseTimes, type ParseTimes } from "../profile.ts";
import type { Reason } from "../../normalize/reasons.ts";
import { InternalError } from "../../errors.ts";

export interface WorkerSetup {
  layout: CsvLayout;
  /** The run's date in Chicago, for refusing deaths in the future. */
  today: string;
  /** Death dates kept, inclusive, YYYY-MM-DD; rows outside are counted and skipped. */
  since?: string;
  until?: string;
  /** Time each phase of each chunk (a backfill's profile, see profile.ts). */
  profile?: boolean;
  /** For a first load into a fresh file: accepted rows are written to a staged file instead of being packed (stage.ts). */
  stage?: StageSetup;
}

export interface ChunkTask {
  seq: number;
  data: Uint8Array;
  /** Physical line the chunk starts on. */
  line: number;
}

export interface RejectedRecord {
  /** Position of the record in its chunk, so rejects stay in source order with accepted rows. */
  index: number;
  line: number;
  casenumber: string | null;
  sourceRowId: string | null;
  reasons: Reason[];
  /** The record as a raw row, JSON. */
  raw: string;
}

export interface ChunkResult {
  seq: number;
  /** Data records read (blank lines are not records). */
  records: number;
  /** Records whose death date is outside --since/--until. */
  outside: number;
  /**
   * Accepted rows as one JSON array of arrays, each the values of ROW_COLUMNS (schemas/case.ts), ready to
   * bind as they are. Parsed on the thread that uses them, the arrays themselves.
   */
  rows: string | unknown[][];
  /** With setup.stage: the staged file holding the accepted rows (then `rows` is empty), for the main thread to copy and remove. */
  stage?: string;
  /** Each accepted row's position in the chunk and its line: [index, line, index, line, ...]. */
  positions: number[];
  /** The accepted rows' case numbers, as a JSON array. */
  keys: string;
  /** No case number comes twice among the accepted rows. */
  distinct: boolean;
  rejects: RejectedRecord[];
  /** A fatal problem with the chunk: what is wrong, and the physical line it is on. */
  error?: { message: string; line: number };
  /** With setup.profile: the time of each phase, ms. */
  times?: ParseTimes;
  /** With setup.profile: parsed on the main thread (ParsePool.parseHere), not by a worker. */
  here?: boolean;
}

export function parseChunk(task: ChunkTask, setup: WorkerSetup, { encode = true } = {}): ChunkResult {
  const { layout, today, since, until } = setup;
  const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
  const result: ChunkResult = { seq: task.seq, records: 0, outside: 0, rows: "[]", positions: [], keys: "[]", distinct: true, rejects: [] };
  const times = setup.profile ? (result.times = parseTimes()) : undefined;
  let t = times ? performance.now() : 0;
  let records: Records;
  try {
    records = readRecords(data);
    if (times) t = lap(times, "csv", t);
  } catch (error) {
    const { bytes, message } = error as { bytes?: number; message: string };
    const line = task.line + (typeof bytes === "number" ? countLineFeeds(data, bytes) : 0);
    result.error = { message: message.replace(/ (at|on) line \d+/, ""), line };
    return result;
  }
  const rows: unknown[][] = [];
  // a fresh file's rows are staged as they are made, so that nothing of a row outlives it (stage.ts)
  const staged = setup.stage !== undefined && encode ? new StageWriter(setup.stage, task.seq) : undefined;
  const keys = new Set<string>();
  const accept = (c: Case, sourceRowId: string | null, sourceUpdatedAt: string | null, index: number, line: number) => {
    if (times) t = lap(times, "normalize", t);
    if (staged) staged.add(c, sourceRowId, sourceUpdatedAt);
    else rows.push(rowValues(c, sourceRowId, sourceUpdatedAt));
    result.positions.push(index, line);
    if (keys.size === keys.add(c.casenumber).size) result.distinct = false;
    if (times) t = lap(times, "pack", t);
  };
  try {
    const filtered = since !== undefined || until !== undefined;
    const width = layout.header.length;
    let line = task.line;
    for (let index = 0; index < records.length; index++) {
      const record = records.at(index);
      const recordLine = line;
      line += 1 + records.lineFeeds(index);
      if (record.length === 1 && record[0] === "") continue; // a blank line
      if (record.length !== width) {
        result.error = { message: `${record.length} fields where the header has ${width}`, line: recordLine };
        return result;
      }
      result.records++;
      // the common case: a plain row made into a case with no raw row in between (see plainRecordReader)
      const plain = plainReaderOf(layout, filtered)?.(record);
      if (times) t = lap(times, "validate", t);
      const fast = plain && normalizePlain(plain, { today });
      if (fast) {
        accept(fast.case, fast.sourceRowId, fast.sourceUpdatedAt, index, recordLine);
        continue;
      }
      const raw = recordToRaw(record, layout);
      if (times) t = lap(times, "fields", t);
      if (filtered) {
        const day = typeof raw.death_date === "string" && /^\d{4}-\d\d-\d\d/.test(raw.death_date) ? raw.death_date.slice(0, 10) : undefined;
        if (day !== undefined && ((since !== undefined && day < since) || (until !== undefined && day > until))) {
          result.outside++;
          continue;
        }
      }
      const normalized = times ? normalizeRowTimed(raw, { today }, times) : normalizeRow(raw, { today });
      if (times) t = performance.now();
      if (normalized.ok) {
        accept(normalized.case, normalized.sourceRowId, normalized.sourceUpdatedAt, index, recordLine);
      } else {
        const { casenumber, sourceRowId, reasons } = normalized;
        result.rejects.push({ index, line: recordLine, casenumber, sourceRowId, reasons, raw: JSON.stringify(raw) });
        if (times) t = lap(times, "pack", t);
      }
    }
    if (staged) {
      staged.close();
      result.stage = staged.path;
    } else {
      result.rows = encode ? JSON.stringify(rows) : rows;
    }
  } finally {
    // a chunk that failed leaves no staged file
    if (staged && result.stage === undefined) staged.discard();
  }
  result.keys = JSON.stringify([...keys]);
  if (times) lap(times, "pack", t);
  return result;
}

let reader: { layout: CsvLayout; read: (record: readonly string[]) => ParsedRow | undefined } | undefined;

/** The layout's plain-record reader, made once; none when rows are filtered by date (the raw row decides). */
function plainReaderOf(layout: CsvLayout, filtered: boolean): ((record: readonly string[]) => ParsedRow | undefined) | undefined {
  if (filtered) return undefined;
  if (reader?.layout !== layout) reader = { layout, read: plainRecordReader(layout) };
  return reader.read;
}

/** Adds the time since `from` to `phase`; returns now. */
function lap(times: ParseTimes, phase: keyof ParseTimes, from: number): number {
  const now = performance.now();
  times[phase] += now - from;
  return now;
}

/**
 * A case's values in ROW_COLUMNS order: its fields, then its provenance. Made once from CASE_FIELDS
 * as one array literal that reads each field by a constant name: a loop reading `c[CASE_FIELDS[f]]`
 * looks up a varying key ~40 times a row, and took more time than packing the rows as JSON.
 */
const rowValues = new Function("c", "sourceRowId", "sourceUpdatedAt", `return [${ROW_VALUES}];`) as (
  c: Case,
  sourceRowId: string | null,
  sourceUpdatedAt: string | null,
) => unknown[];

/** The worker data that marks a thread started by ParsePool. */
export const WORKER_ROLE = "vigil-csv-parser";

// Running as a parsing worker: answer each chunk in turn.
if (!isMainThread && parentPort && (workerData as { role?: string } | null)?.role === WORKER_ROLE) {
  const port = parentPort;
  let setup: WorkerSetup | undefined;
  let posting = 0;
  port.on("message", (message: { setup: WorkerSetup } | { task: ChunkTask }) => {
    if ("setup" in message) {
      setup = message.setup;
      return;
    }
    if (!setup) throw new InternalError("csv worker: a chunk arrived before the setup");
    const result = parseChunk(message.task, setup);
    if (!result.times) return port.postMessage(result);
    // a result is copied as it is posted: each result carries the time the previous one took to post
    result.times.pack += posting;
    const t = performance.now();
    port.postMessage(result);
    posting = performance.now() - t;
  });
  // loaded and listening: chunks handed over before this would wait here while the main thread could parse them
  port.postMessage({ ready: true });
}
