/**
 * `npm run bench:serve`: how many readers each way of serving the record holds, on the same data
 * (the generated ~15,200-case view). autocannon, 10 s at 50 connections on loopback, for the
 * memorial JSON, the daily_deaths JSON and the covid_deaths table page, against:
 *   1. the private database, live (`vigil serve`);
 *   2. the public snapshot (`vigil serve --public`);
 *   3. the public snapshot behind the nginx cache (deploy/nginx);
 *   4. two replicas (`vigil serve --public --from`) behind nginx.
 * Then, under load: a publish that restarts the public server behind nginx, and a replica that
 * switches to a new snapshot; both must answer every request. Writes bench/serve-results.md.
 *
 * A benchmark, not a test: it reports, it never fails on timing. Options:
 *   --seconds 10   per measurement    --connections 50
 * Needs Debian's nginx for setups 3 and 4 (skipped, and said so, without it).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { generateCovidView } from "../fixtures/generate.ts";
import { startNginx, type Nginx } from "../fixtures/nginx.ts";
import { startPortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { startDatasette } from "../pipeline/ops/datasette.ts";
import { publish } from "../pipeline/publish/publish.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out", "serve");
const RESULTS = join(ROOT, "bench", "serve-results.md");
const VIGIL = join(ROOT, "bin", "vigil.js");
const DAY = "2020-12-01";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, connections: { type: "string", default: "50" } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);

interface Result {
  setup: string;
  target: string;
  rps: number;
  p50: number;
  p99: number;
  /** Connection errors, timeouts and 4xx/5xx answers (a redirect is an answer). */
  errors: number;
}

const failed = (run: autocannon.Result) => run.errors + run.timeouts + run["4xx"] + run["5xx"];

const TARGETS: Array<[name: string, path: (db: string) => string]> = [
  ["memorial JSON", (db) => `/${db}/memorial.json?date=${DAY}&_shape=array`],
  ["daily_deaths JSON", (db) => `/${db}/daily_deaths.json?_shape=array`],
  ["covid_deaths page", (db) => `/${db}/covid_deaths`],
];

