/**
 * `npm run bench`: bulk-load speed and memory of `vigil backfill --file` beside its peers on the
 * same seeded synthetic archives (100,000 and 1,000,000 rows, written as the portal's bulk export),
 * and the nightly `vigil ingest` (full, nothing changed, 10 rows changed) beside the bare
 * download-and-parse floor, in time and in bytes read from the portal. Medians of
 * several runs; wall time and peak RSS from /usr/bin/time -v. Writes bench/results.md.
 *
 * A benchmark, not a test: it reports, it never fails on timing. Options:
 *   --sizes 100000,150000,1000000   archive sizes     --runs 5   runs per measurement (3 for 1M rows)
 *   --shape real|synthetic   the archive as the real exports fill it (default) or as generated (archive-csv.ts)
 *   --profile                also where a backfill's time goes, phase by phase, at the first size
 *                            (median of 3 runs with VIGIL_PROFILE set, see pipeline/backfill/profile.ts)
 *   --skip-nightly           only the bulk loads
 *   --archive-rows 150000    rows of the generated archive for the archive's nights (bench/archive-nightly.ts)
 *   --skip-archive           without the archive's nights and five lenses' widgets
 * Needs the Debian packages sqlite3, sqlite-utils and time; a missing peer is reported and skipped.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { writeArchiveCsv, type ArchiveShape } from "./archive-csv.ts";
import { keptTail, profileSection } from "./profile-table.ts";
import { archiveNightly } from "./archive-nightly.ts";
import { median } from "./stats.ts";
import type { ProfileReport } from "../pipeline/backfill/profile.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const RESULTS = join(ROOT, "bench", "results.md");
const VIGIL = join(ROOT, "bin", "vigil.js");
const SEED = 20_200_316;

interface Sample {
  wall: number;
  /** Peak resident set size, bytes (NaN when /usr/bin/time is missing). */
  rss: number;
  /** User + system CPU time, seconds (NaN without /usr/bin/time): steadier than wall time on a shared machine. */
  cpu: number;
  ok: boolean;
}

interface Measured {
  label: string;
  samples: Sample[];
  note?: string;
}

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "100000,150000,1000000" },
    runs: { type: "string" },
    shape: { type: "string", default: "real" },
    profile: { type: "boolean", default: false },
    "skip-nightly": { type: "boolean", default: false },
    "archive-rows": { type: "string", default: "150000" },
    "skip-archive": { type: "boolean", default: false },
  },
});
if (values.shape !== "real" && values.shape !== "synthetic") throw new Error(`--shape must be real or synthetic, got ${values.shape}`);
const shape = values.shape as ArchiveShape;
const sizes = String(values.sizes).split(",").map(Number).filter((n) => n > 0);

const tools = {
  time: existsSync("/usr/bin/time"),
  sqlite3: found("sqlite3", ["--version"]),
  sqliteUtils: found("sqlite-utils", ["--version"]),
};
const missing = [!tools.time && "time", !tools.sqlite3 && "sqlite3", !tools.sqliteUtils && "sqlite-utils"].filter(Boolean);
if (missing.length) {
  process.stderr.write(`bench: missing ${missing.join(", ")}; install with: sudo apt-get install ${missing.join(" ")}\n`);
  process.stderr.write("bench: measuring what can be measured; the missing peers are marked in the results\n");
}
mkdirSync(OUT, { recursive: true });
/** vigil's peak RSS by archive size, to compare 1M rows with 100k. */
const peaks = new Map<number, number>();

const sections: string[] = [];
for (const rows of sizes) sections.push(await bulkLoad(rows, Number(values.runs ?? (rows >= 1_000_000 ? 3 : 5))));
if (values.profile) sections.push(await profile(sizes[0], 3));
if (!values["skip-nightly"]) sections.push(await nightly(Number(values.runs ?? 5)));
if (!values["skip-archive"]) sections.push(await archiveNightly({ rows: Number(values["archive-rows"]), runs: Number(values.runs ?? 3) }));
const kept = existsSync(RESULTS) ? keptTail(readFileSync(RESULTS, "utf8")) : "";
const report = [header(), ...sections, kept].join("\n");
writeFileSync(`${RESULTS}.tmp`, report);
renameSync(`${RESULTS}.tmp`, RESULTS);
process.stdout.write(report);
process.stderr.write(`bench: wrote ${RESULTS}\n`);

/**
 * Where the time of `vigil backfill --file` goes at `rows` rows: `runs` loads with VIGIL_PROFILE
 * set, each writing its phase times; the table shows the medians.
 */
