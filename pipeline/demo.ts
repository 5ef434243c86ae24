/**
 * `vigil demo`: the whole flow offline. Starts the bundled fixture portal (generated, realistic
 * data), ingests it into a database of its own, writes the widgets into a copy of the fixture Hugo
 * site, serves that site with Hugo (when installed) and the database with datasette, and prints
 * the URLs. Everything lives under one folder (data/demo), so the committed fixture and a real
 * database are never touched. Ctrl-C stops everything it started.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "./command.ts";
import { UsageError, VigilError } from "./errors.ts";
import { ingest } from "./ingest.ts";
import { elapsed, type Logger } from "./log.ts";
import { freePort, lastError, parsePort, startDatasette, tail, type DatasetteServer } from "./serve.ts";

const FIXTURE_SITE = fileURLToPath(new URL("../fixtures/hugo-site", import.meta.url));
/** Marks a folder as the demo's own, so that starting afresh never deletes anything else. */
const MARKER = ".vigil-demo";
const DATASET = "3trz-enys";

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

export const command: Command = {
  help: `
Runs the whole flow offline, against the fixture portal bundled with vigil (about 15,000 generated
cases shaped like the Medical Examiner's COVID-19 view): ingest into DIR/vigil.db, widgets into
DIR/site (a fresh copy of fixtures/hugo-site, so the repository stays clean), the site served
by \`hugo server\` when Hugo is installed, and the database by datasette. Prints the URLs to open;
Ctrl-C stops everything. Each start begins afresh in DIR; --db and VIGIL_DB are not used.

Examples:
  vigil demo
  vigil demo --port 8002 --site-port 1314`,
  options: {
    dir: { type: "string", arg: "DIR", description: "folder for the demo's database and site (default data/demo)" },
    port: { type: "string", arg: "N", description: "datasette's port; 0 picks a free one (default 8001)" },
    "site-port": { type: "string", arg: "N", description: "the Hugo site's port; 0 picks a free one (default 1313)" },
  },
  async run(ctx) {
    const { log, signal } = ctx;
    const dir = resolve(typeof ctx.values.dir === "string" ? ctx.values.dir : "data/demo");
    const port = parsePort(ctx.values.port);
    const sitePort = ctx.values["site-port"] === undefined ? 1313 : parsePort(ctx.values["site-port"]);
    const db = join(dir, "vigil.db");
    const site = join(dir, "site");
    prepare(dir);

    const started: Stoppable[] = [];
    const stopAll = async () => {
      for (const part of started.reverse()) await part.stop().catch((error: Error) => log.warn("demo", `stopping ${part.name}: ${error.message}`));
    };
    try {
      // The fixture portal lives in fixtures/, which only a checkout has: import it on demand.
      const { startPortal } = await import("../fixtures/portal.ts");
      const portal = await startPortal();
      started.push({ name: "the fixture portal", stop: () => portal.close() });
      log.info("demo", `fixture portal at ${portal.url}`, { url: portal.url });

      const result = await ingest({ config: { db, portal: portal.url, dataset: DATASET }, log, now: ctx.now, signal });
      checkStopped(signal);

      let stage = performance.now();
      cpSync(FIXTURE_SITE, site, { recursive: true });
      const { writeWidgets } = await import("../site-widgets/emit.ts");
      const widgets = await writeWidgets({ db, site, now: ctx.now, log });
      log.info("demo", `site copied to ${site} with ${widgets.written.length} widget files`, { site, ms: elapsed(stage) });
      checkStopped(signal);

      stage = performance.now();
      let siteUrl: string | null = null;
      if (hugoInstalled()) {
        const hugo = await startHugo(site, sitePort === 0 ? await freePort() : sitePort, log, signal);
        started.push({ name: "hugo", stop: hugo.stop });
        siteUrl = hugo.url;
        log.info("demo", `hugo serving ${site} at ${hugo.url}`, { ms: elapsed(stage) });
      } else {
        log.warn("demo", "Hugo is not installed: the site was written but not built", { site });
      }

      const datasette: DatasetteServer = await startDatasette({ db, port, host: "127.0.0.1", log, signal });
      started.push({ name: "datasette", stop: datasette.stop });

      ctx.stdout.write(
        [
          `vigil demo: ${result.counts.inserted.toLocaleString("en-US")} cases loaded from the fixture portal (run ${result.runId}).`,
          `  datasette  ${datasette.databaseUrl}`,
          siteUrl
            ? `  site       ${siteUrl}`
            : `  site       not built: install Hugo (Debian/Ubuntu: sudo apt-get install hugo; macOS: brew install hugo), then run vigil demo again; the files are in ${site}`,
          `  portal     ${portal.url}  (the fixture; try: npx vigil run --portal ${portal.url} --db ${db} --site ${site})`,
          "Press Ctrl-C to stop.",
          "",
        ].join("\n"),
      );

      const aborted = new Promise<void>((done) => {
        if (signal.aborted) done();
        signal.addEventListener("abort", () => done(), { once: true });
      });
      const ended = await Promise.race([aborted.then(() => null), datasette.exited]);
      // Ctrl-C in a terminal reaches datasette too (same process group): its own clean exit is a stop.
      if (ended && !signal.aborted && ended.code !== 0 && ended.signal !== "SIGINT" && ended.signal !== "SIGTERM") {
        throw new VigilError(`datasette stopped unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
      }
      log.info("demo", "stopping");
      return 0;
    } finally {
      await stopAll();
    }
  },
};

/** Creates the demo folder, or empties the demo's own files from a previous start. */
function prepare(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, MARKER))) {
    throw new UsageError(`${dir} is not empty and was not made by vigil demo`, { hint: "pass --dir with a new or empty folder" });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), "made by `vigil demo`; it empties this folder's database and site on each start\n");
  for (const name of ["vigil.db", "vigil.db-wal", "vigil.db-shm", "vigil.db.lock", "site"]) {
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
  const child = spawn(
    "hugo",
    ["server", "--source", site, "--bind", "127.0.0.1", "--port", String(port), "--baseURL", url, "--appendPort=false", "--disableLiveReload", "--watch=false"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = tail(child, log, "hugo");
  const exited = new Promise<void>((done) => child.on("close", () => done()));
  const stop = () => stopChild(child, exited);
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (signal.aborted || child.exitCode !== null) break;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return { url, stop };
    } catch {
      // Still building.
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  await stop();
  checkStopped(signal);
  throw new VigilError(`hugo could not build or serve the demo site: ${lastError(output)}`, { hint: "run with --debug to see Hugo's output" });
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
