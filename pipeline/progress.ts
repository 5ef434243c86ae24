/**
 * Progress of a long load: a bar with rows, rate and ETA on a terminal; plain periodic log lines
 * anywhere else (a service's journal has no use for a redrawn bar).
 */
import cliProgress from "cli-progress";
import type { Logger } from "./log.ts";

export interface Done {
  rows: number;
  bytes: number;
}

/** The size of the whole job, when known: bytes of a file, or rows the portal says it has. */
export interface Total {
  bytes?: number;
  rows?: number;
}

export interface Progress {
  start(total: Total, done: Done): void;
  update(done: Done): void;
  stop(): void;
}

export const noProgress: Progress = { start() {}, update() {}, stop() {} };

/** Throughput and time left, measured from where this process started (a resumed run included). */
class Meter {
  private readonly t0 = performance.now();
  constructor(
    private readonly total: Total,
    private readonly first: Done,
  ) {}

  /** Progress along whichever total is known, 0..1, or undefined. */
  fraction(done: Done): number | undefined {
    if (this.total.bytes) return Math.min(1, done.bytes / this.total.bytes);
    if (this.total.rows) return Math.min(1, done.rows / this.total.rows);
    return undefined;
  }

  rate(done: Done): number {
    const seconds = (performance.now() - this.t0) / 1000;
    return seconds > 0 ? (done.rows - this.first.rows) / seconds : 0;
  }

  etaSeconds(done: Done): number | undefined {
    const fraction = this.fraction(done);
    const start = this.fraction(this.first) ?? 0;
    if (fraction === undefined || fraction <= start) return undefined;
    const seconds = (performance.now() - this.t0) / 1000;
    return Math.round((seconds * (1 - fraction)) / (fraction - start));
  }
}

/** A redrawn bar on a terminal stream (cli-progress). */
export function progressBar(stream: NodeJS.WritableStream): Progress {
  let bar: cliProgress.SingleBar | undefined;
  let meter: Meter | undefined;
  const payload = (done: Done) => ({
    rows: done.rows.toLocaleString("en-US"),
    rate: Math.round(meter?.rate(done) ?? 0).toLocaleString("en-US"),
    left: formatEta(meter?.etaSeconds(done)),
  });
  const value = (done: Done) => Math.round((meter?.fraction(done) ?? 0) * 1000);
  return {
    start(total, done) {
      meter = new Meter(total, done);
      const known = meter.fraction(done) !== undefined;
      bar = new cliProgress.SingleBar({
        stream,
        format: known ? "backfill [{bar}] {percentage}% | {rows} rows | {rate} rows/s | ETA {left}" : "backfill {rows} rows | {rate} rows/s",
        hideCursor: true,
        fps: 5,
        barsize: 30,
      }, cliProgress.Presets.shades_classic);
      bar.start(1000, value(done), payload(done));
    },
    update(done) {
      bar?.update(value(done), payload(done));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** A log line every `intervalMs`, and one at the end. */
export function progressLog(log: Logger, intervalMs = 10_000): Progress {
  let meter: Meter | undefined;
  let last = 0;
  let latest: Done = { rows: 0, bytes: 0 };
  const line = (done: Done) => {
    const fraction = meter?.fraction(done);
    const percent = fraction === undefined ? undefined : Math.round(fraction * 1000) / 10;
    const eta = meter?.etaSeconds(done);
    log.info("progress", `${done.rows} rows${percent === undefined ? "" : ` (${percent}%)`}`, {
      rows: done.rows,
      bytes: done.bytes,
      percent,
      rows_per_s: Math.round(meter?.rate(done) ?? 0),
      eta_s: eta,
    });
  };
  return {
    start(total, done) {
      meter = new Meter(total, done);
      last = performance.now();
      latest = done;
    },
    update(done) {
      latest = done;
      if (performance.now() - last >= intervalMs) {
        last = performance.now();
        line(done);
      }
    },
    stop() {
      if (meter) line(latest);
      meter = undefined;
    },
  };
}

function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return "?";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}
