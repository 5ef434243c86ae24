/**
 * deploy/nginx/ for real: Debian's nginx runs the shipped files (rendered for loopback and a temporary
 * folder, never rewritten by hand) in front of datasette serving a published snapshot. Between the two
 * sits a counting proxy, so the test knows what reached datasette: a burst for one page reaches it once,
 * cached pages and JSON outlive datasette, and the blog's files go out with the blog's headers.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import { generateCovidView } from "../fixtures/generate.ts";
import { minimalConf, NGINX, renderShipped, tempPaths } from "../fixtures/nginx.ts";
import { startPortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { freePort } from "../pipeline/ops/children.ts";
import { startDatasette, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import { publish, type PublishResult } from "../pipeline/publish/publish.ts";
import { ensureDatasette } from "./datasette-helpers.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT } from "./helpers.ts";

const SHIPPED = join(ROOT, "deploy", "nginx");
const DEBIAN_CONF = "/etc/nginx/nginx.conf";
const BLOG = "example.org";
const DATA = "data.example.org";
const DATASET = "3trz-enys";
/** Answers whose lifetime the counting proxy cuts to a second, so that they expire during the test. */
const SHORT_LIVED = ["/-/versions.json", "/-/plugins.json"] as const;

const skip = !existsSync(NGINX) && `${NGINX} is missing and could not be installed (test/setup.sh installs Debian's nginx when run as root)`;

let dir: string;
let snapshot: PublishResult;
let datasette: DatasetteServer | undefined;
let datasettePort: number;
let counter: Server | undefined;
let nginx: ChildProcess | undefined;
let nginxExited: Promise<void> | undefined;
let nginxLog = "";
let port: number;
/** Requests that reached the counting proxy, by path and query. */
const seen = new Map<string, number>();

/** Debian's own nginx.conf with its includes pointing at the rendered files, and its logs and pid in the test folder. */
function debianConf(): string {
  const replacements: Array<[string, string]> = [
    ["include /etc/nginx/conf.d/*.conf;", `include ${join(dir, "conf.d")}/*.conf;`],
    ["include /etc/nginx/sites-enabled/*;", `include ${join(dir, "sites-enabled")}/*;`],
    ["pid /run/nginx.pid;", `pid ${join(dir, "debian.pid")};`],
    ["error_log /var/log/nginx/error.log;", `error_log ${join(dir, "debian-error.log")};`],
    ["access_log /var/log/nginx/access.log;", `access_log ${join(dir, "debian-access.log")};`],
    ["http {", `http {\n  ${tempPaths(dir)}`],
  ];
  let text = readFileSync(DEBIAN_CONF, "utf8");
  for (const [from, to] of replacements) {
    assert.ok(text.includes(from), `${DEBIAN_CONF} has "${from}"`);
    text = text.replace(from, to);
  }
  return text;
}

