/**
 * The archive's nights: `vigil run --dataset archive` with five lenses on a generated case archive
 * (150,000 rows by default) served by the fixture portal over loopback. Measures, medians of --runs:
 * a full night (ingest + widgets for the five lenses) on a database loaded once, the first night into
 * an empty database (once), a night when nothing changed upstream and one when 10 rows changed (wall
 * time and bytes from the portal), and `vigil widgets` alone for the five lenses and for each lens.
 * Wall time, CPU time and peak RSS from /usr/bin/time -v; the portal runs in this process, so its
 * work is not in vigil's RSS or CPU time but does share the machine.
 *
 * A benchmark, not a test: it reports, it never fails on timing. `npm run bench` includes it (see
 * bench/run.ts, --archive-rows, --skip-archive); on its own:
 *   node --import tsx bench/archive-nightly.ts [--rows 150000] [--runs 3]   writes bench/archive-results.md
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { median } from "./stats.ts";
import { ARCHIVE_ID, startPortal, type FixturePortal, type PortalRequest } from "../fixtures/portal.ts";
import { generateArchive } from "../fixtures/generate.ts";
import { LENS_NAMES } from "../schemas/lenses.ts";
import type { RawRow } from "../schemas/source-columns.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const RESULTS = join(ROOT, "bench", "archive-results.md");
const VIGIL = join(ROOT, "bin", "vigil.js");
const SEED = 20_200_316;
const HAS_TIME = existsSync("/usr/bin/time");

export interface ArchiveBenchOptions {
  /** Rows in the generated archive. */
  rows: number;
  /** Runs per measurement; the tables show medians. */
  runs: number;
}

interface Sample {
  wall: number;
  /** Peak resident set size, bytes (NaN without /usr/bin/time). */
  rss: number;
  /** User + system CPU seconds (NaN without /usr/bin/time): steadier than wall time on a shared machine. */
  cpu: number;
  ok: boolean;
  /** Bytes of response bodies the portal sent during the command. */
  bytes: number;
  /** The same bytes by what was asked for (see `kind`). */
  kinds: Record<string, number>;
  /** Seconds of the widgets' steps (read, render, emit) from vigil's JSON log; empty when it logged none. */
  stages: Record<string, number>;
}

interface Job {
  label: string;
  command: string[];
  before?: () => void;
  samples: Sample[];
}

/** The archive's nights and widgets at `rows` rows, as a markdown section (## heading on). */
export async function archiveNightly(opts: ArchiveBenchOptions): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const rows = generateArchive({ count: opts.rows, seed: SEED });
  const portal = await startPortal({ datasets: { [ARCHIVE_ID]: rows } });
  const load = [loadavg()[0]];
  try {
    const db = join(OUT, `archive-nightly-${opts.rows}.db`);
    for (const suffix of ["", "-wal", "-shm", ".lock"]) rmSync(db + suffix, { force: true });
    // a lens alone gets a site of its own: widgets remove from a site the files of the lenses not asked for
    const site = freshSite(`archive-site-${opts.rows}`);
    const lenses = LENS_NAMES.flatMap((name) => ["--lens", name]);
    const run = [process.execPath, VIGIL, "run", "--dataset", "archive", "--db", db, "--portal", portal.url, "--site", site, ...lenses, "--log-format", "json"];
    const widgets = (into: string, names: string[]) => [process.execPath, VIGIL, "widgets", "--db", db, "--site", into, ...names, "--log-format", "json"];

    const first = await measured(portal, [...run, "--full"]);
    progress(`first night into an empty database: ${first.wall.toFixed(2)} s${first.ok ? "" : " (FAILED)"}`);
    if (!first.ok) throw new Error(`the first archive night failed: ${[...run, "--full"].join(" ")}`);
    const cases = count(db);
    if (cases !== opts.rows) throw new Error(`the first archive night stored ${cases} cases of ${opts.rows}`);
    // The first incremental night after a load reads again the rows updated in the day before the
    // newest :updated_at; the generator stamps every amendment due after its last day on that day
    // (thousands of rows), so that night is run once here, reported apart, as a warm-up.
    const edits = editor(portal, rows);
    edits();
    const warmUp = await measured(portal, run);
    progress(`first 10-change night after the load (warm-up): ${warmUp.wall.toFixed(2)} s, ${warmUp.bytes.toLocaleString("en-US")} bytes`);

    const nights: Job[] = [
      { label: "full night: `vigil run --full`", command: [...run, "--full"], samples: [] },
      { label: "nothing changed upstream: `vigil run`", command: run, samples: [] },
      { label: "10 rows changed upstream: `vigil run`", command: run, before: edits, samples: [] },
      { label: "download + JSON.parse of every row, no validation, no database (the floor)", command: [process.execPath, "--import", "tsx", join(ROOT, "bench", "download-floor.ts"), portal.url, ARCHIVE_ID], samples: [] },
    ];
    const widgetJobs: Job[] = [
      { label: `five lenses (${LENS_NAMES.join(", ")})`, command: widgets(site, lenses), samples: [] },
      ...LENS_NAMES.map((name) => ({ label: `\`--lens ${name}\` alone`, command: widgets(freshSite(`archive-site-${opts.rows}-${name}`), ["--lens", name]), samples: [] })),
    ];
    // round-robin, so a burst of load from the machine's other users falls on every job alike
    for (let round = 0; round < opts.runs; round++) {
      for (const job of [...nights, ...widgetJobs]) {
        job.before?.();
        const sample = await measured(portal, job.command);
        job.samples.push(sample);
        progress(`round ${round + 1}/${opts.runs}, ${job.label}: ${sample.wall.toFixed(2)} s, ${mb(sample.rss)}, ${sample.bytes.toLocaleString("en-US")} bytes${sample.ok ? "" : " (FAILED)"}`);
      }
      load.push(loadavg()[0]);
    }
    return section(opts, { first, warmUp }, nights, widgetJobs, syncs(db), load);
  } finally {
    await portal.close();
  }
}

