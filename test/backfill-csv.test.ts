/**
 * The pure parts of a bulk CSV load: header plans, record mapping, chunking, per-chunk parsing
 * (the record splitter held to csv-parse, the worker and the main thread to each other).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parse } from "csv-parse/sync";
import { generateArchive, generateCovidView } from "../fixtures/generate.ts";
import { bulkCsvChunks, resourceCsv } from "../fixtures/portal-csv.ts";
import { ARCHIVE_COLUMNS } from "../bench/archive-csv.ts";
import { readCsv, type Chunk } from "../pipeline/backfill/csv/chunks.ts";
import { SourceChangedError } from "../pipeline/errors.ts";
import { parseRecords, parseWithCsvParse, splitQuoted } from "../pipeline/backfill/csv/records.ts";
import { floatingTimestamp, parseLocation, planColumns, recordToRaw, type CsvLayout } from "../pipeline/backfill/csv/rows.ts";
import { ParsePool } from "../pipeline/backfill/csv/pool.ts";
import { parseChunk, type ChunkResult } from "../pipeline/backfill/csv/worker.ts";
import { ROW_COLUMNS } from "../schemas/case.ts";
import { SourceFormatError } from "../pipeline/errors.ts";
import { normalizeRow } from "../pipeline/normalize/row.ts";
import { SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";
import { ROOT } from "./helpers.ts";

const TODAY = "2026-11-26";

function layoutOf(header: string[]): CsvLayout {
  const layout = planColumns(header);
  assert.ok(!("error" in layout), JSON.stringify(layout));
  return layout;
}

function bulkCsv(rows: RawRow[]): string {
  return [...bulkCsvChunks(ARCHIVE_COLUMNS, rows)].join("");
}

async function chunksOf(text: string | Buffer, options: { chunkBytes?: number; readBytes?: number } = {}) {
  const bytes = typeof text === "string" ? Buffer.from(text) : text;
  const size = options.readBytes ?? 7;
  const pieces = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  const csv = await readCsv(Readable.from(pieces), "test.csv", { chunkBytes: options.chunkBytes ?? 64 });
  const chunks: Chunk[] = [];
  for await (const chunk of csv.chunks()) chunks.push(chunk);
  return { csv, chunks };
}

test("display-name and field-name headers both map onto field names", () => {
  const display = layoutOf(SOURCE_COLUMNS.map((c) => c.name));
  assert.equal(display.flavour, "display names");
  assert.deepEqual(display.fields, SOURCE_COLUMNS.map((c) => c.fieldName));
  assert.deepEqual(display.drift, { unknown: [], missing: [] });
  const fields = layoutOf(SOURCE_COLUMNS.map((c) => c.fieldName));
  assert.equal(fields.flavour, "field names");
  assert.deepEqual(fields.fields, SOURCE_COLUMNS.map((c) => c.fieldName));
});

test("unknown and missing columns are drift, not errors; without a case number or death date it is not an export", () => {
  const layout = layoutOf(["Case Number", "Date of Death", "Age", "Mystery Column"]);
  assert.deepEqual(layout.drift.unknown, ["Mystery Column"]);
  assert.ok(layout.drift.missing.includes("gender"), "gender is missing");
  assert.equal(layout.fields[3], null);
  const bad = planColumns(["name", "date", "value"]);
  assert.ok("error" in bad, "a header without the key columns is refused");
  assert.match(bad.error, /no "Case Number" \(or "casenumber"\) and "Date of Death" \(or "death_date"\) column/);
});

test("Socrata's computed region columns are not drift, under field names or under a display name the metadata ties to one", () => {
  const region = ":@computed_region_bdys_3d7i";
  const byField = layoutOf(["casenumber", "death_date", region, "mystery_column"]);
  assert.equal(byField.flavour, "field names");
  assert.deepEqual(byField.drift.unknown, ["mystery_column"], "a new column still is drift");
  assert.equal(byField.fields[2], null);
  // the bulk export's header carries a region's title; only the view metadata says what it is
  const metadata = {
    name: "Medical Examiner Case Archive",
    columns: [
      ...SOURCE_COLUMNS.map((c) => ({ fieldName: c.fieldName, name: c.name, dataTypeName: c.dataTypeName })),
      { fieldName: region, name: "Zip Codes", dataTypeName: "number" },
      { fieldName: "mystery_column", name: "Mystery Column", dataTypeName: "text" },
    ],
  };
  const byDisplay = planColumns([...SOURCE_COLUMNS.map((c) => c.name), "Zip Codes", "Mystery Column"], metadata);
  assert.ok(!("error" in byDisplay), JSON.stringify(byDisplay));
  assert.equal(byDisplay.flavour, "display names");
  assert.deepEqual(byDisplay.drift, { unknown: ["mystery_column"], missing: [] });
  assert.equal(byDisplay.fields[SOURCE_COLUMNS.length], region);
});

test("US 12-hour dates become floating timestamps, never shifted", () => {
  assert.equal(floatingTimestamp("07/01/2020 07:53:00 PM"), "2020-07-01T19:53:00");
  assert.equal(floatingTimestamp("03/16/2020 12:00:00 AM"), "2020-03-16T00:00:00", "12 AM is midnight");
  assert.equal(floatingTimestamp("03/16/2020 12:15:00 PM"), "2020-03-16T12:15:00", "12 PM is noon");
  assert.equal(floatingTimestamp("3/8/2021 11:59:59 pm"), "2021-03-08T23:59:59");
  assert.equal(floatingTimestamp("03/08/2021"), "2021-03-08");
  assert.equal(floatingTimestamp("2020-07-01T19:53:00.000"), "2020-07-01T19:53:00.000", "ISO text passes through");
  assert.equal(floatingTimestamp("13/45/2020 01:00:00 PM"), "2020-13-45T13:00:00", "impossible dates are left for validation to reject");
  assert.equal(floatingTimestamp("07/01/2020 13:00:00 PM"), "07/01/2020 13:00:00 PM", "an impossible hour stays as written");
  assert.equal(floatingTimestamp("yesterday"), "yesterday");
});

test("points come from WKT or the legacy (lat, lon) form; an address alone has none", () => {
  assert.deepEqual(parseLocation("POINT (-87.61213873 41.7802969)"), { latitude: "41.7802969", longitude: "-87.61213873" });
  assert.deepEqual(parseLocation("5700 S ELLIS AVE\nCHICAGO, IL 60637\n(41.79, -87.60)"), { latitude: "41.79", longitude: "-87.60" });
  assert.equal(parseLocation("5700 S ELLIS AVE"), undefined);
});

test("a record maps onto the JSON row's shape: empty omitted, checkboxes boolean, numbers as text", () => {
  const layout = layoutOf(["Case Number", "Date of Death", "Age", "Latino", "Gun Related", "latitude", "location", "Primary Cause"]);
  const raw = recordToRaw(["ME2020-08702", "07/01/2020 07:53:00 PM", "47", "false", "", "41.78", "POINT (-87.61 41.78)", "COVID-19, PNEUMONIA"], layout);
  assert.deepEqual(raw, {
    casenumber: "ME2020-08702",
    death_date: "2020-07-01T19:53:00",
    age: "47",
    latino: false,
    latitude: "41.78",
    location: { latitude: "41.78", longitude: "-87.61" },
    primarycause: "COVID-19, PNEUMONIA",
  });
});

test("the bulk export and the JSON rows normalize to the same cases", () => {
  const rows = generateCovidView({ seed: 3, count: 400 });
  const records = parse(bulkCsv(rows)) as string[][];
  const layout = layoutOf(records[0]);
  records.slice(1).forEach((record, i) => {
    const fromCsv = normalizeRow(recordToRaw(record, layout), { today: TODAY });
    const fromJson = normalizeRow(rows[i], { today: TODAY });
    assert.equal(fromCsv.ok, fromJson.ok);
    if (fromCsv.ok && fromJson.ok) assert.deepEqual(fromCsv.case, fromJson.case);
  });
});

test("the field-name CSV of /resource reads like the bulk export", () => {
  const rows = generateCovidView({ seed: 4, count: 50 });
  const columns = SOURCE_COLUMNS.map((c) => ({ source: c.fieldName, name: c.fieldName, type: c.dataTypeName }));
  const records = parse(resourceCsv(columns, rows)) as string[][];
  const layout = layoutOf(records[0]);
  assert.equal(layout.flavour, "field names");
  records.slice(1).forEach((record, i) => {
    const fromCsv = normalizeRow(recordToRaw(record, layout), { today: TODAY });
    const fromJson = normalizeRow(rows[i], { today: TODAY });
    assert.ok(fromCsv.ok && fromJson.ok, `row ${i} is valid both ways`);
    assert.deepEqual(fromCsv.case, fromJson.case);
  });
});

test("chunks end on record boundaries, whatever the quoting, line ends and read sizes", async () => {
  const text = '\uFEFFCase Number,Date of Death,Primary Cause\r\nME1,01/02/2020 01:00:00 AM,"A, B"\r\nME2,01/02/2020 01:00:00 AM,"line one\r\nline ""two"""\r\nME3,01/02/2020 01:00:00 AM,C\r\nME4,01/02/2020 01:00:00 AM,D';
  const { csv, chunks } = await chunksOf(text, { chunkBytes: 40 });
  assert.deepEqual(csv.header, ["Case Number", "Date of Death", "Primary Cause"]);
  const records = chunks.flatMap((c) => parse(c.data) as string[][]);
  assert.deepEqual(records.map((r) => r[0]), ["ME1", "ME2", "ME3", "ME4"]);
  assert.equal(records[1][2], 'line one\r\nline "two"');
  const lineOf: Record<string, number> = { ME1: 2, ME2: 3, ME3: 5, ME4: 6 };
  assert.ok(chunks.length > 1, "several chunks");
  for (const chunk of chunks) assert.equal(chunk.line, lineOf[(parse(chunk.data) as string[][])[0][0]], "a chunk knows the line it starts on");
  assert.equal(chunks[0].start, Buffer.byteLength(text.split("\r\n")[0]) + 2, "the first chunk starts after the header and its BOM");
  assert.equal(chunks.at(-1)?.end, Buffer.byteLength(text));
  // the same bytes delivered differently cut the same way
  const again = await chunksOf(text, { chunkBytes: 40, readBytes: 1000 });
  assert.deepEqual(again.chunks.map((c) => [c.start, c.end, c.line, c.digest]), chunks.map((c) => [c.start, c.end, c.line, c.digest]));
});

test("resuming skips exactly the loaded bytes, and notices when they changed", async () => {
  const text = `Case Number,Date of Death\n${Array.from({ length: 40 }, (_, i) => `ME${i},01/02/2020`).join("\n")}\n`;
  const { chunks } = await chunksOf(text, { chunkBytes: 50 });
  const at = chunks[2];
  const resumed = await readCsv(Readable.from([Buffer.from(text)]), "test.csv", { chunkBytes: 50 });
  const rest: Chunk[] = [];
  for await (const chunk of resumed.chunks({ bytes: at.end, line: at.endLine, digest: at.digest })) rest.push(chunk);
  assert.deepEqual(rest.map((c) => c.start), chunks.slice(3).map((c) => c.start));
  assert.deepEqual(rest.map((c) => c.line), chunks.slice(3).map((c) => c.line));

  const changed = await readCsv(Readable.from([Buffer.from(text.replace("ME1,", "MX1,"))]), "test.csv", { chunkBytes: 50 });
  await assert.rejects(async () => {
    for await (const chunk of changed.chunks({ bytes: at.end, line: at.endLine, digest: at.digest })) void chunk;
  }, SourceChangedError);
});

test("what is not CSV text fails before any row, saying what it looks like", async () => {
  const cases: Array<[string | Buffer, RegExp]> = [
    ['[{"casenumber": "ME1"}]', /is JSON, not a CSV export/],
    ["<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", /is HTML or XML/],
    [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 1, 2]), /is a zip archive/],
    [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]), /is gzip-compressed/],
    ["", /is empty/],
  ];
  for (const [body, message] of cases) {
    await assert.rejects(chunksOf(body), (error: Error) => error instanceof SourceFormatError && message.test(error.message) && error.message.startsWith("test.csv"));
  }
});

/** csv-parse's answer for `data`: its records, or its error message. */
function csvParseOutcome(data: Buffer): string[][] | string {
  try {
    return parseWithCsvParse(data);
  } catch (error) {
    return (error as Error).message;
  }
}

