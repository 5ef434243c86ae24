/**
 * The public record: a memorial never becomes a map of where people died. Sentinel addresses and
 * coordinates go in through every door (a case, a correction of the address, a note, a refused
 * row) and must come out of none: not the snapshot's bytes, not a page or feed the public server
 * returns. Snapshots are reproducible, named by their hash, never seen half-written, and served
 * immutably with long-lived cache headers, feeds and a download that matches its manifest.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { nightly } from "../pipeline/ops/nightly.ts";
import { servePublic } from "../pipeline/ops/public-server.ts";
import { startDatasette, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import { publish, readManifest, type PublishResult } from "../pipeline/publish/publish.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { ensureDatasette, listItems, parseAtom } from "./datasette-helpers.ts";
import { FAST_HTTP, fixedClock, memoryLogger, ROOT, VIGIL_BIN } from "./helpers.ts";

const DATASET = "3trz-enys";
const STREET = "1313 SENTINEL MOCKINGBIRD LN";
const MOVED = "1315 SENTINEL MOCKINGBIRD LN";
const NOTE_STREET = "2468 SENTINEL NOTE RD";
const REJECT_STREET = "9753 SENTINEL REJECT AVE";
/** Coordinates as the source sends them: inside the county (stored), outside (a note), in a refused row. */
const COORDINATES = ["41.913579", "-87.624681", "45.123457", "-80.654321", "41.802468", "-87.713579"];

const base = generateCovidView({ seed: 5, count: 400 });
const sentinels: RawRow[] = [
  {
    ":id": "row-s77001", casenumber: "ME2020-77001", death_date: "2020-12-01T08:00:00.000", age: "61", gender: "Female", race: "Black", latino: false,
    residence_city: "CHICAGO", primarycause: "COVID-19 PNEUMONIA", covid_related: true, manner: "NATURAL", incident_street: STREET, incident_city: "CHICAGO",
    latitude: COORDINATES[0], longitude: COORDINATES[1],
    location: { latitude: COORDINATES[0], longitude: COORDINATES[1], human_address: JSON.stringify({ address: STREET, city: "CHICAGO", state: "IL", zip: "60611" }) },
  },
  {
    ":id": "row-s77002", casenumber: "ME2020-77002", death_date: "2020-12-01T09:00:00.000", age: "77", gender: "Male", race: "White", latino: false,
    residence_city: "EVANSTON", primarycause: "COVID-19", covid_related: true, manner: "NATURAL", incident_street: NOTE_STREET, latitude: COORDINATES[2], longitude: COORDINATES[3],
  },
  // refused: no death date
  { ":id": "row-s77003", casenumber: "ME2020-77003", age: "50", primarycause: "COVID-19", covid_related: true, incident_street: REJECT_STREET, location: { latitude: COORDINATES[4], longitude: COORDINATES[5] } },
];
const first = [...base, ...sentinels];
const corrected = base[10];
const withdrawn = base[11];
/** The next night: the sentinel's address is corrected, one age too, one case withdrawn, one added. */
const second = [
  ...first
    .filter((row) => row !== withdrawn)
    .map((row) => (row === sentinels[0] ? { ...row, incident_street: MOVED, ":updated_at": "2026-11-02T00:00:00.000Z" } : row))
    .map((row) => (row === corrected ? { ...row, age: "44", ":updated_at": "2026-11-02T00:00:00.000Z" } : row)),
  { ":id": "row-new-1", casenumber: "ME2022-05900", death_date: "2021-01-05T10:00:00.000", age: "8", gender: "Female", race: "White", latino: false, residence_city: "OAK PARK", primarycause: "COVID-19", covid_related: true, manner: "NATURAL" },
];

let dir: string;
let privateDb: string;
let out: string;
let portal: FixturePortal;
let firstPublish: PublishResult;
let latest: PublishResult;
let server: DatasetteServer;

