/**
 * Dated events: the built-in list in a new database, the site owner's file through `vigil widgets
 * --events` and `vigil run --events` (run in process), what a bad file says and that it writes
 * nothing, and the events table following the owner's file from run to run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse } from "csv-parse/sync";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { BUILT_IN_EVENTS, builtInEvents } from "../pipeline/store/events.ts";
import { NARROWED_ON } from "../site-widgets/notes.ts";
import { nightly } from "../pipeline/ops/nightly.ts";
import { memoryLogger, ROOT, runMain, tempDir } from "./helpers.ts";
import { edgeRows, MEMORIAL_DAY, syncRows } from "./widgets-db.ts";
import { listFiles } from "./widgets-site.ts";

const FIXTURE = join(ROOT, "fixtures", "events.csv");
const DATASET = "3trz-enys";
type T = Parameters<typeof tempDir>[0];

function site(t: T) {
  const dir = tempDir(t);
  const root = join(dir, "site");
  mkdirSync(root);
  writeFileSync(join(root, "hugo.toml"), 'title = "events"\n');
  const db = join(dir, "vigil.db");
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  return { dir, root, db };
}

const stored = (db: string) => {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare("SELECT date, label, source_url, origin FROM events ORDER BY date, label").all() as Array<Record<string, string>>;
  } finally {
    conn.close();
  }
};

const csvRows = (text: string) => parse(text, { columns: true }) as Array<Record<string, string>>;

test("the built-in events are sourced, and a new database lists them", (t) => {
  const events = builtInEvents();
  assert.ok(events.some((e) => e.date === "2020-03-16" && /first confirmed COVID-19 death/i.test(e.label)), "the county's first confirmed death");
  assert.ok(events.some((e) => e.date === NARROWED_ON && /Medical Examiner/.test(e.label) && /hospital/.test(e.label)), "the end of jurisdiction over hospital deaths, the day the notes name");
  for (const e of events) assert.match(e.source_url, /^https:\/\/\S+$/, `${e.date} has a source`);
  assert.ok(existsSync(join(BUILT_IN_EVENTS, "..", "README.md")), "with its provenance");

  const path = join(tempDir(t), "new.db");
  openDatabase(path).close();
  assert.deepEqual(stored(path), events.map((e) => ({ ...e })).sort((a, b) => a.date.localeCompare(b.date)));
  assert.ok(stored(path).every((e) => e.origin === "built-in"));
});

test("`vigil widgets --events FILE` marks the owner's events with the built-in ones, once each, and lists them in static/vigil/events.csv", async (t) => {
  const { root, db } = site(t);
  const result = await runMain(["widgets", "--site", root, "--db", db, "--events", FIXTURE]);
  assert.equal(result.code, 0, result.stderr);
  const listed = csvRows(readFileSync(join(root, "static/vigil/events.csv"), "utf8"));
  const owner = csvRows(readFileSync(FIXTURE, "utf8").replace(/^#.*\n/gm, ""));
  assert.deepEqual(Object.keys(listed[0]), ["date", "label", "source_url"], "the format --events reads");
  const expected = [...builtInEvents().map(({ origin: _, ...e }) => e), ...owner.filter((o) => !builtInEvents().some((b) => b.date === o.date && b.label === o.label))];
  assert.deepEqual(listed, expected.sort((a, b) => a.date.localeCompare(b.date)), "an owner event with a built-in one's date and label is listed once");
  // the owner's event falls on the fixture's days: its chart marks it and says so
  const svg = readFileSync(join(root, "static/vigil/daily-deaths.svg"), "utf8");
  assert.equal(owner[0].date, MEMORIAL_DAY);
  assert.match(svg, /class="vigil-event-label"/);
  assert.match(svg, /aria-label="[^"]*A dashed line marks December 3, 2020: Candles lit &amp; &lt;i&gt;names read&lt;\/i&gt;, &quot;together&quot;\."/);

  // Without --events, the owner's events are those the database holds: none here.
  const plain = await runMain(["widgets", "--site", root, "--db", db]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(csvRows(readFileSync(join(root, "static/vigil/events.csv"), "utf8")).map((e) => e.date), builtInEvents().map((e) => e.date).sort());
  assert.doesNotMatch(readFileSync(join(root, "static/vigil/daily-deaths.svg"), "utf8"), /vigil-event/);
});

test("a bad events file is refused with one line naming the file and line, exit 2, and nothing is written", async (t) => {
  const { dir, root, db } = site(t);
  const file = join(dir, "events.csv");
  const header = "date,label,source_url\n";
  const cases: Array<[string, RegExp]> = [
    [`${header}2020-12-03,Fine,https://example.org/a\n2020-13-01,Bad month,https://example.org/b\n`, /events\.csv: line 3: date "2020-13-01" is not a day of the calendar/],
    [`${header}2021-02-30,No such day,https://example.org/b\n`, /line 2: date "2021-02-30" is not a day of the calendar/],
    [`${header}12/03/2020,US date,https://example.org/b\n`, /line 2: date "12\/03\/2020" must be a date written YYYY-MM-DD/],
    [`${header}2020-12-03,  ,https://example.org/b\n`, /line 2: label is empty/],
    [`${header}2020-12-03,${"A very long label ".repeat(6)},https://example.org/b\n`, /line 2: label is longer than 80 characters/],
    [`${header}2020-12-03,No link,ftp://example.org/b\n`, /line 2: source_url "ftp:\/\/example\.org\/b" must be an http\(s\) URL/],
    [`${header}2020-12-03,No link,see the county's page\n`, /line 2: source_url "see the county's page" must be an http\(s\) URL/],
    ["date,label\n2020-12-03,No link column\n", /line 1: no column source_url/],
    ["date,label,source_url,notes\n2020-12-03,A,https://example.org/a,x\n", /line 1: unknown column "notes"/],
    [`${header}2020-12-03,"Unclosed,https://example.org/a\n`, /Quote Not Closed/],
    [`${header}2020-12-03,Short row\n`, /Invalid Record Length: expect 3, got 2 on line 2/],
    ["", /is empty, not even a header line/],
  ];
  for (const [text, message] of cases) {
    writeFileSync(file, text);
    const result = await runMain(["widgets", "--site", root, "--db", db, "--events", file]);
    assert.equal(result.code, 2, `${message}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, new RegExp(`^vigil widgets: --events ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: [^\\n]+\\n$`), "one line");
    assert.deepEqual(listFiles(root), ["hugo.toml"], "nothing written");
  }
  const missing = await runMain(["widgets", "--site", root, "--db", db, "--events", join(dir, "nope.csv")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--events .*nope\.csv: no such file/);
  const env = await runMain(["widgets", "--site", root, "--db", db], { env: { VIGIL_EVENTS: join(dir, "nope.csv") } });
  assert.equal(env.code, 2, "VIGIL_EVENTS is read when --events is absent");
  assert.deepEqual(listFiles(root), ["hugo.toml"]);

  // `vigil run` and `vigil schedule` refuse it before they start: no database, no run.
  const fresh = join(dir, "fresh.db");
  for (const command of ["run", "schedule"]) {
    const refused = await runMain([command, "--db", fresh, "--portal", "http://127.0.0.1:9", "--events", join(dir, "nope.csv")]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(`^vigil ${command}: --events .*nope\\.csv: no such file`));
    assert.equal(existsSync(fresh), false, `${command} wrote nothing`);
  }
});

test("`vigil run --events` keeps the events table to the built-in events plus the owner's file of that run", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const root = join(dir, "site");
  mkdirSync(root);
  writeFileSync(join(root, "hugo.toml"), 'title = "events"\n');
  const file = join(dir, "events.csv");
  writeFileSync(file, readFileSync(FIXTURE));
  const portal = await startPortal({ datasets: { [DATASET]: generateCovidView({ seed: 7, count: 200 }) } });
  t.after(() => portal.close());
  const run = (...extra: string[]) => runMain(["run", "--db", db, "--portal", portal.url, "--site", root, ...extra]);
  const builtIn = builtInEvents().map((e) => ({ ...e }));
  const owner = { date: MEMORIAL_DAY, label: 'Candles lit & <i>names read</i>, "together"', source_url: "https://example.org/vigil-fixture/candles", origin: "site" };
  const byDate = (rows: Array<Record<string, string>>) => [...rows].sort((a, b) => a.date.localeCompare(b.date) || a.label.localeCompare(b.label));

  const first = await run("--events", file);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^run 1: ingest ok \(200 inserted\), events updated \(2 built-in, 1 of the site\), widgets changed/);
  assert.deepEqual(stored(db), byDate([...builtIn, owner]));
  assert.match(readFileSync(join(root, "static/vigil/events.csv"), "utf8"), /Candles lit/, "the run's widgets draw them");

  // The same file again: the table is left as it is, and the summary says nothing of it.
  const second = await run("--events", file);
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stdout, /events/);

  // The owner adds one event and deletes another: the table follows the file.
  writeFileSync(file, "date,label,source_url\n2021-01-05,A new event of the site,https://example.org/vigil-fixture/new\n");
  const third = await run("--events", file);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /events updated \(2 built-in, 1 of the site\)/);
  const added = { date: "2021-01-05", label: "A new event of the site", source_url: "https://example.org/vigil-fixture/new", origin: "site" };
  assert.deepEqual(stored(db), byDate([...builtIn, added]));

  // `vigil widgets` without --events draws what the last run stored.
  const widgets = await runMain(["widgets", "--site", root, "--db", db]);
  assert.equal(widgets.code, 0, widgets.stderr);
  assert.match(readFileSync(join(root, "static/vigil/events.csv"), "utf8"), /A new event of the site/);

  // A run without --events (nor VIGIL_EVENTS) leaves the built-in events only.
  const fourth = await run();
  assert.equal(fourth.code, 0, fourth.stderr);
  assert.match(fourth.stdout, /events updated \(2 built-in, 0 of the site\)/);
  assert.deepEqual(stored(db), byDate(builtIn));

  // VIGIL_EVENTS stands for --events.
  const fifth = await runMain(["run", "--db", db, "--portal", portal.url], { env: { VIGIL_EVENTS: file } });
  assert.equal(fifth.code, 0, fifth.stderr);
  assert.deepEqual(stored(db), byDate([...builtIn, added]));

  // A broken file stops `vigil run` before it starts: no run, the table as it was.
  writeFileSync(file, "date,label,source_url\n2021-01-05,,https://example.org/x\n");
  const refused = await run("--events", file);
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, `vigil run: --events ${file}: line 2: label is empty (each event: a date YYYY-MM-DD, a label of at most 80 characters, an http(s) source_url)\n`);
  const runs = () => {
    const conn = new Database(db, { readonly: true });
    try {
      return conn.prepare("SELECT count(*) FROM runs").pluck().get();
    } finally {
      conn.close();
    }
  };
  assert.equal(runs(), 5);
  // `vigil schedule` reads the file again each night: broken since it started, that night's run fails and keeps the last good list.
  const out = { write: () => true } as unknown as NodeJS.WritableStream;
  const night = await nightly({
    config: { db, portal: portal.url, dataset: DATASET, debug: false },
    events: file,
    log: memoryLogger(),
    now: () => new Date(),
    stdout: out,
    stderr: out,
    env: {},
  });
  assert.equal(night.ok, false);
  assert.match(night.summary, /events failed: --events .*events\.csv: line 2: label is empty/);
  assert.equal(runs(), 6, "the ingest itself ran");
  assert.deepEqual(stored(db), byDate([...builtIn, added]));
});

test("--help of widgets, run and schedule describes --events", async () => {
  for (const command of ["widgets", "run", "schedule"]) {
    const help = await runMain([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--events FILE\s+CSV of the site's own dated events \(date,label,source_url\).*\[env VIGIL_EVENTS\]/, command);
  }
  const widgets = (await runMain(["widgets", "--help"])).stdout;
  assert.match(widgets, /static\/vigil\/events\.csv/);
  assert.match(widgets, /2022-04-01/);
});