function parseRecordsOutcome(data: Buffer): string[][] | string {
  try {
    return parseRecords(data);
  } catch (error) {
    return (error as Error).message;
  }
}

test("records come out exactly as csv-parse reads them, errors included", () => {
  // seeded, so a failure can be replayed
  let seed = 20200316;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const values = ["", "ME2020-01234", "CHICAGO", "a b", "x,y", 'he said "hi"', "two\nlines", "cr\r\nlf", "lone\rcr", "é 漢字 🕯", " padded ", "POINT (-87.6 41.9)", '""'];
  const field = () => {
    const value = pick(values);
    const needsQuotes = /[",\r\n]/.test(value);
    if (needsQuotes || random() < 0.1) return `"${value.replaceAll('"', '""')}"`;
    return random() < 0.01 ? `${value}"stray` : value;
  };
  let checked = 0;
  for (let file = 0; file < 400; file++) {
    const eol = pick(["\n", "\n", "\r\n", "mixed"]);
    const lines: string[] = [];
    const records = 1 + Math.floor(random() * 12);
    for (let r = 0; r < records; r++) {
      const width = random() < 0.05 ? 2 : 4;
      lines.push(random() < 0.05 ? "" : Array.from({ length: width }, field).join(","));
      lines.push(eol === "mixed" ? pick(["\n", "\r\n"]) : eol);
    }
    if (random() < 0.2) lines.pop(); // no line end after the last record
    const data = Buffer.from(lines.join(""));
    assert.deepEqual(parseRecordsOutcome(data), csvParseOutcome(data), JSON.stringify(data.toString()));
    checked++;
  }
  assert.equal(checked, 400);
  // and the quirk files and generated exports, in both header flavours
  const quirks = readdirSync(join(ROOT, "fixtures", "rows"))
    .filter((f) => f.endsWith(".json"))
    .flatMap((f) => JSON.parse(readFileSync(join(ROOT, "fixtures", "rows", f), "utf8")) as RawRow[]);
  const columns = SOURCE_COLUMNS.map((c) => ({ source: c.fieldName, name: c.fieldName, type: c.dataTypeName }));
  const exports = [bulkCsv([...quirks, ...generateArchive({ count: 2000, seed: 5 })]), resourceCsv(columns, [...quirks, ...generateCovidView({ count: 500, seed: 6 })])];
  for (const text of exports) {
    const data = Buffer.from(text);
    const records = parseRecords(data);
    assert.ok(records.length > 500);
    assert.deepEqual(records, parseWithCsvParse(data));
  }
});

test("quoted records read without csv-parse come out as csv-parse reads them, and odd quoting still goes to it", () => {
  const records = [
    '"a,b",c',
    'x,"say ""hi""",y',
    '"",x,""',
    '"a,b",',
    ',"a"',
    '"multi\nline","x"',
    '"a"b,c',
    '"a" ,b',
    'a,"b"c"',
    'a,b"c,d',
    ' "a",b',
    '"""",x',
    '"ends with a quote """',
  ];
  for (const record of records) {
    for (const eol of ["\n", "\r\n"]) {
      const data = Buffer.from(["first,line", record.replaceAll("\n", eol), "last,line", ""].join(eol));
      assert.deepEqual(parseRecordsOutcome(data), csvParseOutcome(data), JSON.stringify(data.toString()));
    }
  }
  assert.deepEqual(splitQuoted('"a,b",c'), ["a,b", "c"]);
  assert.equal(splitQuoted('"a"b,c'), undefined);
  assert.equal(splitQuoted('"a" ,b'), undefined);
});

test("a chunk parses into packed rows, rejects with their lines, and skips rows outside the dates", async () => {
  const text = [
    "Case Number,Date of Death,Age,Primary Cause",
    "ME2020-00001,04/01/2020 10:00:00 AM,80,COVID-19",
    'ME2020-00002,04/02/2020 10:00:00 AM,70,"MULTI',
    'LINE"',
    ",04/03/2020 10:00:00 AM,60,NO CASE NUMBER",
    "ME2019-00004,12/31/2019 10:00:00 AM,50,BEFORE THE RANGE",
    "",
    "ME2020-00005,02/30/2020 10:00:00 AM,40,IMPOSSIBLE DATE",
  ].join("\n");
  const { csv, chunks } = await chunksOf(text, { chunkBytes: 1 << 20 });
  const layout = layoutOf(csv.header);
  const result = parseChunk({ seq: 0, data: chunks[0].data, line: chunks[0].line }, { layout, today: TODAY, since: "2020-01-01" });
  assert.equal(result.error, undefined);
  assert.equal(result.records, 5);
  assert.equal(result.outside, 1);
  const rows = JSON.parse(result.rows as string) as unknown[][];
  assert.deepEqual(rows.map((row) => [row.length, row[ROW_COLUMNS.indexOf("casenumber")]]), [[ROW_COLUMNS.length, "ME2020-00001"], [ROW_COLUMNS.length, "ME2020-00002"]]);
  assert.deepEqual(result.positions, [0, 2, 1, 3], "accepted rows carry their place in the chunk and their line");
  assert.deepEqual(JSON.parse(result.keys), ["ME2020-00001", "ME2020-00002"]);
  assert.equal(result.distinct, true);
  assert.deepEqual(result.rejects.map((r) => r.line), [5, 8]);
  assert.deepEqual(result.rejects.map((r) => r.reasons.map((reason) => reason.code)), [["missing_casenumber"], ["invalid_death_date"]]);
  assert.match(result.rejects[1].reasons[0].message, /not a real calendar date/);
});

test("chunks parsed by the worker and on the calling thread give the same results", async (t) => {
  const { csv, chunks } = await chunksOf(bulkCsv(generateArchive({ count: 1500, seed: 9 })), { chunkBytes: 16 << 10, readBytes: 1 << 16 });
  // more than the worker takes at once (16), so that some are left to parse here
  assert.ok(chunks.length >= 20, `${chunks.length} chunks`);
  const setup = { layout: layoutOf(csv.header), today: TODAY };
  const pool = new ParsePool(1);
  t.after(() => pool.close());
  pool.setup(setup);
  // chunks go to the worker once it has loaded (until then the calling thread may parse them all)
  const first = await pool.parse(chunks[0]);
  const pending = [Promise.resolve(first), ...chunks.slice(1).map((chunk) => pool.parse(chunk))];
  let here = 0;
  while (pool.parseHere()) here++;
  assert.ok(here > 0 && here < chunks.length, `${here} of ${chunks.length} parsed here`);
  const decoded = (result: ChunkResult) => ({ ...result, rows: typeof result.rows === "string" ? JSON.parse(result.rows) : result.rows });
  const results = await Promise.all(pending);
  assert.equal(results.filter((r) => typeof r.rows === "string").length, chunks.length - here, "the worker's come as JSON");
  results.forEach((result, i) => {
    const direct = parseChunk({ seq: chunks[i].seq, data: chunks[i].data, line: chunks[i].line }, setup);
    assert.deepEqual(decoded(result), decoded(direct));
  });
});

test("a broken record stops the chunk with its line and what is wrong", async () => {
  const text = "Case Number,Date of Death,Age\nME1,01/02/2020,1\nME2,01/02/2020\nME3,01/02/2020,3\n";
  const { csv, chunks } = await chunksOf(text, { chunkBytes: 1 << 20 });
  const result = parseChunk({ seq: 0, data: chunks[0].data, line: chunks[0].line }, { layout: layoutOf(csv.header), today: TODAY });
  assert.deepEqual(result.error, { message: "2 fields where the header has 3", line: 3 });

  const quoted = 'Case Number,Date of Death,Age\nME1,01/02/2020,1\nME2,01/02/2020,4"5\n';
  const second = await chunksOf(quoted, { chunkBytes: 1 << 20 });
  const bad = parseChunk({ seq: 0, data: second.chunks[0].data, line: second.chunks[0].line }, { layout: layoutOf(second.csv.header), today: TODAY });
  assert.equal(bad.error?.line, 3);
  assert.match(bad.error?.message ?? "", /quote/i);
});

test("a record read straight to a plain row is exactly the raw row's reading; anything else takes the raw row's way", async () => {
  const { plainRow } = await import("../pipeline/normalize/row.ts");
  const { plainRecordReader } = await import("../pipeline/backfill/csv/rows.ts");
  const files = ["bulk-csv-2019-schema-2018h1.csv", "fieldname-csv-newest1000-2025-11-04.csv"].map((f) => readFileSync(join(ROOT, "fixtures", "real", f), "utf8"));
  const generated = bulkCsv([...generateArchive({ seed: 21, count: 1500 }), ...generateCovidView({ seed: 21, count: 500 })]);
  let plain = 0;
  let other = 0;
  for (const text of [...files, generated]) {
    const [header, ...records] = parse(text) as string[][];
    const layout = layoutOf(header);
    const read = plainRecordReader(layout);
    const column = (display: string, field: string) => Math.max(layout.header.indexOf(display), layout.header.indexOf(field));
    // cells the fast reading must hand on, or read exactly as the raw row is read
    const odd: Array<[number, string]> = [
      [column("Age", "age"), "9 months"], [column("Age", "age"), " 47 "], [column("Latino", "latino"), "Y"], [column("Latino", "latino"), "TRUE"],
      [column("Date of Death", "death_date"), "02/30/2021 01:00:00 AM"], [column("Date of Death", "death_date"), " 2021-02-03 "],
      [column("Date of Death", "death_date"), "13/01/2021"], [column("Date of Death", "death_date"), "07/01/2020 13:53:00 PM"],
      [column("Case Number", "casenumber"), "  "], [column("Incident Zip Code", "incident_zip"), "60639-1234"], [column("latitude", "latitude"), "41.8x"],
      [column("location", "location"), "POINT (-87.6 41.8)"], [column("location", "location"), "(41.8, -87.6)"], [column("location", "location"), "somewhere"],
      [column("Chicago Ward", "chi_ward"), "20.0"], [column("Chicago Ward", "chi_ward"), "20.5"], [column("Gun Related", "gunrelated"), "maybe"],
    ];
    const variants = [...records, ...odd.filter(([i]) => i >= 0).map(([i, value], n) => records[n].map((cell, j) => (j === i ? value : cell)))];
    for (const record of variants) {
      const fast = read(record);
      const slow = plainRow(recordToRaw(record, layout));
      assert.deepEqual(fast, slow, `${JSON.stringify(record)} read as ${layout.flavour}`);
      if (fast) plain++;
      else other++;
    }
  }
  assert.ok(plain > 3000 && other > 5, `both ways are taken (${plain} plain, ${other} not)`);
});

test("a chunk parsed by a worker is what each record's raw row normalizes to, refusals and their reasons included", () => {
  const rows = generateArchive({ seed: 22, count: 600 });
  rows[3] = { ...rows[3], death_date: "2027-01-01T00:00:00" }; // after the run's day: refused
  rows[5] = { ...rows[5], latino: "Y" as unknown as boolean }; // not plain, still a case
  rows[7] = { ...rows[7], age: "200" }; // out of range: a note, still a case
  rows[9] = { ...rows[9], death_date: "1899-12-31T00:00:00" }; // too early: refused
  const text = bulkCsv(rows);
  const newline = text.indexOf("\n");
  const layout = layoutOf(parse(text.slice(0, newline)) [0] as string[]);
  const body = Buffer.from(text.slice(newline + 1));
  const result = parseChunk({ seq: 0, data: body, line: 2 }, { layout, today: TODAY }, { encode: false });
  const expected = (parse(body) as string[][]).map((record) => normalizeRow(recordToRaw(record, layout), { today: TODAY }));
  const accepted = expected.filter((n) => n.ok);
  assert.deepEqual(
    result.rows,
    accepted.map((n) => [...ROW_COLUMNS.slice(0, -2).map((c) => (n.case as Record<string, unknown>)[c]), n.sourceRowId, n.sourceUpdatedAt]),
  );
  assert.deepEqual(
    result.rejects.map((r) => [r.index, r.casenumber, r.reasons]),
    expected.flatMap((n, index) => (n.ok ? [] : [[index, n.casenumber, n.reasons]])),
  );
  assert.equal(result.rejects.length, 2);
  assert.ok(accepted.some((n) => n.case.notes?.includes("age")), "the out-of-range age is noted");
});

test("timestamps in the export's usual shapes are read by position exactly as the patterns read them", async () => {
  const { isRealDate } = await import("../schemas/source-row.ts");
  const { localTimestamp } = await import("../pipeline/normalize/row.ts");
  // a leading space takes each function past its by-position reading, to the patterns (which trim)
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const pick = (options: string) => options[random(options.length)];
  const twoDigits = () => pick("0123") + pick("0123456789");
  let usual = 0;
  for (let i = 0; i < 20000; i++) {
    const us = `${twoDigits()}/${twoDigits()}/${pick("012")}${pick("09")}${pick("0129")}${pick("0123456789")} ${twoDigits()}:${pick("056")}${pick("09")}:${pick("06")}${pick("09")} ${pick("AaPpX")}${pick("MmX")}`;
    const at = random(22);
    const mangled = random(10) === 0 ? us.slice(0, at) + pick("/: -T1") + us.slice(at + 1) : us;
    if (mangled !== mangled.trim()) continue;
    // (text it cannot read is returned as written: with the space, then)
    assert.equal(floatingTimestamp(mangled), floatingTimestamp(` ${mangled}`).trim(), mangled);
    const iso = floatingTimestamp(mangled);
    assert.equal(isRealDate(iso), isRealDate(` ${iso}`), iso);
    if (isRealDate(iso)) {
      usual++;
      assert.equal(localTimestamp(iso), localTimestamp(` ${iso}`), iso);
    }
  }
  assert.ok(usual > 2000, `real dates among them: ${usual}`);
});
