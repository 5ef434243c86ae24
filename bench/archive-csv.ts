/**
 * A seeded synthetic archive written as the portal's bulk export (display-name headers, US dates,
 * WKT points): the file a user downloads, at any size, streamed to disk without holding the rows.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { archiveRows } from "../fixtures/generate.ts";
import { mulberry32, type Rng } from "../fixtures/random.ts";
import { bulkCsvChunks, type BulkColumn } from "../fixtures/portal-csv.ts";
import { OPTIONAL_SOURCE_COLUMNS, SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";

/** The archive's columns in export order: the known ones, then the optional ones it carries. */
export const ARCHIVE_COLUMNS: readonly BulkColumn[] = [...SOURCE_COLUMNS, ...OPTIONAL_SOURCE_COLUMNS].map((c) => ({
  fieldName: c.fieldName,
  name: c.name,
  type: c.dataTypeName,
}));

const BATCH = 5000;

/**
 * `synthetic`: the generator's rows as they come (28% of cells empty). `real`: the same rows filled
 * in where the real archive has values and the generator leaves most cells empty, down to the share
 * of empty cells of the real exports (20% in the 2019 bulk CSV, 21% in the 2025 dump of the newest
 * rows): the incident date (2% empty), the cold and heat flags (never empty), cause line A (empty
 * only while the cause is pending). More values cost more to parse, validate and store.
 */
export type ArchiveShape = "synthetic" | "real";

/** Writes `count` archive rows (seeded) to `path` as a bulk CSV export; resolves to the bytes written. */
export async function writeArchiveCsv(path: string, count: number, seed = 1, shape: ArchiveShape = "synthetic"): Promise<number> {
  const fill = shape === "real" ? realShape(mulberry32(seed ^ 0x5eed)) : undefined;
  const out = createWriteStream(path);
  let bytes = 0;
  let first = true;
  const write = async (text: string) => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, "drain");
  };
  let batch: RawRow[] = [];
  const flush = async () => {
    const chunks = bulkCsvChunks(ARCHIVE_COLUMNS, batch);
    const header = chunks.next();
    if (first && !header.done) await write(header.value);
    first = false;
    for (const chunk of chunks) await write(chunk);
    batch = [];
  };
  for (const row of archiveRows({ count, seed })) {
    fill?.(row);
    batch.push(row);
    if (batch.length === BATCH) await flush();
  }
  if (batch.length > 0 || first) await flush();
  out.end();
  await once(out, "finish");
  return bytes;
}

/** Fills a generated row's cells as the real archive has them (see ArchiveShape). */
function realShape(rng: Rng): (row: RawRow) => void {
  return (row) => {
    if (row.incident_date === undefined && rng() < 0.96) row.incident_date = row.death_date;
    row.cold_related ??= false;
    row.heat_related ??= false;
    if (row.primarycause_linea === undefined && row.primarycause !== undefined && rng() < 0.85) row.primarycause_linea = row.primarycause;
  };
}