const runIngest = (now: string) => ingest({ config: { db: privateDb, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(now), http: FAST_HTTP });
const runPublish = (at: string, to = out) => publish({ db: privateDb, out: to, now: fixedClock(at), log: memoryLogger() });

before(async () => {
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-publish-"));
  privateDb = join(dir, "vigil.db");
  out = join(dir, "public");
  portal = await startPortal({ datasets: { [DATASET]: first } });
  await runIngest("2026-11-25T12:00:00Z");
  firstPublish = await runPublish("2026-11-25T12:05:00Z");
  portal.setRows(DATASET, second);
  await runIngest("2026-11-26T12:00:00Z");
  latest = await runPublish("2026-11-26T12:05:00Z");
  server = await startDatasette({ db: privateDb, snapshot: { path: latest.path, manifest: latest.manifest }, port: 0 });
});

after(async () => {
  await Promise.all([server?.stop(), portal?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every way the sentinels could be written down: text, and SQLite's 8-byte big-endian REALs. */
function sentinelNeedles(): Array<[string, Buffer]> {
  const needles: Array<[string, Buffer]> = [];
  for (const text of ["SENTINEL", "sentinel", "Sentinel", "Mockingbird", ...COORDINATES]) needles.push([text, Buffer.from(text)]);
  for (const coordinate of COORDINATES) {
    const real = Buffer.alloc(8);
    real.writeDoubleBE(Number(coordinate));
    needles.push([`REAL ${coordinate}`, real]);
  }
  return needles;
}

const found = (bytes: Buffer) => sentinelNeedles().filter(([, needle]) => bytes.includes(needle)).map(([name]) => name);

test("the private database holds the sentinels; no snapshot byte does, in any table, index, search index or free page", () => {
  const conn = new Database(privateDb, { readonly: true });
  try {
    assert.equal(conn.prepare("SELECT incident_address FROM cases WHERE casenumber = 'ME2020-77001'").pluck().get(), MOVED);
    assert.equal(conn.prepare("SELECT latitude FROM cases WHERE casenumber = 'ME2020-77001'").pluck().get(), Number(COORDINATES[0]));
    assert.match(String(conn.prepare("SELECT notes FROM cases WHERE casenumber = 'ME2020-77002'").pluck().get()), new RegExp(COORDINATES[2].replace(".", "\\.")));
    assert.match(String(conn.prepare("SELECT raw FROM rejects WHERE casenumber = 'ME2020-77003'").pluck().get()), /9753 SENTINEL REJECT AVE/);
    assert.equal(conn.prepare("SELECT old_value FROM case_revisions WHERE field = 'incident_address'").pluck().get(), STREET);
  } finally {
    conn.close();
  }
  for (const name of readdirSync(out).filter((n) => n.endsWith(".db"))) {
    assert.deepEqual(found(readFileSync(join(out, name))), [], `${name} holds no sentinel`);
  }
  const snapshot = new Database(latest.path, { readonly: true });
  try {
    const columns = snapshot.prepare("SELECT name FROM pragma_table_info('cases')").pluck().all();
    for (const column of ["incident_address", "latitude", "longitude"]) assert.ok(!columns.includes(column), `cases.${column} is withheld`);
    assert.equal(snapshot.prepare("SELECT count(*) FROM pragma_table_info('rejects') WHERE name = 'raw'").pluck().get(), 0);
    assert.equal(snapshot.prepare("SELECT count(*) FROM case_revisions WHERE field = 'incident_address'").pluck().get(), 0, "revisions of a withheld field are dropped");
    assert.equal(snapshot.prepare("SELECT count(*) FROM rejects WHERE casenumber = 'ME2020-77003'").pluck().get(), 1, "the reject stays, without its row");
    assert.match(String(snapshot.prepare("SELECT notes FROM cases WHERE casenumber = 'ME2020-77002'").pluck().get()), /latitude\/longitude \[withheld\] is outside Cook County/);
    // what stays: area-level places, the memorial's words, search
    assert.deepEqual(snapshot.prepare("SELECT incident_city, memorial_sentence FROM cases WHERE casenumber = 'ME2020-77001'").get(), {
      incident_city: "CHICAGO",
      memorial_sentence: "A 61-year-old woman from Chicago.",
    });
    assert.ok((snapshot.prepare("SELECT count(*) FROM cases_fts WHERE cases_fts MATCH 'pneumonia'").pluck().get() as number) > 0);
    assert.equal(snapshot.pragma("freelist_count", { simple: true }), 0, "no free pages");
  } finally {
    snapshot.close();
  }
});

test("the same record gives the same bytes; a correction upstream gives a new snapshot, and the previous one stays", async () => {
  const again = await runPublish("2026-11-27T00:00:00Z");
  assert.equal(again.changed, false, "nothing published changed: nothing is written");
  assert.deepEqual(again.manifest, latest.manifest, "the manifest is left as it was");
  const elsewhere = await runPublish("2026-11-27T00:00:00Z", join(dir, "elsewhere"));
  assert.equal(elsewhere.changed, true);
  assert.ok(readFileSync(elsewhere.path).equals(readFileSync(latest.path)), "a second publish of the same data is byte-identical");
  assert.notEqual(firstPublish.manifest.sha256, latest.manifest.sha256, "the correction changed the hash");
  assert.ok(existsSync(firstPublish.path), "the previous snapshot is kept for readers mid-download");
  for (const result of [firstPublish, latest]) {
    const bytes = readFileSync(result.path);
    assert.equal(createHash("sha256").update(bytes).digest("hex"), result.manifest.sha256);
    assert.equal(result.manifest.file, `vigil-${result.manifest.sha256.slice(0, 12)}.db`);
    assert.equal(result.manifest.bytes, bytes.length);
  }
  assert.deepEqual(readManifest(out), latest.manifest);
  assert.equal(latest.manifest.published_at, "2026-11-26T12:05:00.000Z");
  assert.ok(latest.manifest.run_id !== null && latest.manifest.run_id > (firstPublish.manifest.run_id ?? 0));
});

test("only the latest snapshot and the two before it are kept", async () => {
  const work = join(dir, "prune");
  const published: string[] = [];
  for (let night = 0; night < 4; night++) {
    portal.setRows(DATASET, second.map((row) => (row === second[0] ? { ...row, age: String(30 + night), ":updated_at": `2026-12-0${night + 1}T00:00:00.000Z` } : row)));
    await runIngest(`2026-12-0${night + 1}T12:00:00Z`);
    published.push((await runPublish(`2026-12-0${night + 1}T12:05:00Z`, work)).manifest.file);
    await sleep(20);
  }
  assert.equal(new Set(published).size, 4);
  const kept = readdirSync(work).filter((name) => name.endsWith(".db")).sort();
  assert.deepEqual(kept, published.slice(1).sort());
  assert.equal(readManifest(work)?.file, published[3]);
});

test("a publish killed at any moment leaves the previous snapshot and manifest whole", async () => {
  const work = join(dir, "killed");
  await runPublish("2026-12-10T00:00:00Z", work);
  portal.setRows(DATASET, second.map((row) => (row === second[1] ? { ...row, age: "99", ":updated_at": "2026-12-10T00:00:00.000Z" } : row)));
  await runIngest("2026-12-10T12:00:00Z");
  for (const delay of [150, 300, 450, 600, 750, 900]) {
    const child = spawn(process.execPath, [VIGIL_BIN, "publish", "--db", privateDb, "--out", work], { cwd: ROOT, stdio: "ignore" });
    const closed = new Promise((done) => child.on("close", done));
    await sleep(delay);
    child.kill("SIGKILL");
    await closed;
    const manifest = readManifest(work);
    assert.ok(manifest, "a manifest is always there");
    for (const name of readdirSync(work).filter((n) => /^vigil-[0-9a-f]{12}\.db$/.test(n))) {
      const sha = createHash("sha256").update(readFileSync(join(work, name))).digest("hex");
      assert.equal(name, `vigil-${sha.slice(0, 12)}.db`, `after ${delay} ms: a snapshot's name always matches its bytes`);
    }
    assert.equal(createHash("sha256").update(readFileSync(join(work, manifest.file))).digest("hex"), manifest.sha256);
  }
  const finished = await runPublish("2026-12-10T13:00:00Z", work);
  assert.ok(!readdirSync(work).some((name) => name.startsWith(".vigil-publishing-")), "a later publish clears what killed ones left");
  assert.equal(readManifest(work)?.sha256, finished.manifest.sha256);
});

/** A GET that follows redirects, as a browser does. */
async function get(path: string) {
  const response = await fetch(`${server.url}${path}`);
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, url: response.url, cache: response.headers.get("cache-control") ?? "", text: body.toString("utf8"), body };
}

const CANNED = ["memorial?date=2020-12-01", "daily_deaths", "daily_deaths_as_of?run_id=1", "by_age_group", "by_race_ethnicity", "rates", "by_residence_city", "by_month", "revisions", "rejects", "last_run", "new_deaths", "corrections"];
const PAGES = [
  "/", "/vigil", "/vigil/cases", "/vigil/covid_deaths", "/vigil/case_revisions", "/vigil/rejects", "/vigil/runs", "/vigil/daily_deaths",
  "/vigil/cases?_search=pneumonia", "/vigil/covid_deaths?_facet=residence_city", "/vigil/cases/ME2020-77001", "/vigil/covid_deaths.json?_shape=array&_size=max",
  "/vigil/case_revisions.json?_shape=array&_size=max", "/vigil/rejects.json?_shape=array", "/vigil/cases.csv?_size=max",
  ...CANNED.flatMap((q) => [`/vigil/${q}`, `/vigil/${q.replace(/^(\w+)/, "$1.json")}`]),
  "/vigil/new_deaths.atom", "/vigil/corrections.atom",
];

test("every page, query and feed of the public server: no sentinel, no third-party request, cacheable for long", async () => {
  for (const path of PAGES) {
    const page = await get(path);
    assert.equal(page.status, 200, `${path}: ${page.text.slice(0, 200)}`);
    assert.deepEqual(found(page.body), [], `${path} names no sentinel`);
    assert.match(page.cache, /\bpublic\b/, `${path}: ${page.cache}`);
    assert.ok(Number(/max-age=(\d+)/.exec(page.cache)?.[1]) >= 3600, `${path}: ${page.cache}`);
    const external = [...page.text.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(https?:)?\/\/([^"/]+)/g)].map((m) => m[2]).filter((host) => !host.startsWith("127.0.0.1"));
    assert.deepEqual(external, [], `${path} loads nothing from another host`);
    assert.doesNotMatch(page.text, /datasette-cluster-map|tile\.openstreetmap|unpkg\.com|cdn\./i, `${path} has no map`);
  }
  const stable = await fetch(`${server.url}/vigil/daily_deaths.json`, { redirect: "manual" });
  assert.equal(stable.status, 302, "the stable URL redirects");
  assert.equal(stable.headers.get("location"), `/vigil-${latest.manifest.sha256.slice(0, 7)}/daily_deaths.json`);
  const home = await get("/vigil");
  assert.match(home.text, new RegExp(latest.manifest.sha256), "the database page shows the snapshot's SHA-256");
  assert.match(home.text, /withheld/i, "and says what is withheld");
});

test("arbitrary SQL is refused; the downloaded database is the published snapshot", async () => {
  for (const path of ["/vigil.json?sql=select+1", "/vigil?sql=select+incident_address+from+cases", "/vigil/cases.json?_where=age%3E1"]) {
    assert.equal((await get(path)).status, 403, path);
  }
  const download = await get("/vigil.db");
  assert.equal(download.status, 200);
  assert.equal(createHash("sha256").update(download.body).digest("hex"), latest.manifest.sha256);
});

test("the public server answers every query from its snapshot while an ingest writes the private database", async () => {
  portal.setRows(DATASET, [...second, ...generateCovidView({ seed: 9, count: 6000 }).map((row, i) => ({ ...row, casenumber: `ME2023-${String(i).padStart(5, "0")}` }))]);
  let done = false;
  const writing = runIngest("2026-12-20T12:00:00Z").finally(() => (done = true));
  const failures: string[] = [];
  let answered = 0;
  const expected = JSON.parse((await get("/vigil/daily_deaths.json?_shape=array")).text);
  while (!done) {
    for (const query of CANNED) {
      const page = await get(`/vigil/${query.replace(/^(\w+)/, "$1.json")}`);
      answered++;
      if (page.status !== 200) failures.push(`${query}: ${page.status}`);
    }
    const search = await get("/vigil/cases.json?_search=pneumonia&_facet=manner&_size=1");
    if (search.status !== 200 || !("manner" in JSON.parse(search.text).facet_results)) failures.push(`search: ${search.status}`);
  }
  const result = await writing;
  assert.ok(result.counts.inserted >= 6000);
  assert.deepEqual(failures, []);
  assert.ok(answered >= CANNED.length, `${answered} answers`);
  assert.deepEqual(JSON.parse((await get("/vigil/daily_deaths.json?_shape=array")).text), expected, "the snapshot, not the live database");
});

test("the feeds are Atom at URLs that never change: people added and corrections, by run, each entry linked, its people listed", async () => {
  const addedFeed = parseAtom((await get("/vigil/new_deaths.atom")).text);
  assert.equal(addedFeed.id, `${server.url}/vigil/new_deaths.atom`, "the feed's id is its stable URL, not the snapshot's hashed one");
  assert.equal(addedFeed.self, addedFeed.id);
  const added = addedFeed.entries;
  const runs = [firstPublish.manifest.run_id, latest.manifest.run_id];
  assert.deepEqual(added.map((e) => e.id).sort(), runs.map((run) => `tag:vigil,2026:new-deaths/run-${run}`).sort());
  const night = added.find((e) => e.id.endsWith(`run-${runs[1]}`))!;
  assert.equal(night.title, `1 person added to the memorial by run ${runs[1]}`);
  assert.equal(night.link, `${server.url}/vigil/covid_deaths?first_run_id=${runs[1]}`);
  assert.equal(night.type, "html");
  const { items, links } = listItems(night.content);
  assert.deepEqual(items, ["2021-01-05: An 8-year-old girl from Oak Park. (ME2022-05900)"]);
  assert.deepEqual(links, [`${server.url}/vigil/memorial?date=2021-01-05`, `${server.url}/vigil/cases/ME2022-05900`]);
  const firstNight = added.find((e) => e.id.endsWith(`run-${runs[0]}`))!;
  // the first night loads 400 people at once: summarised, with a link to them, not one huge entry
  const firstCount = (await (await fetch(`${server.url}/vigil/covid_deaths.json?first_run_id=${runs[0]}&_size=0`)).json()) as { filtered_table_rows_count: number };
  assert.ok(firstCount.filtered_table_rows_count > 100);
  assert.equal(firstNight.title, `${firstCount.filtered_table_rows_count} people added to the memorial by run ${runs[0]}`);
  assert.deepEqual(listItems(firstNight.content).items, [], "no list of hundreds");
  assert.match(firstNight.content, new RegExp(`added ${firstCount.filtered_table_rows_count} people .* too many to list here`));
  assert.ok(listItems(firstNight.content).links.includes(`${server.url}/vigil/covid_deaths?first_run_id=${runs[0]}`));
  assert.ok(firstNight.content.length < 1000, `${firstNight.content.length} characters`);
  // every link of the feed answers, through the stable URL's redirect to the snapshot
  for (const link of new Set([night.link, ...links, firstNight.link])) {
    const page = await fetch(link);
    assert.equal(page.status, 200, link);
    assert.match(page.url, /\/vigil-[0-9a-f]{7}\//, `${link} reaches the snapshot`);
  }
  const people = await (await fetch(`${night.link.replace("covid_deaths?", "covid_deaths.json?_shape=array&")}`)).json();
  assert.deepEqual((people as Array<{ casenumber: string }>).map((p) => p.casenumber), ["ME2022-05900"], "the entry's link lists the people the run added");

  const correctionsFeed = parseAtom((await get("/vigil/corrections.atom")).text);
  assert.equal(correctionsFeed.id, `${server.url}/vigil/corrections.atom`);
  assert.equal(correctionsFeed.self, correctionsFeed.id);
  const corrections = correctionsFeed.entries;
  assert.deepEqual(corrections.map((e) => e.id), [`tag:vigil,2026:corrections/run-${runs[1]}`]);
  assert.equal(corrections[0].link, `${server.url}/vigil/case_revisions?run_id=${runs[1]}&change__not=added`);
  const lines = listItems(corrections[0].content).items;
  assert.ok(lines.includes(`${corrected.casenumber} age: ${corrected.age} → 44 (its corrections)`), lines.join(" | "));
  assert.ok(lines.includes(`${withdrawn.casenumber} withdrawn by the county (its corrections)`), lines.join(" | "));
  assert.ok(!lines.some((line) => /incident_address|SENTINEL/.test(line)), "a withheld field's correction is not listed");
  assert.ok(listItems(corrections[0].content).links.includes(`${server.url}/vigil/revisions?casenumber=${corrected.casenumber}`));
});

test("`vigil run --publish` publishes into the folder and the site, and only when the record changed", async () => {
  const work = join(dir, "nightly");
  const site = join(dir, "site");
  mkdirSync(site);
  const run = () =>
    nightly({
      config: { db: privateDb, portal: portal.url, dataset: DATASET, site, debug: false },
      log: memoryLogger(),
      now: fixedClock("2026-12-30T12:00:00Z"),
      http: FAST_HTTP,
      publish: work,
      stdout: process.stdout,
      stderr: process.stderr,
      env: {},
    });
  const first = await run();
  assert.ok(first.ok, first.summary);
  assert.match(first.summary, /published vigil-[0-9a-f]{12}\.db/);
  const manifest = readManifest(work)!;
  const hosted = join(site, "static", "vigil", "data");
  assert.deepEqual(readManifest(hosted), manifest, "the blog hosts the same manifest");
  assert.equal(createHash("sha256").update(readFileSync(join(hosted, manifest.file))).digest("hex"), manifest.sha256, "and the same snapshot");
  const { writeWidgets } = await import("../site-widgets/emit.ts");
  await writeWidgets({ db: privateDb, site, now: fixedClock("2026-12-30T12:30:00Z"), log: memoryLogger() });
  assert.ok(existsSync(join(hosted, manifest.file)) && existsSync(join(hosted, "latest.json")), "the widgets leave the hosted snapshot alone");
  const second = await run();
  assert.ok(second.ok, second.summary);
  assert.match(second.summary, /public record unchanged/);
  assert.deepEqual(readManifest(work), manifest, "a night without changes publishes nothing");
});


test("stopped while it waits on a first boot, serve --public publishes nothing and exits 0", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-first-boot-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, "vigil.db");
  const out = join(dir, "public");
  // a first run has begun: the database is there, with no finished run in it
  new Database(db).exec("CREATE TABLE runs (id INTEGER PRIMARY KEY, status TEXT, finished_at TEXT, portal TEXT, dataset TEXT, source_rows_updated_at TEXT)");
  const controller = new AbortController();
  const log = memoryLogger();
  let stdout = "";
  const serving = servePublic({
    db,
    out,
    host: "127.0.0.1",
    port: 0,
    cors: false,
    log,
    signal: controller.signal,
    stdout: new Writable({ write: (chunk, _encoding, done) => void ((stdout += chunk), done()) }),
    now: fixedClock(),
  });
  await sleep(700);
  controller.abort();
  assert.equal(await serving, 0);
  assert.ok(!existsSync(join(out, "latest.json")), "nothing published from a database still being written");
  assert.equal(stdout, "", "nothing served");
  assert.ok(log.lines.some((l) => /waiting for the first publish/.test(String(l.msg))), "it said it was waiting");
});
