/**
 * Cuts a CSV byte stream into chunks of whole records, so that the parsing worker and the main thread can
 * parse them at once and a resumed load can start exactly where a committed one ended.
 *
 * A record ends at a line feed outside quotes. Quotes in RFC 4180 CSV only open and close quoted
 * fields ("" inside one counts twice), so the parity of the quotes seen since the record began
 * says whether a line feed ends it; a stray quote makes csv-parse fail on that chunk with its line.
 * Each chunk carries its byte offset, first physical line and the SHA-1 of every byte before its
 * end: a resumed run checks that the bytes it skips are the ones the interrupted run loaded.
 */
import { createHash } from "node:crypto";
import { parse } from "csv-parse/sync";
import { SourceChangedError, SourceFormatError } from "../../errors.ts";

export interface Chunk {
  seq: number;
  /** Whole records; its own memory, so it can be handed to a worker. */
  data: Buffer;
  /** Byte offset of the chunk in the source, and of its end. */
  start: number;
  end: number;
  /** Physical line (1-based) the chunk's first record starts on, and the line after its end. */
  line: number;
  endLine: number;
  /** SHA-1 (hex) of the source's bytes [0, end); empty when not asked for (`digests: false`). */
  digest: string;
}

export interface ResumePoint {
  bytes: number;
  line: number;
  digest: string;
}

export interface CsvStream {
  header: string[];
  /** Where the records begin, after the header (and any BOM): a run that has loaded nothing resumes here. */
  start: ResumePoint;
  /** The records after the header; from `resume` on, after checking the bytes skipped. */
  chunks(resume?: ResumePoint): AsyncGenerator<Chunk>;
}

/** Stands in for the SHA-1 of a load that is never resumed (a first load into a fresh file). */
const NO_HASH = {
  update: () => NO_HASH,
  copy: () => NO_HASH,
  digest: () => "",
};

const STARTS_OVER = "its checkpoint is dropped: run the same command again to start over";

const CHUNK_BYTES = 64 << 10;
/** A record longer than this means the quoting is broken (or there are no line feeds at all). */
const MAX_RECORD_BYTES = 4 << 20;
const QUOTE = 0x22;
const LF = 0x0a;

/**
 * Reads the header, then yields chunks of about `chunkBytes`. `name` (a file path or URL) is what
 * error messages call the source. `digests: false` skips hashing, for a load that is never resumed.
 */
export async function readCsv(source: AsyncIterable<Uint8Array>, name: string, options: { chunkBytes?: number; digests?: boolean } = {}): Promise<CsvStream> {
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const input = source[Symbol.asyncIterator]();
  const hash = options.digests === false ? NO_HASH : createHash("sha1");
  const scan = new RecordScanner(chunkBytes);
  let done = false;

  const pull = async (): Promise<boolean> => {
    if (done) return false;
    const next = await input.next();
    if (next.done) {
      done = true;
      return false;
    }
    scan.append(next.value);
    return true;
  };

  // the header: everything up to the first record end
  while (scan.last === 0 && (await pull()));
  sniff(scan.peek(), name);
  const headerBytes = scan.firstBoundary() || scan.length;
  const headerRecord = scan.take(headerBytes);
  hash.update(headerRecord.data);
  const header = parseHeader(headerRecord.data, name);
  let position = headerBytes;
  let line = 1 + headerRecord.lines;

  async function* chunks(resume?: ResumePoint): AsyncGenerator<Chunk> {
    if (resume && resume.bytes > position) {
      const { bytes, digest } = resume;
      // hashed as it streams past, so skipping a large file needs no more memory than loading it
      while (position < bytes) {
        if (scan.length === 0 && !(await pull())) {
          throw new SourceChangedError(`${name} is shorter (${position} bytes) than what the interrupted backfill had already loaded (${bytes} bytes)`, { hint: STARTS_OVER });
        }
        const size = Math.min(scan.length, bytes - position);
        hash.update(scan.take(size).data);
        position += size;
      }
      if (hash.copy().digest("hex") !== digest) {
        throw new SourceChangedError(`${name} is not the same as when the interrupted backfill loaded its first ${bytes} bytes`, { hint: STARTS_OVER });
      }
      position = bytes;
      line = resume.line;
    }
    let seq = 0;
    for (;;) {
      while (!done && scan.cut === 0) {
        if (scan.length > chunkBytes + MAX_RECORD_BYTES) {
          throw new SourceFormatError(`${name} line ${line}: no record ends within ${MAX_RECORD_BYTES >> 20} MB (a quote that is never closed?)`);
        }
        await pull();
      }
      const size = scan.cut || scan.length;
      if (size === 0) return;
      const { data, lines } = scan.take(size);
      hash.update(data);
      yield { seq: seq++, data, start: position, end: position + size, line, endLine: line + lines, digest: hash.copy().digest("hex") };
      position += size;
      line += lines;
    }
  }

  return { header, start: { bytes: headerBytes, line, digest: hash.copy().digest("hex") }, chunks };
}

/**
 * Bytes not yet handed out, scanned once for quote parity and line feeds. Chunks are cut at the
 * first record end at or after `target` bytes from the previous cut, so where they fall depends on
 * the bytes alone, never on how the stream happened to deliver them: a resumed run cuts exactly
 * where the interrupted one did. Positions are relative to the first byte not yet taken.
 */
