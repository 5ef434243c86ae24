/**
 * Replica mode: `vigil serve --public --from URL` serves the public record from a published
 * latest.json on another host, with no database of its own. It switches to a new snapshot under
 * load without a failed request, and refuses a snapshot that does not match its manifest, keeping
 * what it served.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { publish, type PublishResult } from "../pipeline/publish/publish.ts";
import { ensureDatasette } from "./datasette-helpers.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT, VIGIL_BIN } from "./helpers.ts";

const DATASET = "3trz-enys";
const rows = generateCovidView({ seed: 17, count: 300 });

let dir: string;
let privateDb: string;
let published: string;
let portal: FixturePortal;
let host: Server;
let hostUrl: string;
let replica: ChildProcess;
let replicaUrl: string;
let stderr = "";

/** The static host the blog would be: the publish folder over HTTP. */
function startStaticHost(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    const path = join(root, name);
    if (name.includes("/") || !existsSync(path)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": name.endsWith(".json") ? "application/json" : "application/octet-stream" });
    createReadStream(path).pipe(res);
  });
  return new Promise((ready) => server.listen(0, "127.0.0.1", () => ready(server)));
}

const night = async (at: string, data: typeof rows): Promise<PublishResult> => {
  portal.setRows(DATASET, data);
  await ingest({ config: { db: privateDb, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(at), http: FAST_HTTP });
  return publish({ db: privateDb, out: published, now: fixedClock(at), log: memoryLogger() });
};

/** What the snapshot itself says the daily series is. */
function dailyOf(result: PublishResult): unknown[] {
  const db = new Database(result.path, { readonly: true });
  try {
    return db.prepare("SELECT date, deaths, deaths_7day_avg, cumulative_deaths FROM daily_deaths ORDER BY date").all();
  } finally {
    db.close();
  }
}

const daily = async () => {
  const response = await fetch(`${replicaUrl}/daily_deaths.json?_shape=array`);
  return { status: response.status, body: (await response.json()) as unknown[] };
};

let first: PublishResult;

before(async () => {
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-replica-test-"));
  privateDb = join(dir, "private", "vigil.db");
  published = join(dir, "public");
  portal = await startPortal({ datasets: { [DATASET]: rows } });
  first = await night("2026-11-25T12:00:00Z", rows);
  host = await startStaticHost(published);
  hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  const noDatabase = join(dir, "replica", "none.db");
  replica = spawn(process.execPath, [VIGIL_BIN, "serve", "--public", "--from", `${hostUrl}/latest.json`, "--poll", "250ms", "--port", "0", "--db", noDatabase], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  replica.stderr?.on("data", (chunk: Buffer) => (stderr += chunk));
  replicaUrl = await new Promise<string>((found, fail) => {
    let out = "";
    replica.stdout?.on("data", (chunk: Buffer) => {
      out += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/vigil) /.exec(out);
      if (match) found(match[1]);
    });
    replica.on("exit", (code) => fail(new Error(`the replica exited ${code}: ${stderr}`)));
  });
});

after(async () => {
  if (replica && replica.exitCode === null) {
    const exited = new Promise((done) => replica.once("exit", done));
    replica.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000, undefined, { ref: false }).then(() => replica.kill("SIGKILL"))]);
  }
  await new Promise((done) => host?.close(done));
  await portal?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a replica serves the published snapshot, with no database of its own", async () => {
  const answer = await daily();
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body, dailyOf(first));
  assert.ok(!existsSync(join(dir, "replica")), "no database, no folder of its own beside --db");
  const download = await fetch(`${replicaUrl}.db`);
  assert.equal(Buffer.from(await download.arrayBuffer()).equals(readFileSync(first.path)), true, "the download is the published file");
});

test("a new snapshot is picked up under load with no failed request", async () => {
  let loading = true;
  const failures: string[] = [];
  const seen = new Set<string>();
  let answered = 0;
  const load = async () => {
    while (loading) {
      try {
        const answer = await daily();
        answered++;
        if (answer.status !== 200) failures.push(`status ${answer.status}`);
        else seen.add(JSON.stringify(answer.body));
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const loaders = Array.from({ length: 4 }, load);
  await sleep(300);
  // the county adds deaths: a new snapshot
  const second = await night("2026-11-26T12:00:00Z", [...rows, ...generateCovidView({ seed: 18, count: 40 }).map((row, i) => ({ ...row, casenumber: `ME2024-${String(i).padStart(5, "0")}` }))]);
  assert.notEqual(second.manifest.sha256, first.manifest.sha256);
  const expected = JSON.stringify(dailyOf(second));
  const deadline = Date.now() + 30_000;
  while (!seen.has(expected) && Date.now() < deadline) await sleep(100);
  await sleep(300);
  loading = false;
  await Promise.all(loaders);
  assert.ok(seen.has(expected), `switched to the new snapshot; log:\n${stderr.slice(-2000)}`);
  assert.ok(seen.has(JSON.stringify(dailyOf(first))), "and served the old one until then");
  assert.deepEqual(failures, [], `${failures.length} of ${answered} requests failed`);
  assert.match(stderr, /switching to the snapshot vigil-[0-9a-f]{12}\.db/);
});

test("a snapshot that does not match its manifest is refused, and the replica keeps what it served", async () => {
  const before = (await daily()).body;
  const third = await night("2026-11-27T12:00:00Z", rows.slice(0, 250));
  // damaged on the way: same name and size, other bytes
  const bytes = readFileSync(third.path);
  bytes[bytes.length - 100] ^= 0xff;
  writeFileSync(third.path, bytes);
  const deadline = Date.now() + 20_000;
  while (!/refused/.test(stderr) && Date.now() < deadline) await sleep(100);
  assert.match(stderr, new RegExp(`${third.manifest.file} from .* has SHA-256 [0-9a-f]{64} .* but its manifest says ${third.manifest.sha256} .*refused; still serving vigil-`));
  await sleep(600);
  assert.deepEqual((await daily()).body, before, "still the snapshot it had");
  assert.equal(replica.exitCode, null, "and still up");
});
