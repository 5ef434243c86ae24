/**
 * The parsing workers of a backfill. Results come back by sequence number and the caller applies
 * them in that order, so the database sees rows in source order whoever parsed them.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Chunk } from "./csv-chunks.ts";
import { VigilError } from "./errors.ts";
import { parseChunk, WORKER_ROLE, type ChunkResult, type WorkerSetup } from "./csv-worker.ts";

const WORKER_PATH = fileURLToPath(new URL("./csv-worker.ts", import.meta.url));

/**
 * Run from the sources, workers start from this script: vigil then runs its TypeScript through
 * tsx, whose loader worker threads do not inherit (not even from `node --import tsx`). Each
 * registers tsx's CommonJS hook, which works inside the thread; the ESM hooks would start yet
 * another thread per worker.
 */
const BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
require(workerData.tsx).register();
require(workerData.path);
`;

/**
 * One parsing worker beside the main thread, two from four cores on. On two cores a second worker
 * takes CPU from the main thread, which writes the database: measured barely faster at 100,000
 * rows, no faster at a million, and ~40 MB more, a sixth of a bulk load's memory budget.
 */
export function defaultWorkerCount(): number {
  return availableParallelism() >= 4 ? 2 : 1;
}

/** A chunk needs a few MB; a small heap is collected often and keeps the process small. */
const HEAP_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 16 };

/** Set by bin/vigil.js when it runs the bundle of the sources (bin/bundle.js), which has the worker in it. */
const BUNDLE = Symbol.for("vigil.bundle");

function startWorker(): Worker {
  const bundle = (globalThis as Record<symbol, unknown>)[BUNDLE];
  if (typeof bundle === "string") {
    return new Worker(join(bundle, "csv-worker.js"), { workerData: { role: WORKER_ROLE }, resourceLimits: HEAP_LIMITS });
  }
  const workerData = { role: WORKER_ROLE, path: WORKER_PATH, tsx: createRequire(import.meta.url).resolve("tsx/cjs/api") };
  return new Worker(BOOTSTRAP, { eval: true, workerData, resourceLimits: HEAP_LIMITS });
}

/**
 * Chunks handed to a worker at once. New ones go out only when the main thread's event loop
 * turns, which it does not while it writes the database (a commit takes ~100 ms, in which a worker
 * parses some thirty chunks). Measured at 100,000 rows: 8 in hand left the worker idle a sixth of
 * the load; 16 took 8% off the time, 32 barely more, for 15 MB more at a million rows.
 */
const PER_WORKER = 16;

interface Task {
  chunk: Chunk;
  resolve: (result: ChunkResult) => void;
  reject: (error: Error) => void;
}

/** Chunks wait in a queue here and go to a worker as it has room. */
export class ParsePool {
  private readonly workers: Array<{ worker: Worker; running: number }>;
  private readonly queue: Task[] = [];
  private readonly running = new Map<number, { task: Task; slot: { running: number } }>();
  private failure: Error | undefined;
  private local: WorkerSetup | undefined;

  constructor(size = defaultWorkerCount()) {
    this.workers = Array.from({ length: size }, () => {
      const worker = startWorker();
      worker.on("message", (result: ChunkResult) => {
        const entry = this.running.get(result.seq);
        if (!entry) return;
        this.running.delete(result.seq);
        entry.slot.running--;
        entry.task.resolve(result);
        this.dispatch();
      });
      worker.on("error", (error) => {
        const outOfMemory = (error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY";
        this.fail(outOfMemory ? new VigilError("a CSV parsing worker ran out of memory (a record of several megabytes?)", { cause: error }) : error);
      });
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`a CSV parsing worker exited with code ${code}`));
      });
      return { worker, running: 0 };
    });
  }

  get size(): number {
    return this.workers.length;
  }

  setup(setup: WorkerSetup): void {
    this.local = setup;
    for (const { worker } of this.workers) worker.postMessage({ setup });
  }

  /**
   * Parses the first chunk still waiting for a worker here, on the calling thread: for a caller
   * that would otherwise sit waiting for a worker's result (on two cores, the main thread between
   * database writes). False when no chunk is waiting.
   */
  parseHere(): boolean {
    if (!this.local) return false;
    const task = this.queue.shift();
    if (!task) return false;
    const { seq, data, line } = task.chunk;
    try {
      task.resolve(parseChunk({ seq, data, line }, this.local, { encode: false }));
    } catch (error) {
      task.reject(error as Error);
    }
    return true;
  }

  /** Parses one chunk; the chunk's bytes are copied to the worker, the caller keeps its own. */
  parse(chunk: Chunk): Promise<ChunkResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ chunk, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.fail(new Error("the CSV parsing workers were stopped"));
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.workers) {
      while (slot.running < PER_WORKER && this.queue.length > 0) {
        const task = this.queue.shift() as Task;
        slot.running++;
        this.running.set(task.chunk.seq, { task, slot });
        slot.worker.postMessage({ task: { seq: task.chunk.seq, data: task.chunk.data, line: task.chunk.line } });
      }
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const task of this.queue.splice(0)) task.reject(this.failure);
    for (const { task } of this.running.values()) task.reject(this.failure);
    this.running.clear();
  }
}
