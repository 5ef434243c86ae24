/**
 * The public server runs for months: a replica polling its manifest hundreds of times on a short
 * interval and switching snapshots a dozen times gathers no listeners on the process's signal,
 * prints no warning, keeps its heap flat and answers every request during the switches. The server
 * runs in this process, through the function `vigil serve --public --from URL` calls, so the
 * signal it is given can be inspected.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createReadStream, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import Database from "better-sqlite3";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import type { Logger } from "../pipeline/log.ts";
import { servePublic } from "../pipeline/ops/public-server.ts";
import { publish, type PublishResult } from "../pipeline/publish/publish.ts";
import { ensureDatasette } from "./datasette-helpers.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT } from "./helpers.ts";

const DATASET = "3trz-enys";
/** Snapshot switches (each starts a datasette), and the polls of an unchanged manifest after each. */
const SWITCHES = 12;
const POLLS_BETWEEN = 40;
const POLL_MS = 5;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let dir: string;
let portal: FixturePortal;
let host: Server;
let hostUrl: string;
/** Three published snapshots, served in turn as latest.json. */
const snapshots: PublishResult[] = [];
let latest = 0;
let manifestRequests = 0;

/** The publisher's static host: the snapshots by name, and latest.json naming whichever is `latest`. */
function startHost(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    if (name === "latest.json") {
      manifestRequests++;
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(snapshots[latest].manifest));
    }
    const path = join(root, name);
    if (name.includes("/") || !existsSync(path)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/octet-stream" });
    createReadStream(path).pipe(res);
  });
  return new Promise((ready) => server.listen(0, "127.0.0.1", () => ready(server)));
}

/** What the snapshot itself says the daily series is. */
function dailyOf(result: PublishResult): string {
  const db = new Database(result.path, { readonly: true });
  try {
    return JSON.stringify(db.prepare("SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths ORDER BY date").all());
  } finally {
    db.close();
  }
}

/**
 * A logger that keeps only what the test looks at, so the heap measured is the server's, not the
 * log's. A problem is an error, or a newer snapshot refused; other warnings (a request tried again,
 * or a download cut short, on a busy machine) are the server coping, kept for the report.
 */