function nginxTest(conf: string) {
  const result = spawnSync(NGINX, ["-t", "-p", dir + "/", "-c", conf], { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request to nginx on its own connection, with the Host header of one of its server blocks. */
function get(host: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: options.method ?? "GET", agent: false, headers: { host, ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

/** GET a datasette URL through nginx, following one redirect as browsers do; both answers are returned. */
async function follow(path: string): Promise<{ redirect: Answer; page: Answer; target: string }> {
  const redirect = await get(DATA, path);
  assert.equal(redirect.status, 302, `${path} redirects to its hashed URL`);
  const location = new URL(String(redirect.headers.location), `http://${DATA}`);
  const target = location.pathname + location.search;
  return { redirect, page: await get(DATA, target), target };
}

/** Stands between nginx and datasette: counts each request, answers 502 when datasette is gone. */
function startCounter(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url ?? "/";
    seen.set(url, (seen.get(url) ?? 0) + 1);
    const upstream = request({ host: "127.0.0.1", port: datasettePort, path: url, method: req.method, headers: req.headers, agent: false }, (answer) => {
      const headers = { ...answer.headers };
      for (const hop of ["connection", "keep-alive", "transfer-encoding"]) delete headers[hop];
      if ((SHORT_LIVED as readonly string[]).includes(url)) headers["cache-control"] = "public, max-age=1";
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("datasette is not answering\n");
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Starts nginx in the foreground (daemon off) once, in its own process group, and waits for it to answer. */
async function ensureNginx(): Promise<void> {
  if (nginx) return;
  const child = spawn(NGINX, ["-p", dir + "/", "-c", join(dir, "nginx.conf")], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  nginx = child;
  child.stdout!.on("data", (chunk) => (nginxLog += chunk));
  child.stderr!.on("data", (chunk) => (nginxLog += chunk));
  nginxExited = new Promise((done) => child.on("exit", () => done()));
  const deadline = Date.now() + 5_000;
  for (;;) {
    if (child.exitCode !== null) assert.fail(`nginx exited with ${child.exitCode}: ${nginxLog}${readLog("error.log")}`);
    try {
      await get(BLOG, "/");
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`nginx did not answer within 5 s: ${nginxLog}${readLog("error.log")}`, { cause: error });
      await sleep(50);
    }
  }
}

const readLog = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), "utf8") : "");

/** SIGTERM to the master (fast shutdown: it stops its workers), SIGKILL to its whole group if it lingers. */
async function stopNginx(): Promise<void> {
  if (!nginx?.pid || nginx.exitCode !== null || nginx.signalCode !== null) return;
  const pid = nginx.pid;
  nginx.kill("SIGTERM");
  const stopped = await Promise.race([nginxExited!.then(() => true), sleep(3_000, undefined, { ref: false }).then(() => false)]);
  if (!stopped) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
    await nginxExited;
  }
}

before(async () => {
  if (skip) return;
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-nginx-"));
  // nginx's workers run as nobody when the test runs as root: they must reach the site and the cache.
  chmodSync(dir, 0o755);
  for (const sub of ["conf.d", "sites-enabled", "tmp", "site"]) mkdirSync(join(dir, sub));

  const db = join(dir, "private", "vigil.db");
  mkdirSync(dirname(db));
  const portal = await startPortal({ datasets: { [DATASET]: generateCovidView({ seed: 11, count: 120 }) } });
  try {
    await ingest({ config: { db, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock("2026-11-25T12:00:00Z"), http: FAST_HTTP });
  } finally {
    await portal.close();
  }
  snapshot = await publish({ db, out: join(dir, "public"), now: fixedClock("2026-11-25T12:05:00Z"), log: memoryLogger() });
  datasette = await startDatasette({ db, snapshot: { path: snapshot.path, manifest: snapshot.manifest }, port: 0 });
  datasettePort = datasette.port;
  counter = await startCounter();

  port = await freePort("127.0.0.1");
  const counterPort = (counter.address() as AddressInfo).port;
  writeFileSync(join(dir, "conf.d", "vigil-cache.conf"), renderShipped("vigil-cache.conf", [["/var/cache/nginx/vigil", join(dir, "cache")]]));
  writeFileSync(
    join(dir, "sites-enabled", "vigil.conf"),
    renderShipped("vigil.conf", [
      ["listen 80;", `listen 127.0.0.1:${port};`],
      ["listen [::]:80;", ""],
      ["root /srv/site/public;", `root ${join(dir, "site")};`],
      ["proxy_pass http://127.0.0.1:8001;", `proxy_pass http://127.0.0.1:${counterPort};`],
    ]),
  );
  writeFileSync(join(dir, "nginx.conf"), minimalConf(dir));
  writeSite(join(dir, "site"));
});

after(async () => {
  await stopNginx();
  await datasette?.stop();
  await new Promise<void>((done) => (counter ? counter.close(() => done()) : done()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A tiny Hugo-like output folder: a page, a 404 page, and the widgets' kinds of files. */
const SITE_FILES: Record<string, string> = {
  "index.html": `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A blog</title><link rel="stylesheet" href="/vigil/vigil.css"></head><body>${"<p>On December 3, 2020, 41 people died of COVID-19 in Cook County.</p>".repeat(10)}</body></html>\n`,
  "404.html": "<!doctype html><title>Not found</title><p>This page is not here.</p>\n",
  "vigil/vigil.css": `.vigil-chart { margin: 1rem 0; }\n${".vigil-memorial li { line-height: 1.5; }\n".repeat(10)}`,
  "vigil/daily-deaths.svg": `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Daily deaths"><title>Daily deaths</title>${'<rect x="1" y="2" width="3" height="4"/>'.repeat(20)}</svg>\n`,
  "vigil/daily-deaths.csv": `date,deaths,deaths_7day_avg,cumulative_deaths\n${Array.from({ length: 30 }, (_, i) => `2020-12-${String(i + 1).padStart(2, "0")},${i},${i}.5,${i * 10}`).join("\n")}\n`,
  "vigil/daily-deaths.vl.json": JSON.stringify({ $schema: "https://vega.github.io/schema/vega-lite/v6.json", description: "Deaths per day".repeat(20), mark: "bar" }),
  "vigil/embed/daily-deaths/index.html": `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Deaths per day</title></head><body>${"<p>The chart alone.</p>".repeat(20)}</body></html>\n`,
  "vigil/embed/daily-deaths/oembed.json": JSON.stringify({ version: "1.0", type: "rich", title: "Deaths per day".repeat(20) }),
};

function writeSite(root: string): void {
  for (const [name, text] of Object.entries(SITE_FILES)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
}

test("the shipped files pass nginx -t, in a minimal nginx.conf and inside Debian's own", { skip }, () => {
  assert.deepEqual(readdirSync(SHIPPED).sort(), ["vigil-cache.conf", "vigil.conf"], "every shipped file is rendered into the tests");
  const minimal = nginxTest(join(dir, "nginx.conf"));
  assert.equal(minimal.status, 0, minimal.output);
  assert.match(minimal.output, /test is successful/);
  assert.doesNotMatch(minimal.output, /\[(warn|emerg|alert|crit)\]/, "no warnings either (a duplicate MIME type, a directive in the wrong place)");

  // The way the files are installed: conf.d/ and sites-enabled/ under Debian's nginx.conf, whose
  // http block already sets `gzip on`, mime.types and the logs.
  if (!existsSync(DEBIAN_CONF)) return;
  writeFileSync(join(dir, "debian.conf"), debianConf());
  const debian = nginxTest(join(dir, "debian.conf"));
  assert.equal(debian.status, 0, debian.output);
  const warnings = debian.output.split("\n").filter((line) => /\[warn\]/.test(line) && !/"user" directive makes sense only/.test(line));
  assert.deepEqual(warnings, [], debian.output);
});

test("a burst of 50 readers for one table page reaches datasette once; the rest are cache hits", { skip }, async () => {
  await ensureNginx();
  const stable = "/vigil/covid_deaths";
  const hashed = `/vigil-${snapshot.manifest.sha256.slice(0, 7)}/covid_deaths`;
  const answers = await Promise.all(Array.from({ length: 50 }, () => follow(stable)));

  for (const { redirect, page, target } of answers) {
    assert.equal(target, hashed, "the redirect names the snapshot's hash");
    assert.equal(redirect.headers["cache-control"], "public, max-age=60", "the redirect's own Cache-Control passes unchanged");
    assert.equal(page.status, 200);
    assert.equal(page.headers["cache-control"], "max-age=31536000, public", "the hashed page's own Cache-Control passes unchanged");
    assert.match(page.headers["content-type"] ?? "", /^text\/html/);
    assert.equal(page.headers["x-content-type-options"], "nosniff");
  }
  assert.equal(seen.get(stable), 1, "datasette answered the redirect once (302s are cached)");
  assert.equal(seen.get(hashed), 1, "datasette rendered the page once (proxy_cache_lock)");
  const bodies = new Set(answers.map(({ page }) => page.body.toString("utf8")));
  assert.equal(bodies.size, 1, "every reader got the same page");
  assert.match([...bodies][0], /covid_deaths/);

  for (const kind of ["redirect", "page"] as const) {
    const statuses = answers.map((answer) => String(answer[kind].headers["x-cache-status"])).sort();
    assert.equal(statuses.filter((s) => s === "MISS").length, 1, `${kind}: one MISS: ${statuses.join(" ")}`);
    assert.equal(statuses.filter((s) => s === "HIT").length, 49, `${kind}: the others wait and HIT: ${statuses.join(" ")}`);
  }
  const later = await get(DATA, hashed);
  assert.equal(later.headers["x-cache-status"], "HIT");
  assert.equal(seen.get(hashed), 1);

  const post = await get(DATA, hashed, { method: "POST" });
  assert.equal(post.status, 403, "the read-only record takes no POST");
  assert.equal(seen.get(hashed), 1, "and it never reaches datasette");
});

/** Answers cached at the same moment, a second before they expire. */
const short: { cachedAt: number; bodies: Map<string, Buffer> } = { cachedAt: 0, bodies: new Map() };

/** Waits, asking every 100 ms, until nginx no longer holds `path` as fresh (nginx counts whole seconds: max-age=1 lasts 1-2 s). */
async function untilExpired(path: string): Promise<Answer> {
  for (;;) {
    const answer = await get(DATA, path);
    if (answer.headers["x-cache-status"] !== "HIT" || Date.now() > short.cachedAt + 3_000) return answer;
    await sleep(100);
  }
}

async function waitForCount(path: string, count: number): Promise<void> {
  for (let i = 0; i < 40 && (seen.get(path) ?? 0) < count; i++) await sleep(25);
}

test("an expired answer is served at once while one request refreshes it behind the reader", { skip }, async () => {
  await ensureNginx();
  for (const path of SHORT_LIVED) {
    const answer = await get(DATA, path);
    assert.equal(answer.status, 200, path);
    assert.equal(answer.headers["x-cache-status"], "MISS", path);
    short.bodies.set(path, answer.body);
  }
  short.cachedAt = Date.now();
  const [refreshed] = SHORT_LIVED;
  const asked = seen.get(refreshed) ?? 0;
  const expired = await untilExpired(refreshed);
  assert.equal(expired.status, 200);
  assert.match(String(expired.headers["x-cache-status"]), /^(STALE|UPDATING)$/, "the old copy at once, not a wait for datasette (EXPIRED)");
  await waitForCount(refreshed, asked + 1);
  let fresh = await get(DATA, refreshed);
  for (let i = 0; i < 20 && fresh.headers["x-cache-status"] !== "HIT"; i++) {
    await sleep(25);
    fresh = await get(DATA, refreshed);
  }
  assert.equal(fresh.headers["x-cache-status"], "HIT", "the refreshed copy is in the cache");
  assert.equal(seen.get(refreshed), asked + 1, "one background request refreshed it");
});

test("with datasette stopped, cached pages and JSON are still served, expired ones included", { skip }, async () => {
  await ensureNginx();
  const table = `/vigil-${snapshot.manifest.sha256.slice(0, 7)}/covid_deaths`;
  const memorial = await follow("/vigil/memorial.json?_shape=array");
  assert.equal(memorial.page.status, 200);
  const people = JSON.parse(memorial.page.body.toString("utf8")) as unknown[];
  assert.ok(Array.isArray(people) && people.length > 0, "the memorial JSON lists people");

  await datasette!.stop();
  datasette = undefined;
  const down = await get(DATA, `/vigil-${snapshot.manifest.sha256.slice(0, 7)}/cases`);
  assert.equal(down.status, 502, "a page never cached cannot be served while datasette is down");

  const page = await get(DATA, table);
  assert.equal(page.status, 200);
  assert.equal(page.headers["x-cache-status"], "HIT");
  const again = await follow("/vigil/memorial.json?_shape=array");
  assert.equal(again.redirect.headers["x-cache-status"], "HIT");
  assert.equal(again.page.status, 200);
  assert.equal(again.page.headers["x-cache-status"], "HIT");
  assert.deepEqual(JSON.parse(again.page.body.toString("utf8")), people);

  // An answer whose lifetime ran out: nginx asks datasette, gets a 502, and keeps serving the old copy.
  const outlived = SHORT_LIVED[1];
  const asked = seen.get(outlived) ?? 0;
  for (let i = 0; i < 3; i++) {
    const stale = await untilExpired(outlived);
    assert.equal(stale.status, 200);
    assert.match(String(stale.headers["x-cache-status"]), /^(STALE|UPDATING)$/);
    assert.ok(stale.body.equals(short.bodies.get(outlived)!), "the last good copy");
  }
  await waitForCount(outlived, asked + 1);
  assert.ok((seen.get(outlived) ?? 0) > asked, "nginx did ask datasette before settling for the old copy");
});

test("the blog's files go out with its security headers, compressed, with the right types", { skip }, async () => {
  await ensureNginx();
  const expected: Array<[string, string, RegExp]> = [
    ["/", "index.html", /^text\/html; charset=utf-8$/],
    ["/vigil/vigil.css", "vigil/vigil.css", /^text\/css$/],
    ["/vigil/daily-deaths.svg", "vigil/daily-deaths.svg", /^image\/svg\+xml$/],
    ["/vigil/daily-deaths.csv", "vigil/daily-deaths.csv", /^text\/csv; charset=utf-8$/],
    ["/vigil/daily-deaths.vl.json", "vigil/daily-deaths.vl.json", /^application\/json$/],
  ];
  for (const [path, file, type] of expected) {
    const answer = await get(BLOG, path, { headers: { "accept-encoding": "gzip" } });
    assert.equal(answer.status, 200, path);
    assert.match(answer.headers["content-type"] ?? "", type, path);
    assert.equal(answer.headers["content-encoding"], "gzip", `${path} is compressed`);
    assert.equal(answer.headers.vary, "Accept-Encoding", path);
    assert.equal(gunzipSync(answer.body).toString("utf8"), SITE_FILES[file], path);
    assert.equal(answer.headers["x-content-type-options"], "nosniff", path);
    assert.equal(answer.headers["referrer-policy"], "strict-origin-when-cross-origin", path);
    const csp = String(answer.headers["content-security-policy"]);
    assert.match(csp, /(^|; )default-src 'self'(;|$)/, path);
    assert.doesNotMatch(csp, /https?:|\*/, `${path}: no other origin is allowed`);
    assert.equal(answer.headers["cache-control"], "max-age=600", path);
    assert.equal(answer.headers.server, "nginx", "no version");
    assert.equal(answer.headers["x-cache-status"], undefined, "the blog is files, not the cache");
  }
  // the charts run Vega's interpreter: no page needs 'unsafe-eval'; only the embeds may be framed by other sites
  const page = String((await get(BLOG, "/")).headers["content-security-policy"]);
  assert.doesNotMatch(page, /unsafe-eval/);
  assert.match(page, /; frame-ancestors 'self'$/);
  for (const path of ["/vigil/embed/daily-deaths/", "/vigil/embed/daily-deaths/oembed.json"]) {
    const embed = await get(BLOG, path);
    assert.equal(embed.status, 200, path);
    assert.equal(String(embed.headers["content-security-policy"]), page.replace("frame-ancestors 'self'", "frame-ancestors *"), `${path}: framed by any site, otherwise the same policy`);
    assert.equal(embed.headers["x-content-type-options"], "nosniff", path);
    assert.equal(embed.headers["referrer-policy"], "strict-origin-when-cross-origin", path);
    assert.equal(embed.headers["cache-control"], "max-age=600", path);
  }
  assert.equal((await get(BLOG, "/vigil/embed/daily-deaths/oembed.json")).headers["access-control-allow-origin"], "*", "other sites' embed tools read the oEmbed");
  const plain = await get(BLOG, "/vigil/daily-deaths.csv");
  assert.equal(plain.headers["content-encoding"], undefined, "a reader that does not ask for gzip gets the file as it is");
  assert.equal(plain.body.toString("utf8"), SITE_FILES["vigil/daily-deaths.csv"]);

  const missing = await get(BLOG, "/no/such/page/");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.toString("utf8"), SITE_FILES["404.html"], "Hugo's 404 page");
  assert.equal(missing.headers["x-content-type-options"], "nosniff", "errors carry the headers too");
  assert.match(String(missing.headers["content-security-policy"]), /default-src 'self'/);
  assert.deepEqual([...seen.keys()].filter((url) => !url.startsWith("/vigil") && !url.startsWith("/-/")), [], "nothing on the blog reached datasette");
});