class RecordScanner {
  private buffer = Buffer.alloc(0);
  /** Where the bytes not yet taken begin in `buffer`. */
  private start = 0;
  length = 0;
  private scanned = 0;
  private inQuotes = false;
  private lineFeeds = 0;
  /** End of the last complete record scanned (0: none yet). */
  last = 0;
  private nextTarget: number;
  /** Cuts found ahead: where each chunk ends, and the line feeds before that. */
  private readonly cuts: Array<{ end: number; lineFeeds: number }> = [];

  constructor(private readonly target: number) {
    this.nextTarget = target;
  }

  /** Where the next chunk ends (0: not found yet). */
  get cut(): number {
    return this.cuts[0]?.end ?? 0;
  }

  append(bytes: Uint8Array): void {
    if (this.start + this.length + bytes.length > this.buffer.length) {
      const size = Math.max(this.length + bytes.length, Math.min(this.buffer.length, 2 * (this.length + bytes.length)), 1 << 16);
      const next = size > this.buffer.length ? Buffer.allocUnsafeSlow(size) : this.buffer;
      this.buffer.copy(next, 0, this.start, this.start + this.length);
      this.buffer = next;
      this.start = 0;
    }
    this.buffer.set(bytes, this.start + this.length);
    this.length += bytes.length;
    this.scan();
  }

  /** Finds quotes and line feeds with indexOf: most lines have no quote, so this visits line ends only. */
  private scan(): void {
    const bytes = this.buffer.subarray(this.start, this.start + this.length);
    const end = this.length;
    let inQuotes = this.inQuotes;
    let lineFeeds = this.lineFeeds;
    let i = this.scanned;
    while (i < end) {
      let quote = bytes.indexOf(QUOTE, i);
      if (quote === -1) quote = end;
      // the line feeds before the next quote: inside quotes they only count as lines
      for (let lf = bytes.indexOf(LF, i); lf !== -1 && lf < quote; lf = bytes.indexOf(LF, lf + 1)) {
        lineFeeds++;
        if (inQuotes) continue;
        this.last = lf + 1;
        if (lf + 1 >= this.nextTarget) {
          this.cuts.push({ end: lf + 1, lineFeeds });
          this.nextTarget = lf + 1 + this.target;
        }
      }
      if (quote < end) inQuotes = !inQuotes;
      i = quote + 1;
    }
    this.scanned = this.length;
    this.inQuotes = inQuotes;
    this.lineFeeds = lineFeeds;
  }

  /** Where the first record ends (0 if none has ended yet). */
  firstBoundary(): number {
    let inQuotes = false;
    for (let i = 0; i < this.last; i++) {
      const byte = this.buffer[this.start + i];
      if (byte === QUOTE) inQuotes = !inQuotes;
      else if (byte === LF && !inQuotes) return i + 1;
    }
    return 0;
  }

  peek(): Buffer {
    return this.buffer.subarray(this.start, this.start + Math.min(this.length, 4096));
  }

  /** Removes and returns the first `size` bytes (the cut, or any record boundary), with their line feeds. */
  take(size: number): { data: Buffer; lines: number } {
    const data = Buffer.from(this.buffer.subarray(this.start, this.start + size));
    this.start += size;
    this.length -= size;
    const first = this.cuts[0];
    if (first && first.end === size) {
      const lines = first.lineFeeds;
      this.cuts.shift();
      for (const cut of this.cuts) {
        cut.end -= size;
        cut.lineFeeds -= lines;
      }
      this.scanned -= size;
      this.lineFeeds -= lines;
      this.last = Math.max(0, this.last - size);
      this.nextTarget -= size;
      return { data, lines };
    }
    // any other cut (the header, a resumed run's skip): what is left is scanned afresh
    this.scanned = 0;
    this.inQuotes = false;
    this.lineFeeds = 0;
    this.last = 0;
    this.cuts.length = 0;
    this.nextTarget = this.target;
    this.scan();
    return { data, lines: countLineFeeds(data) };
  }
}

/** Line feeds in the first `end` bytes of `data`. */
export function countLineFeeds(data: Buffer, end = data.length): number {
  let n = 0;
  for (let i = data.indexOf(LF); i !== -1 && i < end; i = data.indexOf(LF, i + 1)) n++;
  return n;
}

/** Fails at once, with what the bytes look like, when the source is not CSV text at all. */
function sniff(head: Buffer, name: string): void {
  const fail = (what: string, hint?: string) => {
    throw new SourceFormatError(`${name} ${what}, not a CSV export`, hint ? { hint } : undefined);
  };
  if (head.length === 0) fail("is empty");
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) fail("is a zip archive (an Excel workbook?)", "export or save it as CSV");
  if (head[0] === 0x1f && head[1] === 0x8b) fail("is gzip-compressed", "decompress it first (gunzip)");
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) fail("is UTF-16 text", "save it as UTF-8 CSV");
  if (head.includes(0)) fail("is a binary file");
  const start = head.toString("utf8", 0, 64).replace(/^\uFEFF/, "").trimStart();
  if (start.startsWith("<")) fail("is HTML or XML (an error page?)");
  if (start.startsWith("[") || start.startsWith("{")) fail("is JSON", "`vigil ingest` reads the portal's JSON; backfill wants the CSV export");
}

function parseHeader(data: Buffer, name: string): string[] {
  try {
    const [header] = parse(data, { bom: true, relax_column_count: true, to_line: 1 }) as string[][];
    if (!header || header.length < 2) throw new SourceFormatError(`${name} line 1 has ${header?.length ?? 0} column(s), not a CSV header`);
    return header;
  } catch (error) {
    if (error instanceof SourceFormatError) throw error;
    throw new SourceFormatError(`${name} line 1 is not a CSV header: ${(error as Error).message}`);
  }
}