/** A new copy of fixtures/hugo-site under bench/out. */
function freshSite(name: string): string {
  const site = join(OUT, name);
  rmSync(site, { recursive: true, force: true });
  cpSync(join(ROOT, "fixtures", "hugo-site"), site, { recursive: true });
  return site;
}

/**
 * Each call edits the same 10 rows upstream, spread over the archive, as the county would in a day:
 * their `:updated_at` moves a day past the previous edits' (the first edits: a day past the newest row).
 */
function editor(portal: FixturePortal, rows: readonly RawRow[], n = 10): () => void {
  const step = Math.floor(rows.length / n);
  const newest = rows.reduce((max, row) => (String(row[":updated_at"]) > max ? String(row[":updated_at"]) : max), "");
  const base = Math.ceil(Date.parse(newest) / 1000);
  let round = 0;
  return () => {
    round++;
    // unedited rows stay the same objects, which the portal knows as unchanged without comparing them
    const stamp = new Date((base + round * 86_400) * 1000).toISOString();
    const edited = rows.map((row, i) => (i % step === 0 && i / step < n ? { ...row, age: String((Number(row.age ?? 50) + round) % 100), ":updated_at": stamp } : row));
    portal.setRows(ARCHIVE_ID, edited, { rowsUpdatedAt: base + round * 86_400 });
  };
}

async function measured(portal: FixturePortal, command: string[]): Promise<Sample> {
  const sent = portal.requests.length;
  const sample = await measure(command);
  const kinds: Record<string, number> = {};
  let bytes = 0;
  for (const request of portal.requests.slice(sent)) {
    bytes += request.bytes ?? 0;
    kinds[kind(request)] = (kinds[kind(request)] ?? 0) + (request.bytes ?? 0);
  }
  return { ...sample, bytes, kinds };
}

/** What a request to the portal asked for, in the words of pipeline/ingest/incremental.ts. */
function kind(request: PortalRequest): string {
  const { $select: select = "", $where: where = "" } = request.query;
  if (!request.path.startsWith("/resource/")) return "the view's metadata";
  if (select.includes("date_trunc_ym(")) return "the rows counted by month of death (the proof)";
  if (select.startsWith("count(")) return "the row count";
  if (select.startsWith(":id,casenumber")) return where ? "the `:id`s of the months whose counts differ" : "every row's `:id` and case number (the listing)";
  if (where.includes(":updated_at")) return "the rows updated since the newest `:updated_at` held, less the overlap";
  if (where.includes(":id IN")) return "rows by `:id`: refused before, or not accounted for";
  return where ? `rows where ${where.slice(0, 40)}` : "every row";
}