const children: ChildProcess[] = [];
const stops: Array<() => Promise<unknown>> = [];

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const db = join(OUT, "vigil.db");
  const out = join(OUT, "public");
  const log = memoryLogger();
  const portal = await startPortal({ datasets: { "3trz-enys": generateCovidView({ seed: 1 }) } });
  stops.push(() => portal.close());
  await ingest({ config: { db, portal: portal.url, dataset: "3trz-enys" }, log, now: () => new Date("2026-11-26T12:00:00Z") });
  const first = await publish({ db, out, now: () => new Date("2026-11-26T12:05:00Z"), log });
  const hash = first.manifest.sha256.slice(0, 7);
  const results: Result[] = [];
  const notes: string[] = [];

  // 1. the private database, live
  const live = await startDatasette({ db, port: 0 });
  stops.push(() => live.stop());
  results.push(...(await measure("private, live (`vigil serve`)", live.url, "vigil")));
  await live.stop();

  // 2. the public snapshot
  const publicServer = await serveCli(["serve", "--public", "--out", out, "--db", db, "--port", "0"]);
  results.push(...(await measure("public snapshot (`vigil serve --public`)", publicServer.url, `vigil-${hash}`)));

  const nginxFound = spawnSync("nginx", ["-v"], { stdio: "ignore" }).error === undefined || existsSync("/usr/sbin/nginx");
  if (!nginxFound) {
    notes.push("nginx is not installed: the cached setups were skipped (Debian: apt-get install nginx).");
  } else {
    // 3. behind the nginx cache
    const cached = await startNginx({ dir: join(OUT, "nginx-1"), upstreams: [publicServer.address] });
    stops.push(() => cached.stop());
    results.push(...(await measure("public snapshot behind the nginx cache", cached.url, `vigil-${hash}`)));

    // a publish under load: the public server restarts on the new snapshot; nginx serves stale meanwhile
    const corrected = await underLoad(cached, `/vigil-${hash}/covid_deaths`, async () => {
      portal.setRows("3trz-enys", generateCovidView({ seed: 1 }).slice(0, 15_000));
      await ingest({ config: { db, portal: portal.url, dataset: "3trz-enys" }, log, now: () => new Date("2026-11-27T12:00:00Z") });
      await publish({ db, out, now: () => new Date("2026-11-27T12:05:00Z"), log });
      await sleep(15_000); // the public server looks every 10 s, then switches
    });
    notes.push(`A publish under load behind nginx (the public server switching snapshots): ${corrected.requests} requests, ${corrected.failed} failed.`);
    await cached.stop();

    // 4. two replicas behind nginx, fed by a static host of the publish folder
    const host = await staticHost(out);
    stops.push(() => new Promise((done) => host.close(done)));
    const manifestUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/latest.json`;
    const replicas = await Promise.all([0, 1].map(() => serveCli(["serve", "--public", "--from", manifestUrl, "--poll", "2s", "--port", "0"])));
    const pair = await startNginx({ dir: join(OUT, "nginx-2"), upstreams: replicas.map((r) => r.address) });
    stops.push(() => pair.stop());
    const latest = (await (await fetch(manifestUrl)).json()) as { sha256: string };
    results.push(...(await measure("two replicas behind nginx", pair.url, `vigil-${latest.sha256.slice(0, 7)}`)));

    // a replica switching under load, straight (no cache in between)
    const switching = await underLoad({ url: replicas[0].url }, "/vigil/daily_deaths.json?_shape=array", async () => {
      portal.setRows("3trz-enys", generateCovidView({ seed: 1 }));
      await ingest({ config: { db, portal: portal.url, dataset: "3trz-enys" }, log, now: () => new Date("2026-11-28T12:00:00Z") });
      await publish({ db, out, now: () => new Date("2026-11-28T12:05:00Z"), log });
      await sleep(6_000);
    });
    notes.push(`A replica switching to a new snapshot under load: ${switching.requests} requests, ${switching.failed} failed.`);
  }

  writeReport(results, notes);
}

/** `vigil serve ...` as a child; resolves with its URL once it prints it. */
async function serveCli(args: string[]): Promise<{ url: string; address: string }> {
  const child = spawn(process.execPath, [VIGIL, ...args, "--log-format", "json"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk));
  const url = await new Promise<string>((found, fail) => {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+)\/vigil /.exec(text);
      if (match) found(match[1]);
    });
    child.on("exit", (code) => fail(new Error(`vigil ${args.join(" ")} exited ${code}: ${err}`)));
  });
  return { url, address: new URL(url).host };
}

function staticHost(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/+/, "");
    const path = join(root, name);
    if (name.includes("/") || !existsSync(path)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": name.endsWith(".json") ? "application/json" : "application/octet-stream" });
    createReadStream(path).pipe(res);
  });
  return new Promise((ready) => server.listen(0, "127.0.0.1", () => ready(server)));
}

async function measure(setup: string, base: string, database: string): Promise<Result[]> {
  const results: Result[] = [];
  for (const [target, path] of TARGETS) {
    const url = `${base}${path(database)}`;
    const check = await fetch(url);
    await check.arrayBuffer();
    if (check.status !== 200) throw new Error(`${setup}: ${url} answered ${check.status}`);
    const run = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
    results.push({
      setup,
      target,
      rps: run.requests.average,
      p50: run.latency.p50,
      p99: run.latency.p99,
      errors: failed(run),
    });
    process.stderr.write(`${setup} / ${target}: ${run.requests.average.toFixed(1)} req/s, p99 ${run.latency.p99} ms, ${failed(run)} failed\n`);
  }
  return results;
}

/** Load on `path` while `during` runs: how many requests, errors and non-2xx answers. */
async function underLoad(server: Pick<Nginx, "url">, path: string, during: () => Promise<void>) {
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((done, fail) => {
    instance = autocannon({ url: `${server.url}${path}`, connections: 20, duration: 600 }, (error, result) => (error ? fail(error) : done(result)));
  });
  await during();
  instance?.stop();
  const run = await finished;
  return { requests: run.requests.total, failed: failed(run) };
}

function writeReport(results: Result[], notes: string[]): void {
  const live = new Map(results.filter((r) => r.setup.startsWith("private")).map((r) => [r.target, r.rps]));
  const rows = results.map((r) => {
    const base = live.get(r.target) ?? 0;
    const ratio = r.setup.startsWith("private") ? "1x" : base > 0 ? `${(r.rps / base).toFixed(1)}x` : "(live: none answered)";
    return `| ${r.setup} | ${r.target} | ${r.rps.toFixed(1)} | ${ratio} | ${r.p50} | ${r.p99} | ${r.errors} |`;
  });
  const report = `# Serving benchmark

\`npm run bench:serve\` on ${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version};
autocannon, ${SECONDS} s at ${CONNECTIONS} connections per row, loopback; the generated ~15,200-case view.
"vs live" is requests/s against the private live server's for the same answer.

| setup | answer | requests/s | vs live | p50 ms | p99 ms | errors |
|---|---|---:|---:|---:|---:|---:|
${rows.join("\n")}

${notes.map((n) => `- ${n}`).join("\n")}
`;
  writeFileSync(`${RESULTS}.tmp`, report);
  renameSync(`${RESULTS}.tmp`, RESULTS);
  process.stdout.write(report);
}

try {
  await main();
} finally {
  for (const child of children) child.kill("SIGTERM");
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
