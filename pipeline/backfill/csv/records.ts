/**
 * The records of a chunk of whole CSV records: exactly what csv-parse returns for it, faster.
 *
 * csv-parse reads a byte at a time; on two cores it alone took longer than a whole bulk load is
 * allowed to. Most records of an export have no quote at all, and for those CSV has nothing to
 * interpret: the fields are the text between the commas. So a record without a quote is split on
 * its commas here. A record with quotes is read here too when they are plain CSV quoting (whole
 * fields in quotes, "" for a quote); any other goes to csv-parse, all of a chunk's at once: even
 * one call a chunk cost a fifth of the parsing of a real-shaped export, where one record in twenty
 * has a quoted cause. Anything out of the ordinary (a carriage return that is not part of every
 * line end, a record csv-parse refuses) sends the whole chunk to csv-parse, which then words any
 * error itself.
 */
import { parse } from "csv-parse/sync";

const OPTIONS = { relax_column_count: true } as const;

/** csv-parse on the whole chunk: the reference, and the way for anything unusual. */
export function parseWithCsvParse(data: Buffer | string): string[][] {
  return parse(data, OPTIONS) as string[][];
}

/** A chunk's records, in order: each one split into its fields when asked for. */
export interface Records {
  readonly length: number;
  at(index: number): string[];
  /** The line feeds inside a record's fields (quoted line breaks). */
  lineFeeds(index: number): number;
}

export function parseRecords(data: Buffer): string[][] {
  const records = readRecords(data);
  return Array.from({ length: records.length }, (_, i) => records.at(i));
}

/**
 * The chunk's records, as parseRecords reads them. A record without quotes is split when asked for,
 * so that its fields live only while it is read: holding a whole chunk's fields made them outlive
 * a young-generation collection, to be copied and then collected again with the old ones.
 */
export function readRecords(data: Buffer): Records {
  const text = data.toString("utf8");
  const eol = lineEnd(text);
  if (eol === undefined) return inMemory(parseWithCsvParse(data));
  /** Records split already (those with quotes); undefined for one split when asked for. */
  const split: Array<string[] | undefined> = [];
  /** Where each record's text starts and ends, for those split when asked for. */
  const bounds: number[] = [];
  /** Positions in `split` of the records csv-parse reads, and their text, each with its line end. */
  const quoted: number[] = [];
  const quotedText: string[] = [];
  let at = 0;
  let quote = text.indexOf('"');
  while (at < text.length) {
    let end = text.indexOf(eol, at);
    if (end === -1) end = text.length;
    if (quote !== -1 && quote < at) quote = text.indexOf('"', at);
    if (quote === -1 || quote >= end) {
      split.push(undefined);
      bounds.push(at, end);
      at = end + eol.length;
      continue;
    }
    // a quoted field may hold line ends: the record ends where its quotes balance
    let quotes = countQuotes(text.slice(at, end));
    while (quotes % 2 === 1 && end < text.length) {
      const from = end + eol.length;
      let next = text.indexOf(eol, from);
      if (next === -1) next = text.length;
      quotes += countQuotes(text.slice(from, next));
      end = next;
    }
    const stop = Math.min(end + eol.length, text.length);
    const fields = splitQuoted(text.slice(at, end));
    bounds.push(0, 0);
    if (fields !== undefined) {
      split.push(fields);
      at = stop;
      continue;
    }
    quoted.push(split.length);
    quotedText.push(text.slice(at, stop));
    split.push([]);
    at = stop;
  }
  if (quoted.length > 0) {
    let parsed: string[][];
    try {
      parsed = parseWithCsvParse(quotedText.join(""));
    } catch {
      return inMemory(parseWithCsvParse(data));
    }
    if (parsed.length !== quoted.length) return inMemory(parseWithCsvParse(data));
    for (let i = 0; i < quoted.length; i++) split[quoted[i]] = parsed[i];
  }
  return {
    length: split.length,
    at: (i) => split[i] ?? text.slice(bounds[2 * i], bounds[2 * i + 1]).split(","),
    // a record split when asked for has no quotes, so no line feed inside a field
    lineFeeds: (i) => (split[i] === undefined ? 0 : lineFeedsIn(split[i])),
  };
}

function inMemory(records: string[][]): Records {
  return { length: records.length, at: (i) => records[i], lineFeeds: (i) => lineFeedsIn(records[i]) };
}

function lineFeedsIn(record: string[]): number {
  let n = 0;
  for (const field of record) {
    if (field.length > 0 && field.includes("\n")) n += field.split("\n").length - 1;
  }
  return n;
}

const QUOTE = 0x22;
const COMMA = 0x2c;

/**
 * The fields of one record with quotes (`line` without its line end) as csv-parse reads them, when
 * every quote is plain CSV quoting: a field wholly in quotes, "" for a quote inside, a comma or the
 * end right after the closing quote. Anything else is undefined, for csv-parse to read or refuse.
 */
export function splitQuoted(line: string): string[] | undefined {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    if (line.charCodeAt(at) === QUOTE) {
      let value = "";
      let from = at + 1;
      for (;;) {
        const close = line.indexOf('"', from);
        if (close === -1) return undefined;
        if (line.charCodeAt(close + 1) === QUOTE) {
          value += line.slice(from, close + 1);
          from = close + 2;
          continue;
        }
        value += line.slice(from, close);
        at = close + 1;
        break;
      }
      fields.push(value);
      if (at === line.length) return fields;
      if (line.charCodeAt(at) !== COMMA) return undefined;
      at++;
    } else {
      const comma = line.indexOf(",", at);
      const value = line.slice(at, comma === -1 ? line.length : comma);
      if (value.includes('"')) return undefined;
      fields.push(value);
      if (comma === -1) return fields;
      at = comma + 1;
    }
  }
}

/**
 * The chunk's line end, when csv-parse would find the same one everywhere in it: "\n" if there
 * is no carriage return at all, "\r\n" if every line feed follows one and there is no other.
 */
function lineEnd(text: string): "\n" | "\r\n" | undefined {
  if (!text.includes("\r")) return "\n";
  const crlf = count(text, "\r\n");
  return crlf === count(text, "\r") && crlf === count(text, "\n") ? "\r\n" : undefined;
}

function count(text: string, part: string): number {
  let n = 0;
  for (let i = text.indexOf(part); i !== -1; i = text.indexOf(part, i + part.length)) n++;
  return n;
}

function countQuotes(text: string): number {
  return count(text, '"');
}