function section(opts: ArchiveBenchOptions, once: { first: Sample; warmUp: Sample }, nights: Job[], widgetJobs: Job[], sync: string, load: number[]): string {
  const [full, quiet, ten, floor] = nights.map((job) => stats(job.samples));
  const five = stats(widgetJobs[0].samples);
  const met = (ok: boolean) => (ok ? "met" : "**not met**");
  const nightRow = (label: string, x: Stats, target = "") =>
    `| ${label} | ${s(x.wall)} | ${s(x.cpu)} | ${widgetsShare(x)} | ${Math.round(x.bytes).toLocaleString("en-US")} | ${pct(x.bytes, full.bytes)} | ${target} | ${mb(x.rss)} |`;
  const widgetRow = (label: string, x: Stats, target = "") =>
    `| ${label} | ${s(x.wall)} | ${s(x.cpu)} | ${s(x.stages.read)} | ${s(x.stages.render)} | ${s(x.stages.emit)} | ${target} | ${mb(x.rss)} |`;
  const lines = [
    `## The archive's nights: ${opts.rows.toLocaleString("en-US")} generated cases, five lenses, from the fixture portal over loopback`,
    "",
    `Every \`vigil run\` is \`--dataset archive --lens ${LENS_NAMES.join(" --lens ")} --site\` (a copy of fixtures/hugo-site): the ingest, then each lens's widgets.`,
    `Medians of ${opts.runs} runs, round-robin. The machine (2 cores) was shared with other people's benchmarks and tests while this ran`,
    `(1-minute load average ${load.map((x) => x.toFixed(1)).join(", ")} at the start and after each round): wall times are inflated by it, CPU times much less.`,
    "",
    "| night | wall time | CPU time | of which widgets (wall) | bytes from the portal | share of a full night's bytes | target | peak RSS |",
    "|---|---:|---:|---:|---:|---:|---|---:|",
    nightRow("first night, into an empty database (once)", stats([once.first])),
    nightRow(`${nights[0].label}, database loaded`, full),
    nightRow(nights[1].label, quiet, `≤ 0.1%: ${met(quiet.bytes <= full.bytes * 0.001)}`),
    nightRow(nights[2].label, ten, `≤ 2%: ${met(ten.bytes <= full.bytes * 0.02)}`),
    nightRow("the first 10-change night after the load (once, before the rounds)", stats([once.warmUp])),
    nightRow(nights[3].label, floor),
    "",
    `- how the runs read the source: ${sync}`,
    "- the first 10-change night after the load reads again every row updated in the day before the newest `:updated_at`: in the generated archive, thousands of rows stamped on its last day; later nights read again only the previous night's edits",
    ...breakdown([nights[1], nights[2]]),
    `- a full night is ${ratio(full.wall, floor.wall)} the floor's wall time; nothing changed ${ratio(quiet.wall, full.wall)} a full night's, 10 rows changed ${ratio(ten.wall, full.wall)}`,
    "",
    "| `vigil widgets` on the loaded database | wall time | CPU time | read (SQL) | render | write | target | peak RSS |",
    "|---|---:|---:|---:|---:|---:|---|---:|",
    widgetRow(widgetJobs[0].label, five, `under 3 s: ${met(five.wall < 3)}`),
    ...widgetJobs.slice(1).map((job) => widgetRow(job.label, stats(job.samples))),
    "",
    "- read, render and write are vigil's own log's times (wall, inside the process); the rest of the wall time is Node.js starting and loading modules",
    `- the lenses one at a time add up to ${s(widgetJobs.slice(1).reduce((sum, job) => sum + stats(job.samples).wall, 0))}; one process for all five shares the start`,
    "- where the time goes, query by query and chart by chart, and what would cut it: bench/archive-profile.md",
    "",
  ];
  const failed = [...nights, ...widgetJobs].filter((job) => job.samples.some((x) => !x.ok)).map((job) => job.label);
  if (failed.length) lines.push(`- FAILED runs (left out of the medians): ${failed.join("; ")}`, "");
  return lines.join("\n");
}

/** The widgets' share of a `vigil run`, from its log. */
function widgetsShare(x: Stats): string {
  const widgets = (x.stages.read ?? 0) + (x.stages.render ?? 0) + (x.stages.emit ?? 0);
  return widgets > 0 ? s(widgets) : "";
}

/** Where the bytes of the incremental nights went, medians by kind of request. */
function breakdown(jobs: Job[]): string[] {
  const lines = ["", "| bytes from the portal by request (median) | " + jobs.map((job) => job.label.replace(/: `vigil run`$/, "")).join(" | ") + " |", "|---|" + jobs.map(() => "---:|").join("")];
  const kinds = [...new Set(jobs.flatMap((job) => job.samples.flatMap((x) => Object.keys(x.kinds))))];
  for (const k of kinds) lines.push(`| ${k} | ${jobs.map((job) => Math.round(median(job.samples.filter((x) => x.ok).map((x) => x.kinds[k] ?? 0))).toLocaleString("en-US")).join(" | ")} |`);
  return [...lines, ""];
}

