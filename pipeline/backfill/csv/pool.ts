/**
 * The parsing workers of a backfill. Results come back by sequence number and the caller applies
 * them in that order, so the database sees rows in source order whoever parsed them.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Chunk } from "./chunks.ts";
import { VigilError } from "../../errors.ts";
import { parseChunk, WORKER_ROLE, type ChunkResult, type WorkerSetup } from "./worker.ts";

/**
 * The worker's script. Built (`npm run build`), this module sits in dist/ beside dist/worker.js.
 * Run from the sources, the worker starts from worker-tsx.cjs, which registers tsx first: worker
 * threads do not inherit tsx's loader on Node 20, not even from `node --import tsx`.
 */
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./worker-tsx.cjs" : "./worker.js", import.meta.url);

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

function startWorker(): Worker {
  return new Worker(WORKER_URL, { workerData: { role: WORKER_ROLE }, resourceLimits: HEAP_LIMITS });
}

/**
 * Chunks handed to a worker at once. New ones go out only when the main thread's event loop
 * turns, which it does not while it writes the database (a commit takes ~100 ms, in which a worker
 * parses some thirty chunks). Measured at 100,000 rows: 8 in hand left the worker idle a sixth of
 * the load; 16 took 8% off the time, 32 barely more, for 15 MB more at a million rows.
 */
const PER_WORKER = 16;
/**
 * ...and at most this many bytes of them: a fresh file's chunks are larger (backfill.ts), and a
 * worker holding every chunk in flight would leave none for the main thread to parse while it
 * waits (parseHere).
 */
const BYTES_PER_WORKER = 1 << 20;

interface Task {
  chunk: Chunk;
  resolve: (result: ChunkResult) => void;
  reject: (error: Error) => void;
}

/** Chunks wait in a queue here and go to a worker as it has room. */
/** A parse refused because the pool was closed: on a stopped run, a consequence of the stop, not its cause. */
export class WorkersStoppedError extends VigilError {}

export class ParsePool {
  /** `ready` once the worker has loaded its modules: until then the main thread parses the chunks itself. */
  private readonly workers: Array<{ worker: Worker; running: number; bytes: number; ready: boolean }>;
  private readonly queue: Task[] = [];
  private readonly running = new Map<number, { task: Task; slot: { running: number; bytes: number } }>();
  private failure: Error | undefined;
  private local: WorkerSetup | undefined;

  constructor(size = defaultWorkerCount()) {
    this.workers = Array.from({ length: size }, () => {
      const worker = startWorker();
      const slot = { worker, running: 0, bytes: 0, ready: false };
      worker.on("message", (result: ChunkResult | { ready: true }) => {
        if ("ready" in result) {
          slot.ready = true;
          return this.dispatch();
        }
        const entry = this.running.get(result.seq);
        if (!entry) return;
        this.running.delete(result.seq);
        entry.slot.running--;
        entry.slot.bytes -= entry.task.chunk.data.byteLength;
        entry.task.resolve(result);
        this.dispatch();
      });
      worker.on("error", (error) => {
        const outOfMemory = (error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY";
        this.fail(outOfMemory ? new VigilError("a CSV parsing worker ran out of memory (a record of several megabytes?)", { cause: error }) : error);
      });
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new VigilError(`a CSV parsing worker exited with code ${code}`));
      });
      return slot;
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
      const result = parseChunk({ seq, data, line }, this.local, { encode: false });
      // a profiled run tells the chunks parsed here from the workers' (profile.ts)
      if (result.times) result.here = true;
      task.resolve(result);
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
    this.fail(new WorkersStoppedError("the CSV parsing workers were stopped"));
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.workers) {
      while (slot.ready && slot.running < PER_WORKER && this.queue.length > 0 && (slot.running === 0 || slot.bytes + this.queue[0].chunk.data.byteLength <= BYTES_PER_WORKER)) {
        const task = this.queue.shift() as Task;
        slot.running++;
        slot.bytes += task.chunk.data.byteLength;
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
