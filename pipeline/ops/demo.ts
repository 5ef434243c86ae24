/**
 * The demo (`vigil demo`): the whole flow offline. Starts the bundled fixture portal serving a generated,
 * realistic case archive (every cause of death, the recent cases still pending), ingests it into a
 * database of its own, writes the widgets of every lens into a copy of the fixture Hugo site, with a
 * post that shows each lens, publishes the public record beside it, serves that site with Hugo (when installed) and the
 * database with datasette, and prints the URLs once each answers. Everything lives under one folder (data/demo), so the committed fixture and a real
 * database are never touched. Ctrl-C stops everything it started.
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { writeAtomically } from "../atomic.ts";
import { join, resolve } from "node:path";
import { DATASETS } from "../../schemas/config.ts";
import { LENS_NAMES, LENSES } from "../../schemas/lenses.ts";
import { capitalized } from "../../site-widgets/format.ts";
import { UsageError, VigilError } from "../errors.ts";
import { ingest } from "../ingest/ingest.ts";
import { elapsed, type Logger } from "../log.ts";
import { projectPath } from "../paths.ts";
import { aborted, childEnv, freePort, startServer } from "./children.ts";
import { startDatasette, type DatasetteServer } from "./datasette.ts";

const FIXTURE_SITE = projectPath("fixtures", "hugo-site");

/** The generated archive's size: its COVID-19 deaths follow the published curve at about a third of their number, and it loads in seconds. */
const DEMO_ARCHIVE_ROWS = 40_000;
/**
 * The nights run after the first load, each at its own time (August 2026, so the demo's record is the
 * same whatever day it starts): enough for the opioid lens to measure its own lag.
 */
const DEMO_NIGHTS = 10;
/** Marks a folder as the demo's own, so that starting afresh never deletes anything else. */
const MARKER = ".vigil-demo";

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

export interface DemoOptions {
  /** Folder for the demo's database and site; emptied of the demo's own files on each start. */
  dir: string;
  /** datasette's port; 0 picks a free one. */
  port: number;
  /** The Hugo site's port; 0 picks a free one. */
  sitePort: number;
  log: Logger;
  now: () => Date;
  /** Stops everything the demo started. */
  signal: AbortSignal;
  /** Where the URLs to open are printed. */
  stdout: NodeJS.WritableStream;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { log, signal, port, sitePort, stdout } = options;
  const dir = resolve(options.dir);
  const db = join(dir, "vigil.db");
  const site = join(dir, "site");
  const out = join(dir, "public");
  const hugo = hugoInstalled();
  // before anything starts: a port another server holds would answer in place of the demo's own
  await checkPorts([{ port, flag: "--port", what: "datasette's" }, ...(hugo ? [{ port: sitePort, flag: "--site-port", what: "the Hugo site's" }] : [])]);
  prepare(dir);