interface Stats {
  wall: number;
  cpu: number;
  rss: number;
  bytes: number;
  stages: Record<string, number>;
}

/** Medians of the samples that succeeded. */
function stats(samples: Sample[]): Stats {
  const good = samples.filter((x) => x.ok);
  const stages: Record<string, number> = {};
  for (const stage of new Set(good.flatMap((x) => Object.keys(x.stages)))) stages[stage] = median(good.map((x) => x.stages[stage] ?? NaN));
  return {
    wall: median(good.map((x) => x.wall)),
    cpu: median(good.map((x) => x.cpu)),
    rss: median(good.map((x) => x.rss)),
    bytes: median(good.map((x) => x.bytes)),
    stages,
  };
}

function pct(part: number, whole: number): string {
  return Number.isFinite(part) && whole > 0 ? `${((100 * part) / whole).toFixed(3)}%` : "";
}

/** How the runs read the source, from the runs table: "1 full, 3 unchanged, ...". */
function syncs(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT sync, count(*) AS n FROM runs GROUP BY sync ORDER BY sync").all() as Array<{ sync: string | null; n: number }>;
    return rows.map((r) => `${r.n} ${r.sync ?? "(none)"}`).join(", ");
  } finally {
    db.close();
  }
}

function count(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT count(*) FROM cases").pluck().get() as number;
  } finally {
    db.close();
  }
}

/**
 * Runs a command under /usr/bin/time -v (when present), output discarded. The same measure as
 * bench/run.ts's, which cannot be imported: that file runs the whole benchmark when loaded.
 */
function measure(command: string[]): Promise<Omit<Sample, "bytes" | "kinds">> {
  const stages: Record<string, number> = {};
  let partial = "";
  // vigil's JSON log lines of the widgets' steps; each logs the ms since its step began, the last the whole step
  const scan = (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = /"stage":"(read|render|emit)".*"ms":(\d+)/.exec(line);
      if (m) stages[m[1]] = Math.max(stages[m[1]] ?? 0, Number(m[2]) / 1000);
    }
  };
  const [cmd, args] = HAS_TIME ? ["/usr/bin/time", ["-v", ...command]] : [command[0], command.slice(1)];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      scan(chunk.toString());
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const elapsed = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(stderr);
      const wall = HAS_TIME && elapsed ? Number(elapsed[1] ?? 0) * 3600 + Number(elapsed[2]) * 60 + Number(elapsed[3]) : (performance.now() - started) / 1000;
      const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? NaN) * 1024;
      const cpu = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN) + Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
      if (code !== 0) progress(`failed (exit ${code}): ${command.slice(1).join(" ")}\n${stderr.slice(-2000)}`);
      resolve({ wall, rss, cpu, ok: code === 0, stages });
    });
  });
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "n/a";
}

function s(seconds: number): string {
  return Number.isFinite(seconds) ? `${seconds.toFixed(2)} s` : "n/a";
}

function mb(bytes: number): string {
  return Number.isFinite(bytes) ? `${Math.round(bytes / 1e6)} MB` : "n/a";
}

function progress(line: string): void {
  process.stderr.write(`bench: archive: ${line}\n`);
}

/** Run on its own: the section under a short header, into bench/archive-results.md. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: "string", default: "150000" }, runs: { type: "string", default: "3" } } });
  const opts = { rows: Number(values.rows), runs: Number(values.runs) };
  if (!(opts.rows > 0 && opts.runs > 0)) throw new Error(`--rows and --runs must be positive numbers, got ${values.rows} and ${values.runs}`);
  const cpu = cpus();
  const report = [
    "# Benchmark results: the archive's nights",
    "",
    "Written by `node --import tsx bench/archive-nightly.ts` (also part of `npm run bench`); numbers from one machine, noisy by tens of percent.",
    "",
    `- machine: ${cpu[0]?.model ?? "unknown CPU"}, ${cpu.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}`,
    `- run on: ${new Date().toISOString().slice(0, 10)}; Node.js ${process.version}`,
    `- data: fixtures/generate.ts generateArchive (seed ${SEED}), served as \`${ARCHIVE_ID}\` by fixtures/portal.ts in the benchmark's process`,
    `- command: \`node --import tsx bench/archive-nightly.ts ${process.argv.slice(2).join(" ")}\``,
    "",
    await archiveNightly(opts),
  ].join("\n");
  writeFileSync(`${RESULTS}.tmp`, report);
  renameSync(`${RESULTS}.tmp`, RESULTS);
  process.stdout.write(report);
  progress(`wrote ${RESULTS}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
