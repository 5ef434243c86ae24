/**
 * The profile section of bench/results.md: a backfill's phases (pipeline/backfill/profile.ts), median
 * milliseconds over several profiled runs, grouped as a reader asks about them.
 */
import type { MainPhase, ParseTimes, ProfileReport } from "../pipeline/backfill/profile.ts";

/** Marks the hand-kept end of results.md (earlier profiles, notes): carried over as it is by each run. */
export const KEPT = "<!-- kept: everything below is carried over by bench/run.ts -->";

export function keptTail(text: string): string {
  const at = text.indexOf(KEPT);
  return at === -1 ? `${KEPT}\n` : text.slice(at);
}

type Source = { thread: "main"; phase: MainPhase } | { thread: "workers" | "here"; phase: keyof ParseTimes };

const PHASES: Array<{ group: string; what: string; source: Source }> = [
  { group: "reading and CSV parsing", what: "read the file, cut chunks of whole records, hash them (checkpoints; not in a new database)", source: { thread: "main", phase: "read" } },
  { group: "reading and CSV parsing", what: "split records into fields", source: { thread: "workers", phase: "csv" } },
  { group: "reading and CSV parsing", what: "a record not plain onto a raw row (US dates, points)", source: { thread: "workers", phase: "fields" } },
  { group: "validation", what: "a plain record read and checked in one step; any other row against the schema (zod)", source: { thread: "workers", phase: "validate" } },
  { group: "normalization", what: "the case made, memorial words included", source: { thread: "workers", phase: "normalize" } },
  { group: "handing rows between threads", what: "rows laid out and packed, or written to a staged file (a new database), posted", source: { thread: "workers", phase: "pack" } },
  { group: "reading and CSV parsing", what: "split records (chunks parsed on the main thread)", source: { thread: "here", phase: "csv" } },
  { group: "reading and CSV parsing", what: "a record not plain onto a raw row (main thread)", source: { thread: "here", phase: "fields" } },
  { group: "validation", what: "schema check (main thread)", source: { thread: "here", phase: "validate" } },
  { group: "normalization", what: "the case made (main thread)", source: { thread: "here", phase: "normalize" } },
  { group: "handing rows between threads", what: "rows laid out (main thread)", source: { thread: "here", phase: "pack" } },
  { group: "handing rows between threads", what: "packed rows unpacked, or staged files attached and detached", source: { thread: "main", phase: "unpack" } },
  { group: "handing rows between threads", what: "waiting for a worker, nothing to parse here", source: { thread: "main", phase: "wait" } },
  { group: "SQLite inserts", what: "a chunk's case numbers looked up at once", source: { thread: "main", phase: "lookup" } },
  { group: "SQLite inserts", what: "rows inserted (a staged file's with one INSERT ... SELECT), with the indexes kept row by row", source: { thread: "main", phase: "insert" } },
  { group: "SQLite inserts", what: "refused rows written", source: { thread: "main", phase: "rejects" } },
  { group: "indexes", what: "secondary indexes built after the insert", source: { thread: "main", phase: "indexes" } },
  { group: "full-text search", what: "new cases indexed, once per transaction (a new database: also every 10 staged files)", source: { thread: "main", phase: "fts" } },
  { group: "revisions", what: "the \"added\" revisions, once per transaction (the same)", source: { thread: "main", phase: "revisions" } },
  { group: "final commit and checkpoint", what: "reject-share check, checkpoint row, run record", source: { thread: "main", phase: "checkpoint" } },
  { group: "final commit and checkpoint", what: "COMMIT (every 20,000 rows and at the end; a new database has no journal, and commits every 10 staged files too)", source: { thread: "main", phase: "commit" } },
  { group: "final commit and checkpoint", what: "closing: the WAL checkpointed into the database (a new one: made a WAL database)", source: { thread: "main", phase: "close" } },
  { group: "final commit and checkpoint", what: "a new database flushed to disk and renamed into place", source: { thread: "main", phase: "place" } },
];

function value(report: ProfileReport, source: Source): number {
  return source.thread === "main" ? (report.main[source.phase] ?? 0) : report[source.thread][source.phase];
}

export function profileSection(rows: number, shape: string, reports: ProfileReport[], processWall: number): string {
  const med = (f: (r: ProfileReport) => number) => median(reports.map(f));
  const wall = med((r) => r.wallMs);
  const mainTotal = med((r) => PHASES.filter((p) => p.source.thread !== "workers").reduce((sum, p) => sum + value(r, p.source), 0));
  const workerTotal = med((r) => PHASES.filter((p) => p.source.thread === "workers").reduce((sum, p) => sum + value(r, p.source), 0));
  const first = reports[0];
  const lines = [
    `## Where the time goes: \`vigil backfill --file\`, ${rows.toLocaleString("en-US")} rows (${shape}-shaped), median of ${reports.length} profiled runs`,
    "",
    `Process wall time ${processWall.toFixed(2)} s (median, /usr/bin/time); inside backfill() ${(wall / 1000).toFixed(2)} s, ` +
      `CPU ${(med((r) => r.cpuMs) / 1000).toFixed(2)} s: ${med((r) => r.cores).toFixed(2)} of ${first.availableCores} cores busy on average ` +
      `(main thread + ${first.workerThreads} parsing worker${first.workerThreads === 1 ? "" : "s"}; the main thread parsed ${first.chunks.here} of ${first.chunks.here + first.chunks.workers} chunks itself).`,
    "Phase times are sums of wall-clock intervals (performance.now) on their thread, so they include time the",
    "thread was descheduled on a busy machine; compare shares, not milliseconds, between machines.",
    "",
    "| phase | step | thread | ms (median) | share of the thread |",
    "|---|---|---|---:|---:|",
  ];
  for (const { group, what, source } of PHASES) {
    const ms = med((r) => value(r, source));
    const total = source.thread === "workers" ? workerTotal : mainTotal;
    lines.push(`| ${group} | ${what} | ${source.thread === "workers" ? "workers" : "main"} | ${ms.toFixed(0)} | ${total > 0 ? ((100 * ms) / total).toFixed(1) : "0.0"}% |`);
  }
  lines.push(`| **total** | | main | ${mainTotal.toFixed(0)} | |`, `| **total** | | workers | ${workerTotal.toFixed(0)} | |`, "");
  return `${lines.join("\n")}\n`;
}

function median(xs: number[]): number {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