async function profile(rows: number, runs: number): Promise<string> {
  const file = await archive(rows);
  const db = join(OUT, `vigil-profile-${rows}.db`);
  const reports: ProfileReport[] = [];
  const walls: number[] = [];
  for (let run = 0; run < runs; run++) {
    for (const suffix of ["", "-wal", "-shm", ".lock"]) rmSync(db + suffix, { force: true });
    const target = join(OUT, `profile-${rows}-${run}.json`);
    rmSync(target, { force: true });
    const sample = await measure([process.execPath, VIGIL, "backfill", "--file", file, "--db", db, "--dataset", "cjeq-bs86"], { VIGIL_PROFILE: target });
    if (!sample.ok || !existsSync(target)) throw new Error(`the profiled backfill of ${file} failed`);
    reports.push(JSON.parse(readFileSync(target, "utf8")) as ProfileReport);
    walls.push(sample.wall);
    process.stderr.write(`bench: profile of ${rows} rows, run ${run + 1}/${runs}: ${sample.wall.toFixed(2)} s\n`);
  }
  return profileSection(rows, shape, reports, median(walls));
}

async function bulkLoad(rows: number, runs: number): Promise<string> {
  const file = await archive(rows);
  const bytes = statSync(file).size;
  const db = (name: string) => join(OUT, `${name}-${rows}.db`);
  const fresh = (path: string) => () => {
    for (const suffix of ["", "-wal", "-shm", ".lock"]) rmSync(path + suffix, { force: true });
  };
  const jobs: Array<{ label: string; available: boolean; command: string[]; before: () => void; check?: () => boolean }> = [
    {
      label: "`vigil backfill --file`",
      available: true,
      command: [process.execPath, VIGIL, "backfill", "--file", file, "--db", db("vigil"), "--dataset", "cjeq-bs86"],
      before: fresh(db("vigil")),
      check: () => count(db("vigil"), "cases") === rows,
    },
    {
      label: "`sqlite-utils insert --csv`",
      available: tools.sqliteUtils,
      command: ["sqlite-utils", "insert", db("sqlite-utils"), "cases", file, "--csv"],
      before: fresh(db("sqlite-utils")),
      check: () => count(db("sqlite-utils"), "cases") === rows,
    },
    {
      label: "`sqlite3 .import --csv`",
      available: tools.sqlite3,
      command: ["sqlite3", db("import"), ".import --csv " + file + " cases"],
      before: fresh(db("import")),
      check: () => count(db("import"), "cases") === rows,
    },
  ];
  const results: Measured[] = jobs.map((j) => ({ label: j.label, samples: [], note: j.available ? undefined : "not installed" }));
  // round-robin, so a burst of load on the machine falls on every tool alike
  for (let run = 0; run < runs; run++) {
    for (const [i, job] of jobs.entries()) {
      if (!job.available) continue;
      job.before();
      const sample = await measure(job.command);
      sample.ok &&= job.check?.() ?? true;
      results[i].samples.push(sample);
      process.stderr.write(`bench: ${rows} rows, ${job.label} run ${run + 1}/${runs}: ${sample.wall.toFixed(2)} s, ${mb(sample.rss)}${sample.ok ? "" : " (FAILED)"}\n`);
    }
  }
  const [vigil, utils, imp] = results.map((r) => median(r.samples.filter((s) => s.ok).map((s) => s.wall)));
  const lines = [
    `## ${rows.toLocaleString("en-US")} rows (${(bytes / 1e6).toFixed(1)} MB CSV)`,
    "",
    `| tool | wall time (median of ${runs}) | rows/s | peak RSS (median) | CPU time (median) |`,
    "|---|---:|---:|---:|---:|",
    ...results.map((r) => row(r, rows)),
    "",
    `- vigil vs sqlite-utils: ${ratio(utils, vigil, "faster")} (target: at least 3x faster)`,
    `- vigil vs sqlite3 .import: ${ratio(vigil, imp, "the time")} (target: within 3x)`,
  ];
  const cpu = results.map((r) => median(r.samples.filter((s) => s.ok).map((s) => s.cpu)));
  lines.push(`- in CPU time: ${ratio(cpu[1], cpu[0], "less than sqlite-utils")}, ${ratio(cpu[0], cpu[2], "sqlite3 .import's")}`);
  const rss = median(results[0].samples.map((s) => s.rss));
  lines.push(`- vigil peak RSS: ${mb(rss)}${rows >= 1_000_000 ? " (target: under 250 MB, and at most 1.5x the 100,000-row peak)" : ""}`);
  peaks.set(rows, rss);
  if (peaks.has(100_000) && rows > 100_000) lines.push(`- peak RSS at ${rows.toLocaleString("en-US")} rows / at 100,000 rows: ${(rss / (peaks.get(100_000) as number)).toFixed(2)}`);
  return `${lines.join("\n")}\n`;
}