function soakLogger(): Logger & { problems: string[]; notes: string[]; started: () => number } {
  const [problems, notes] = [[] as string[], [] as string[]];
  let started = 0;
  const note = (level: string) => (stage: string, msg: string) => {
    if (stage === "serve" && msg.startsWith("datasette serving")) started++;
    if (level !== "warn" && level !== "error") return;
    // a download the busy machine cut short is tried again at the next poll (the readers must still
    // see every snapshot); a snapshot refused, or a datasette that would not start, is a problem
    const kept = level === "error" || /refused|could not serve/.test(msg) ? problems : notes;
    if (kept.length < 20) kept.push(`${level} ${stage}: ${msg}`);
  };
  return { problems, notes, started: () => started, debug() {}, info: note("info"), warn: note("warn"), error: note("error") };
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

before(async () => {
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-soak-test-"));
  const privateDb = join(dir, "private", "vigil.db");
  const published = join(dir, "public");
  const rows = generateCovidView({ seed: 23, count: 200 });
  portal = await startPortal({ datasets: { [DATASET]: rows } });
  for (const [i, at] of ["2026-11-24T12:00:00Z", "2026-11-25T12:00:00Z", "2026-11-26T12:00:00Z"].entries()) {
    const more = generateCovidView({ seed: 30 + i, count: 20 * i }).map((row, n) => ({ ...row, casenumber: `ME2024-${i}${String(n).padStart(4, "0")}` }));
    portal.setRows(DATASET, [...rows, ...more]);
    await ingest({ config: { db: privateDb, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(at), http: FAST_HTTP });
    snapshots.push(await publish({ db: privateDb, out: published, now: fixedClock(at), log: memoryLogger() }));
  }
  assert.equal(new Set(snapshots.map((s) => s.manifest.sha256)).size, 3, "three different snapshots");
  host = await startHost(published);
  hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((done) => host?.close(done));
  await portal?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the process warns of and prints on stderr until `restore`. */
function captureWarnings(): { warnings: string[]; stderr: () => string; restore: () => void } {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on("warning", onWarning);
  const write = process.stderr.write;
  let stderr = "";
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr += String(chunk);
    return (write as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
  }) as typeof process.stderr.write;
  return {
    warnings,
    stderr: () => stderr,
    restore() {
      process.off("warning", onWarning);
      process.stderr.write = write;
    },
  };
}

/**
 * Readers asking the door all along: each request new (past the door's memory), so every one
 * reaches a datasette, switches included. `seen` holds the daily series they were given.
 */
function startReaders(url: string, count: number) {
  const state = { answered: 0, failures: [] as string[], seen: new Set<string>(), loading: true };
  const read = async (reader: number) => {
    for (let n = 0; state.loading; n++) {
      try {
        const response = await fetch(`${url}/daily_deaths.json?_shape=array&_reader=${reader}-${n}`);
        const body = await response.text();
        state.answered++;
        if (response.status !== 200) state.failures.push(`status ${response.status}: ${body.slice(0, 200)}`);
        else state.seen.add(JSON.stringify(JSON.parse(body)));
      } catch (error) {
        state.failures.push((error as Error).message);
      }
    }
  };
  const readers = Array.from({ length: count }, (_, reader) => read(reader));
  return Object.assign(state, {
    async stop() {
      state.loading = false;
      await Promise.allSettled(readers);
    },
  });
}

test("a replica polling hundreds of times and switching a dozen keeps its listeners and heap flat, warns of nothing and answers every request", async () => {
  const captured = captureWarnings();
  const controller = new AbortController();
  const { signal } = controller;
  const log = soakLogger();
  let stdout = "";
  const serving = servePublic({
    db: join(dir, "replica", "none.db"),
    host: "127.0.0.1",
    port: 0,
    cors: false,
    log,
    signal,
    stdout: new Writable({ write: (chunk, _encoding, done) => void ((stdout += chunk), done()) }),
    pollMs: POLL_MS,
    now: fixedClock(),
    from: `${hostUrl}/latest.json`,
  });
  let readers: ReturnType<typeof startReaders> | undefined;
  try {
    await until("the replica to serve", () => /at (http:\S+) /.test(stdout) || log.problems.some((p) => p.startsWith("error")));
    const url = /at (http:\S+) /.exec(stdout)?.[1];
    assert.ok(url, `serving: ${log.problems.join("; ")}`);
    readers = startReaders(url, 3);
    const listeners: number[] = [];
    const heap: number[] = [];
    const started = performance.now();
    for (let round = 0; round <= SWITCHES; round++) {
      const polled = manifestRequests;
      await until(`${POLLS_BETWEEN} polls in round ${round}`, () => manifestRequests >= polled + POLLS_BETWEEN);
      listeners.push(getEventListeners(signal, "abort").length);
      gc();
      heap.push(process.memoryUsage().heapUsed);
      if (round === SWITCHES) break;
      latest = (latest + 1) % snapshots.length;
      const starts = log.started();
      await until(`the switch to ${snapshots[latest].manifest.file}`, () => log.started() > starts);
      // the next poll comes only once the old datasette has drained and stopped
      const switching = manifestRequests;
      await until("the poll after the switch", () => manifestRequests > switching + 1);
      const expected = dailyOf(snapshots[latest]);
      await until(`readers to see ${snapshots[latest].manifest.file}`, () => readers?.seen.has(expected) === true, 10_000);
    }
    const seconds = Math.round((performance.now() - started) / 1000);
    await readers.stop();
    controller.abort();
    assert.equal(await serving, 0, "stops cleanly when asked");

    const { answered, failures } = readers;
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
    const report = `${manifestRequests} polls, ${log.started()} datasette starts, ${answered} requests in ${seconds} s; abort listeners at each checkpoint ${listeners.join(" ")}; heap MB ${heap.map(mb).join(" ")}; warnings ${log.notes.join("; ") || "none"}`;
    console.log(report);
    assert.ok(manifestRequests >= (SWITCHES + 1) * POLLS_BETWEEN, report);
    assert.equal(log.started(), SWITCHES + 1, `one datasette for the first snapshot and one per switch: ${report}`);
    // in between polls the signal carries the wait for the next one and, at most, the manifest request under way
    assert.ok(Math.max(...listeners) <= 2, `listeners on the process's signal stay flat: ${report}`);
    assert.equal(getEventListeners(signal, "abort").length, 0, "none left once stopped");
    // lenient: a leak of a poll's worth per poll, not the noise of a collection
    const settled = heap.slice(2);
    assert.ok(Math.max(...settled) - Math.min(...settled) < 8 * 2 ** 20, `the heap stays flat: ${report}`);
    assert.ok(answered > SWITCHES * 10, report);
    assert.deepEqual(failures, [], `${failures.length} of ${answered} requests failed`);
    assert.deepEqual(log.problems, [], `nothing refused or failed: ${report}`);
    assert.deepEqual(captured.warnings, [], "no process warning");
    assert.doesNotMatch(captured.stderr(), /Warning/, "nothing printed about it either");
  } finally {
    await readers?.stop();
    controller.abort();
    await serving.catch(() => undefined);
    captured.restore();
  }
});
