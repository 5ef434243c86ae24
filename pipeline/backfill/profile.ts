/**
 * Where a backfill's time goes: sums of performance.now() intervals per phase, on the main thread
 * and in the parsing workers (which send theirs with each chunk's result). Off unless asked for:
 * with VIGIL_PROFILE=<file.json> in the environment (as `npm run bench -- --profile` sets it) a
 * backfill writes its profile to that file when it ends; otherwise nothing is timed and the only
 * cost is a test of `undefined` per chunk and per row.
 */
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { VigilError } from "../errors.ts";

/** Phases timed on a thread that parses chunks (a worker, or the main thread between writes). */
export interface ParseTimes {
  /** Splitting the chunk's bytes into records (csv/records.ts). */
  csv: number;
  /** Records that are not plain mapped onto raw rows: dates rewritten, checkboxes and points read (csv/rows.ts). */
  fields: number;
  /** The row checked against the source's schema: a plain record read and checked in one step (plainRecordReader), any other by plainRow or zod. */
  validate: number;
  /** The case made from the row: cleaning, derived fields, the memorial's words. */
  normalize: number;
  /** Accepted rows laid out as arrays and packed for the main thread, or written to a staged file (csv/stage.ts). */
  pack: number;
}

export function parseTimes(): ParseTimes {
  return { csv: 0, fields: 0, validate: 0, normalize: 0, pack: 0 };
}

/** Main-thread phases, in the order they happen to a chunk. */
export type MainPhase =
  | "read" // the source read and cut into chunks of whole records, each hashed for the checkpoint
  | "wait" // waiting for a worker's result, nothing left to parse here
  | "unpack" // a worker's packed rows made arrays again, or its staged files attached and detached (csv/stage.ts)
  | "lookup" // a chunk's case numbers looked up at once
  | "insert" // rows inserted (and, where indexes are kept, the index entries written)
  | "rejects" // refused rows written to `rejects`
  | "revisions" // the "added" revisions of the transaction's new cases
  | "fts" // the transaction's new cases indexed for full-text search
  | "indexes" // secondary indexes (re)built after the bulk insert
  | "checkpoint" // the reject-share check and the checkpoint row (the run's record at the end)
  | "commit" // COMMIT
  | "close" // closing the database: the WAL checkpointed into the database file
  | "place"; // a first load's fresh file flushed to disk and renamed into place (fresh.ts)

export class LoadProfile {
  readonly main = new Map<MainPhase, number>();
  /** Parse phases summed over the workers, and over the chunks the main thread parsed itself. */
  readonly workers = parseTimes();
  readonly here = parseTimes();
  chunks = { workers: 0, here: 0 };
  rows = 0;
  private readonly started = performance.now();
  private readonly cpu = process.cpuUsage();

  add(phase: MainPhase, ms: number): void {
    this.main.set(phase, (this.main.get(phase) ?? 0) + ms);
  }

  /** Runs `fn`, adding its time to `phase`. */
  time<T>(phase: MainPhase, fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.add(phase, performance.now() - t);
    }
  }

  /** Awaits `promise`, adding the time waited to `phase`. */
  async waitFor<T>(phase: MainPhase, promise: Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await promise;
    } finally {
      this.add(phase, performance.now() - t);
    }
  }

  addParse(times: ParseTimes, here: boolean): void {
    const into = here ? this.here : this.workers;
    for (const key of Object.keys(times) as Array<keyof ParseTimes>) into[key] += times[key];
    this.chunks[here ? "here" : "workers"]++;
  }

  /** The profile as JSON: milliseconds per phase, the wall time, and the cores the process kept busy. */
  report(workers: number): ProfileReport {
    const wallMs = performance.now() - this.started;
    const cpu = process.cpuUsage(this.cpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      rows: this.rows,
      wallMs,
      cpuMs,
      cores: cpuMs / wallMs,
      availableCores: availableParallelism(),
      workerThreads: workers,
      chunks: { ...this.chunks },
      main: Object.fromEntries(this.main),
      workers: { ...this.workers },
      here: { ...this.here },
    };
  }

  write(path: string, workers: number): void {
    try {
      writeFileSync(path, `${JSON.stringify(this.report(workers), null, 2)}\n`);
    } catch (error) {
      throw new VigilError(`cannot write the backfill's profile to ${path}: ${(error as Error).message}`, { cause: error, hint: "VIGIL_PROFILE names a file to write; unset it to load without profiling" });
    }
  }
}

export interface ProfileReport {
  rows: number;
  wallMs: number;
  cpuMs: number;
  /** CPU time over wall time, all threads: 1.0 is one core kept busy the whole run. */
  cores: number;
  availableCores: number;
  workerThreads: number;
  chunks: { workers: number; here: number };
  main: Partial<Record<MainPhase, number>>;
  workers: ParseTimes;
  here: ParseTimes;
}

/** The file VIGIL_PROFILE names, when set: a backfill then profiles itself and writes the profile there. */
export function profileTarget(): string | undefined {
  const path = process.env.VIGIL_PROFILE;
  return path ? path : undefined;
}

/** `source`, adding the time spent waiting for each of its items to `phase`. */
export async function* timed<T>(source: AsyncIterable<T>, profile: LoadProfile, phase: MainPhase): AsyncGenerator<T> {
  const items = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const t = performance.now();
      const item = await items.next();
      profile.add(phase, performance.now() - t);
      if (item.done) return;
      yield item.value;
    }
  } finally {
    await items.return?.();
  }
}