/**
 * The nights of the COVID view (15,200 cases) from the fixture portal over loopback: a full sync, a
 * night when nothing changed, a night when 10 rows changed, and the bare download-and-parse floor.
 * Bytes are the response bodies the portal sent for the run (metadata included).
 */
async function nightly(runs: number): Promise<string> {
  const portal = await startPortal();
  try {
    const db = join(OUT, "nightly.db");
    for (const suffix of ["", "-wal", "-shm", ".lock"]) rmSync(db + suffix, { force: true });
    const ingest = [process.execPath, VIGIL, "ingest", "--db", db, "--portal", portal.url];
    const first = await measure(ingest);
    if (!first.ok) throw new Error("the first ingest from the fixture portal failed");
    const floor = [process.execPath, "--import", "tsx", join(ROOT, "bench", "download-floor.ts"), portal.url, "3trz-enys"];
    let rounds = 0;
    const jobs: Array<{ label: string; command: string[]; before?: () => void }> = [
      { label: "`vigil ingest --full`", command: [...ingest, "--full"] },
      { label: "`vigil ingest`, nothing changed upstream", command: ingest },
      { label: "`vigil ingest`, 10 rows changed upstream", command: ingest, before: () => changeRows(portal, 10, ++rounds) },
      { label: "download + JSON.parse of every row, no validation, no database (the floor)", command: floor },
    ];
    const results: Array<Measured & { bytes: number[] }> = jobs.map((j) => ({ label: j.label, samples: [], bytes: [] }));
    for (let run = 0; run < runs; run++) {
      for (const [i, job] of jobs.entries()) {
        job.before?.();
        const sent = portal.requests.length;
        results[i].samples.push(await measure(job.command));
        results[i].bytes.push(portal.requests.slice(sent).reduce((sum, r) => sum + (r.bytes ?? 0), 0));
      }
    }
    const warm = await inProcessNights(portal.url, runs);
    const rows = count(db, "cases");
    const syncs = (new Database(db, { readonly: true }).prepare("SELECT sync, count(*) AS n FROM runs GROUP BY sync ORDER BY sync").all() as Array<{ sync: string; n: number }>)
      .map((r) => `${r.n} ${r.sync}`)
      .join(", ");
    const wall = results.map((r) => median(r.samples.filter((x) => x.ok).map((x) => x.wall)));
    const bytes = results.map((r) => median(r.bytes));
    const [fullWall, quietWall, tenWall, floorWall] = wall;
    const [fullBytes, quietBytes, tenBytes] = bytes;
    return [
      `## Nightly runs: the COVID view (${rows.toLocaleString("en-US")} cases) from the fixture portal over loopback`,
      "",
      `| job | wall time (median of ${runs}) | bytes from the portal (median) | peak RSS (median) |`,
      "|---|---:|---:|---:|",
      ...results.map((r, i) => `| ${r.label} | ${wall[i].toFixed(2)} s | ${Math.round(bytes[i]).toLocaleString("en-US")} | ${mb(median(r.samples.map((x) => x.rss)))} |`),
      "",
      `- nothing changed: ${pct(quietBytes, fullBytes)} of a full sync's bytes (target: at most 1%), ${ratio(quietWall, floorWall, "the floor's time")} (target: at most 0.2x)`,
      `- 10 rows changed: ${pct(tenBytes, fullBytes)} of a full sync's bytes (target: at most 10%), ${ratio(tenWall, floorWall, "the floor's time")}`,
      `- a full sync: ${ratio(fullWall, floorWall, "the floor's time")}`,
      `- inside a running \`vigil schedule\` (the same ingest, in process, after its first night): nothing changed ${(warm * 1000).toFixed(0)} ms, ${ratio(warm, floorWall, "the floor's time")}`,
      `- how the runs read the source: ${syncs}`,
      "",
    ].join("\n");
  } finally {
    await portal.close();
  }
}

/**
 * A no-change night inside a process that stays up (`vigil schedule`): Node.js, the modules and the
 * connection pool are already there, as they are from its second night on. Median wall time, seconds.
 */
async function inProcessNights(portal: string, runs: number): Promise<number> {
  const { ingest } = await import("../pipeline/ingest/ingest.ts");
  const db = join(OUT, "nightly-in-process.db");
  for (const suffix of ["", "-wal", "-shm", ".lock"]) rmSync(db + suffix, { force: true });
  const log = { debug() {}, info() {}, warn() {}, error() {} };
  const night = () => ingest({ config: { db, portal, dataset: "3trz-enys" }, log, now: () => new Date() });
  await night();
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const result = await night();
    if (result.sync !== "unchanged") throw new Error(`expected a no-change night in process, got ${result.sync}`);
    times.push((performance.now() - started) / 1000);
  }
  return median(times);
}

