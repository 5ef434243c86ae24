/**
 * Where a backfill reads from: a CSV export on disk, or the portal's bulk export downloaded as a
 * stream (with the view metadata that names its columns).
 */
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import type { ViewMetadata } from "../../schemas/view-metadata.ts";
import { describeCause, UsageError, VigilError } from "../errors.ts";
import type { HttpClient } from "./http.ts";
import type { Logger } from "../log.ts";
import type { Total } from "../progress.ts";
import { PORTAL_ADVICE, SocrataSource } from "./socrata.ts";

export interface Source {
  /** How messages name it: the file path or the export URL. */
  name: string;
  /** How rejects name it: the file's name, or "the portal export". */
  label: string;
  stream: AsyncIterable<Uint8Array> & { destroy(): void };
  /** What identifies this source's content: a file's size and time, or the dataset's last update. */
  identity: Record<string, unknown>;
  total: Total;
  metadata?: ViewMetadata;
}

export function openFile(file: string): Source {
  const stat = statSync(file);
  return {
    name: file,
    label: basename(file),
    stream: createReadStream(file, { highWaterMark: 1 << 20 }),
    identity: { file, size: stat.size, mtime: stat.mtimeMs },
    total: { bytes: stat.size },
  };
}

export async function openExport(http: HttpClient, portal: string, dataset: string, log: Logger): Promise<Source> {
  const socrata = new SocrataSource(http, portal, dataset);
  const metadata = await socrata.metadata();
  // the row count only feeds the progress display: a failure here is not worth failing the load
  const rows = await socrata.count().catch((error: unknown) => {
    log.debug("source", "row count unavailable", { error: error instanceof Error ? error.message : String(error) });
    return undefined;
  });
  const url = `${portal}/api/views/${dataset}/rows.csv?accessType=DOWNLOAD`;
  const { body, headers } = await http.getStream(url, PORTAL_ADVICE);
  const length = Number(headers["content-length"]);
  return {
    name: url,
    label: "the portal export",
    stream: Object.assign(guard(body, url), { destroy: () => body.destroy() }),
    identity: { portal, rowsUpdatedAt: metadata.rowsUpdatedAt ?? null },
    total: Number.isFinite(length) && length > 0 ? { bytes: length } : { rows },
    metadata,
  };
}

/** A download that breaks off midway says so (and is resumable), instead of a socket error. */
async function* guard(body: AsyncIterable<Uint8Array>, url: string): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw new VigilError(`the download of ${url} broke off after ${bytes} bytes: ${describeCause(error)}`, { cause: error });
  }
}

export function checkFile(given: string, file: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new UsageError(`--file ${given}: no such file`);
  }
  if (!isFile) throw new UsageError(`--file ${given} is not a file`);
}