  const started: Stoppable[] = [];
  const stopAll = async () => {
    for (const part of started.reverse()) await part.stop().catch((error: Error) => log.warn("demo", `stopping ${part.name}: ${error.message}`));
  };
  try {
    // The fixture portal lives in fixtures/, which only a checkout has: import it on demand.
    const { startPortal } = await import("../../fixtures/portal.ts");
    const { generateArchive } = await import("../../fixtures/generate.ts");
    const { archiveNights, ARCHIVE_NIGHT_RUN_TIMES } = await import("../../fixtures/archive-nights.ts");
    const nights = archiveNights(generateArchive({ count: DEMO_ARCHIVE_ROWS, seed: 1 }), { seed: 1, nights: DEMO_NIGHTS });
    const portal = await startPortal({ datasets: { [DATASETS.archive]: nights[0] } });
    started.push({ name: "the fixture portal", stop: () => portal.close() });
    log.info("demo", `fixture portal at ${portal.url}`, { url: portal.url });

    // the first load, then a run each night at its own time: open cases close into a lens, new deaths arrive
    const runs: Array<{ runId: number; inserted: number }> = [];
    for (const [night, rows] of nights.entries()) {
      if (night > 0) portal.setRows(DATASETS.archive, rows);
      const at = new Date(ARCHIVE_NIGHT_RUN_TIMES[night]);
      const result = await ingest({ config: { db, portal: portal.url, dataset: DATASETS.archive }, log, now: () => at, signal });
      runs.push({ runId: result.runId, inserted: result.counts.inserted });
      checkStopped(signal);
    }
    // chosen now: the site links each memorial day to its records there, and names it as the source
    const datasettePort = port === 0 ? await freePort() : port;
    const written = await writeSite(db, site, out, `http://127.0.0.1:${datasettePort}`, options);
    checkStopped(signal);

    const stage = performance.now();
    let siteUrl: string | null = null;
    if (hugo) {
      const server = await startHugo(site, sitePort === 0 ? await freePort() : sitePort, log, signal);
      started.push({ name: "hugo", stop: server.stop });
      siteUrl = server.url;
      log.info("demo", `hugo serving ${site} at ${server.url}`, { ms: elapsed(stage) });
    } else {
      log.warn("demo", "Hugo is not installed: the site was written but not built", { site });
    }

    const datasette: DatasetteServer = await startDatasette({ db, port: datasettePort, host: "127.0.0.1", log, signal, generated: { sourceUrl: `${portal.url}/api/views/${DATASETS.archive}.json` } });
    started.push({ name: "datasette", stop: datasette.stop });

    stdout.write(
      [
        `vigil demo: ${runs[0].inserted.toLocaleString("en-US")} cases loaded from the fixture portal (run ${runs[0].runId}), then ${DEMO_NIGHTS} nights of closed cases and new deaths (runs ${runs[1].runId} to ${runs.at(-1)!.runId}).`,
        `  datasette  ${datasette.databaseUrl}`,
        siteUrl
          ? `  site       ${siteUrl}`
          : `  site       not built: install Hugo (Debian/Ubuntu: sudo apt-get install hugo; macOS: brew install hugo), then run vigil demo again; the files are in ${site}`,
        `  public     ${join(out, written.snapshot)}  (the public record; serve it with: npx vigil serve --public --out ${out} --port 8002)`,
        `  portal     ${portal.url}  (the fixture; try: npx vigil run --portal ${portal.url} --dataset archive --lens ${LENS_NAMES.join(",")} --db ${db} --site ${site})`,
        `  database   ${db}  (try: npx vigil status --db ${db})`,
        "Press Ctrl-C to stop.",
        "",
      ].join("\n"),
    );

    const ended = await Promise.race([aborted(signal).then(() => null), datasette.exited]);
    // Ctrl-C in a terminal reaches datasette too (same process group): its own clean exit is a stop.
    if (ended && !signal.aborted && ended.code !== 0 && ended.signal !== "SIGINT" && ended.signal !== "SIGTERM") {
      throw new VigilError(`datasette stopped unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
    }
    log.info("demo", "stopping");
  } finally {
    await stopAll();
  }
}

/**
 * The fixture site with the widgets written into it, and the public record published (into `out`
 * and the site). Every source line and note says the data is generated; the source link and the
 * memorial's links to each day's records go to the demo's own datasette at `datasetteUrl`.
 */
async function writeSite(db: string, site: string, out: string, datasetteUrl: string, options: DemoOptions): Promise<{ snapshot: string }> {
  const stage = performance.now();
  cpSync(FIXTURE_SITE, site, { recursive: true });
  writeAtomically(join(site, "content", "posts", "lenses.md"), LENS_POST);
  const { writeWidgets } = await import("../../site-widgets/emit.ts");
  const widgets = await writeWidgets({ db, site, now: options.now, log: options.log, generated: true, sourceUrl: `${datasetteUrl}/`, recordsUrl: datasetteUrl, lenses: LENS_NAMES });
  const { publish } = await import("../publish/publish.ts");
  const published = await publish({ db, out, site, now: options.now, log: options.log });
  options.log.info("demo", `site copied to ${site} with ${widgets.written.length} widget files; public record ${published.manifest.file}`, { site, ms: elapsed(stage) });
  return { snapshot: published.manifest.file };
}

/** The demo site's post of every lens: its total, its daily chart (recent days shaded) and its latest memorial day. */
const LENS_POST = [
  "---",
  'title: "Every lens"',
  "date: 2026-11-22",
  "---",
  "The same archive, five ways of looking at it: each lens is one of the Medical Examiner's own flags.",
  ...LENS_NAMES.filter((name) => name !== "covid").flatMap((name) => [
    "",
    `## ${capitalized(LENSES[name].deaths)}`,
    "",
    `The Cook County Medical Examiner has recorded {{< vigil-stat name="total_deaths" lens="${name}" >}} ${LENSES[name].deaths}; ` +
      `{{< vigil-stat name="pending" lens="${name}" >}} cases are still pending.`,
    "",
    `{{< vigil-chart id="daily-deaths" lens="${name}" >}}`,
    "",
    `{{< vigil-memorial lens="${name}" >}}`,
  ]),
  "",
].join("\n");

/** Refuses a port that is taken, naming it and the flag that picks another; 0 (a free port) always does. */
async function checkPorts(ports: ReadonlyArray<{ port: number; flag: string; what: string }>): Promise<void> {
  const fixed = ports.filter((p) => p.port !== 0);
  if (fixed.length === 2 && fixed[0].port === fixed[1].port) {
    throw new UsageError(`${fixed[0].flag} and ${fixed[1].flag} are both ${fixed[0].port}`, { hint: "give them different ports, or 0 for a free one" });
  }
  for (const { port, flag, what } of fixed) {
    const taken = await portTaken(port);
    if (taken) {
      throw new VigilError(`port ${port} (${what}) is ${taken === "EADDRINUSE" ? "taken by another program" : `not available (${taken})`}`, {
        hint: `stop that program, or choose another port with ${flag} N (${flag} 0 picks a free one)`,
      });
    }
  }
}

/** The error code listening on 127.0.0.1:`port` fails with, or undefined when the port is free. */
function portTaken(port: number): Promise<string | undefined> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) => (error.code ? done(error.code) : fail(error)));
    server.listen(port, "127.0.0.1", () => server.close(() => done(undefined)));
  });
}