/** Changes `n` rows upstream, as the county would in a day (round 1, 2, ...): the portal stamps their `:updated_at`. */
function changeRows(portal: Awaited<ReturnType<typeof startPortal>>, n: number, changeRound: number): void {
  const rows = generateCovidView();
  const edited = rows.map((row, i) => (i % Math.floor(rows.length / n) === 0 && i / Math.floor(rows.length / n) < n ? { ...row, age: String((Number(row.age ?? 50) + changeRound) % 100) } : row));
  // a day between versions, so the stamps of each night's edits are a day apart as they would be
  portal.setRows("3trz-enys", edited, { rowsUpdatedAt: Math.floor(Date.parse("2026-01-01T00:00:00Z") / 1000) + changeRound * 86_400 });
}

function pct(part: number, whole: number): string {
  return Number.isFinite(part) && whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : "n/a";
}

/** The archive CSV for `rows`, generated once per size and seed. */
async function archive(rows: number): Promise<string> {
  const file = join(OUT, `archive-${shape}-${rows}.csv`);
  const stamp = `${file}.json`;
  const want = JSON.stringify({ rows, seed: SEED, shape });
  if (existsSync(file) && existsSync(stamp) && readFileSync(stamp, "utf8") === want) return file;
  process.stderr.write(`bench: writing a ${rows}-row ${shape}-shaped archive to ${file}\n`);
  await writeArchiveCsv(file, rows, SEED, shape);
  writeFileSync(stamp, want);
  return file;
}

/** Runs a command under /usr/bin/time -v (when present); output is discarded. */
function measure(command: string[], env: Record<string, string> = {}): Promise<Sample> {
  const [cmd, args] = tools.time ? ["/usr/bin/time", ["-v", ...command]] : [command[0], command.slice(1)];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = tools.time ? parseElapsed(stderr) : (performance.now() - started) / 1000;
      const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN) * 1024;
      const cpu = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN) + Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ wall, rss, cpu, ok: code === 0 });
    });
  });
}

function parseElapsed(text: string): number {
  const m = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(text);
  return m ? Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) : NaN;
}

function count(path: string, table: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return -1;
  }
}

function found(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}

function version(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim().split("\n")[0].split(" ").slice(0, 3).join(" ") : "not installed";
}

function row(result: Measured, rows: number): string {
  if (result.note) return `| ${result.label} | ${result.note} | | | |`;
  const good = result.samples.filter((s) => s.ok);
  if (good.length === 0) return `| ${result.label} | failed | | | |`;
  const wall = median(good.map((s) => s.wall));
  const failed = result.samples.length - good.length;
  return `| ${result.label} | ${wall.toFixed(2)} s${failed ? ` (${failed} failed)` : ""} | ${Math.round(rows / wall).toLocaleString("en-US")} | ${mb(median(good.map((s) => s.rss)))} | ${median(good.map((s) => s.cpu)).toFixed(2)} s |`;
}

function ratio(a: number, b: number, word: string): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x ${word}` : "n/a";
}

function mb(bytes: number): string {
  return Number.isFinite(bytes) ? `${Math.round(bytes / 1e6)} MB` : "n/a";
}

function header(): string {
  const cpu = cpus();
  return [
    "# Benchmark results",
    "",
    "Written by `npm run bench` (bench/run.ts); numbers from one machine, noisy by tens of percent.",
    "",
    `- machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`,
    `- run on: ${new Date().toISOString().slice(0, 10)}; Node.js ${process.version}; ${version("sqlite3", ["--version"]).replace(/^(\S+).*/, "sqlite3 $1")}; ${version("sqlite-utils", ["--version"])}`,
    `- data: seeded synthetic Medical Examiner archive (seed ${SEED}), written as the portal's bulk CSV export (display-name headers, US dates, every column);`,
    shape === "real"
      ? "  real-shaped: filled in to the real exports' share of empty cells, 21% (bench/archive-csv.ts)"
      : "  as generated: 28% of cells empty, more than the real exports' 21% (`--shape real`, the default, fills them in)",
    `- command: \`npm run bench -- ${process.argv.slice(2).join(" ")}\``.replace(" -- `", "`"),
    "- every tool loads the same file into a new database (removed before each run): vigil validates, normalizes, diffs, writes revisions and full-text search,",
    "  into a fresh file renamed into place when complete (a first load; pipeline/backfill/fresh.ts);",
    "  sqlite-utils detects nothing (all text) and inserts; sqlite3 .import copies text into a table without types or indexes",
    "",
  ].join("\n");
}
