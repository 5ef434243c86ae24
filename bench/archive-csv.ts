/**
 * A seeded synthetic archive written as the portal's bulk export (display-name headers, US dates,
 * WKT points): the file a user downloads, at any size, streamed to disk without holding the rows.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { archiveRows } from "../fixtures/generate.ts";
import { bulkCsvChunks, type BulkColumn } from "../fixtures/portal-csv.ts";
import { OPTIONAL_SOURCE_COLUMNS, SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";

/** The archive's columns in export order: the known ones, then the optional ones it carries. */
export const ARCHIVE_COLUMNS: readonly BulkColumn[] = [...SOURCE_COLUMNS, ...OPTIONAL_SOURCE_COLUMNS].map((c) => ({
  fieldName: c.fieldName,
  name: c.name,
  type: c.dataTypeName,
}));

const BATCH = 5000;

/** Writes `count` archive rows (seeded) to `path` as a bulk CSV export; resolves to the bytes written. */
export async function writeArchiveCsv(path: string, count: number, seed = 1): Promise<number> {
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
    batch.push(row);
    if (batch.length === BATCH) await flush();
  }
  if (batch.length > 0 || first) await flush();
  out.end();
  await once(out, "finish");
  return bytes;
}