/** Creates the demo folder, or empties the demo's own files from a previous start. */
function prepare(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, MARKER))) {
    throw new UsageError(`${dir} is not empty and was not made by vigil demo`, { hint: "pass --dir with a new or empty folder" });
  }
  mkdirSync(dir, { recursive: true });
  writeAtomically(join(dir, MARKER), "made by `vigil demo`; it empties this folder's database and site on each start\n");
  for (const name of ["vigil.db", "vigil.db-wal", "vigil.db-shm", "vigil.db.lock", "site", "public"]) {
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function checkStopped(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new VigilError("stopped");
}

function hugoInstalled(): boolean {
  return !spawnSync("hugo", ["version"], { stdio: "ignore" }).error;
}

/** `hugo server` on loopback, resolved once it answers (it builds the site before serving). */
async function startHugo(site: string, port: number, log: Logger, signal: AbortSignal): Promise<{ url: string; stop(): Promise<void> }> {
  const url = `http://127.0.0.1:${port}/`;
  const server = await startServer({
    name: "hugo",
    command: "hugo",
    args: ["server", "--source", site, "--bind", "127.0.0.1", "--port", String(port), "--baseURL", url, "--appendPort=false", "--disableLiveReload", "--watch=false"],
    env: childEnv(process.env),
    readyUrl: url,
    timeoutMs: 60_000,
    pollMs: 150,
    log,
    stage: "hugo",
    signal,
    error: (message) => new VigilError(`could not build or serve the demo site: ${message}`, { hint: "run with --debug to see Hugo's output" }),
  });
  return { url, stop: server.stop };
}
