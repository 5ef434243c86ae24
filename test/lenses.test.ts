/**
 * Every lens on a generated archive (fixtures/generate.ts), served by the fixture portal and kept by
 * `vigil ingest --dataset cjeq-bs86`, against counts made here from the raw rows: the daily series,
 * deaths by suicide counted and never listed (datasette's memorial and new_deaths queries), the cases
 * pending. Then later nights (fixtures/archive-nights.ts) close open cases: they join the lenses'
 * counts and memorials, and the provisional estimate learns from them, to the day computed here.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { loadMetadata } from "../datasette/metadata.ts";
import { ARCHIVE_NIGHT_RUN_TIMES, archiveNights } from "../fixtures/archive-nights.ts";
import { ARCHIVE_LAST, generateArchive, OPEN_DAYS } from "../fixtures/generate.ts";
import { ARCHIVE_ID, startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { dailySeries, MIN_LAG_OBSERVATIONS, provisional } from "../pipeline/store/figures.ts";
import { LENS_NAMES, LENSES, type LensName } from "../schemas/lenses.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { fixedClock, runMain } from "./helpers.ts";

const NIGHTS = 5;
/** A window of a generated archive: its deaths since COVID-19's first (every lens, the memorial read for every day in reasonable time). */
const WINDOW_FROM = "2020-03-01";
const listings = archiveNights(
  generateArchive({ count: 20_000, seed: 20 }).filter((row) => String(row.death_date) >= WINDOW_FROM),
  { seed: 20, nights: NIGHTS },
);
const { queries } = loadMetadata().databases.vigil;

/** A death as counted here from its raw row: its day as written (America/Chicago), manner, lenses. */
interface Death {
  casenumber: string;
  day: string;
  manner: string;
  lenses: Set<LensName>;
}

const CAUSE_FIELDS = ["primarycause", "primarycause_linea", "primarycause_lineb", "primarycause_linec", "secondarycause"];

/** The lenses of a raw row: the county's flags; COVID-19 without its flag when a cause names it. */
function lensesOf(row: RawRow): Set<LensName> {
  const covid = row.covid_related === undefined ? CAUSE_FIELDS.some((f) => /covid/i.test(String(row[f] ?? ""))) : row.covid_related === true;
  const flags: Record<LensName, boolean> = { covid, heat: row.heat_related === true, cold: row.cold_related === true, opioid: row.opioids === true, gun: row.gunrelated === true };
  return new Set(LENS_NAMES.filter((name) => flags[name]));
}

const deathsOf = (rows: readonly RawRow[]): Map<string, Death> =>
  new Map(rows.map((row) => [String(row.casenumber), { casenumber: String(row.casenumber), day: String(row.death_date).slice(0, 10), manner: String(row.manner ?? ""), lenses: lensesOf(row) }]));

const inLens = (deaths: Map<string, Death>, lens: LensName) => [...deaths.values()].filter((d) => d.lenses.has(lens));

function perDay(deaths: Death[]): Map<string, number> {
  const days = new Map<string, number>();
  for (const d of deaths) days.set(d.day, (days.get(d.day) ?? 0) + 1);
  return days;
}

const dayNumber = (day: string) => Date.parse(`${day}T00:00:00Z`) / 86_400_000;

let dir: string;
let db: string;
let portal: FixturePortal;
/** The run of each listing, the first load first. */
const runs: number[] = [];

async function ingestNight(night: number): Promise<void> {
  if (night > 0) portal.setRows(ARCHIVE_ID, listings[night]);
  const result = await runMain(["ingest", "--db", db, "--portal", portal.url, "--dataset", ARCHIVE_ID, "--log-format", "json"], { now: fixedClock(ARCHIVE_NIGHT_RUN_TIMES[night]) });
  assert.equal(result.code, 0, `night ${night}: vigil ingest failed: ${result.stderr.slice(-2000)}`);
  const conn = open();
  try {
    runs.push(conn.prepare("SELECT max(id) FROM runs WHERE status = 'success'").pluck().get() as number);
  } finally {
    conn.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-lenses-"));
  db = join(dir, "vigil.db");
  portal = await startPortal({ datasets: { [ARCHIVE_ID]: listings[0] } });
  await ingestNight(0);
});

after(async () => {
  await portal?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function open() {
  return new Database(db, { readonly: true });
}

type Conn = ReturnType<typeof open>;

/** The memorial query, prepared once per connection. */
const memorials = new WeakMap<Conn, ReturnType<Conn["prepare"]>>();

/** The case numbers datasette's memorial query lists for a day (empty: its latest day) in a lens. */
function memorial(conn: Conn, lens: LensName, date: string): string[] {
  let statement = memorials.get(conn);
  if (statement === undefined) memorials.set(conn, (statement = conn.prepare(queries.memorial.sql)));
  return (statement.all({ date, lens }) as Array<{ casenumber: string }>).map((r) => r.casenumber);
}

/** Every death of the lens on its day, as the county lists it, but deaths by suicide. */
const listedOf = (deaths: Death[]) => deaths.filter((d) => d.manner !== "SUICIDE");

/** The series drawn, as a count per day (days with deaths), and its total. */
function assertSeries(conn: Conn, lens: LensName, deaths: Death[], what: string, runId?: number): void {
  const series = dailySeries(conn, runId, lens);
  const drawn = new Map(series.filter((d) => d.deaths > 0).map((d) => [d.date, d.deaths]));
  assert.deepEqual([...drawn].sort(), [...perDay(deaths)].sort(), `${what}, ${lens}: deaths per Chicago day`);
  assert.equal(series.at(-1)?.cumulative_deaths ?? 0, deaths.length, `${what}, ${lens}: the running total`);
}

test("the generated archive ends as the real one does: open cases only in its last months, about four in ten in the last; later nights the same for the same seed", () => {
  const deaths = [...deathsOf(listings[0]).values()];
  const before = (days: number) => deaths.filter((d) => dayNumber(d.day) > ARCHIVE_LAST - days);
  const openShare = (ds: Death[]) => ds.filter((d) => d.manner === "PENDING").length / ds.length;
  const openAt = listings[0].filter((r) => r.manner === "PENDING" && r.primarycause === undefined).map((r) => dayNumber(String(r.death_date).slice(0, 10)));
  assert.ok(openAt.length > 0 && openAt.every((day) => day > ARCHIVE_LAST - OPEN_DAYS), "no case is open before the last months (older PENDING cases carry a cause)");
  const last = openShare(before(30));
  assert.ok(last > 0.25 && last < 0.5, `open in the final month: ${last.toFixed(2)}`);
  assert.ok(openShare(before(OPEN_DAYS)) < last, "the share rises toward the end");
  const open = listings[0].filter((r) => r.manner === "PENDING" && r.primarycause === undefined);
  assert.ok(open.every((r) => r.opioids === undefined && r.gunrelated === undefined && r.covid_related === undefined && r.heat_related === false && r.cold_related === false), "an open case carries no flag yet");
  const small = () => archiveNights(generateArchive({ count: 3000, seed: 5 }), { seed: 5, nights: 2 });
  assert.deepEqual(small(), small());
  const stamps = listings[1].filter((row, i) => row !== listings[0][i]).map((row) => String(row[":updated_at"]).slice(0, 10));
  assert.ok(stamps.length > 0 && stamps.every((day) => day === runDay(1)), "every change of a night is stamped that night");
});

test("per lens, the first load's daily counts equal a count by hand of the raw rows, day by day", () => {
  const conn = open();
  try {
    assert.equal(conn.prepare("SELECT count(*) FROM rejects").pluck().get(), 0, "every generated row is kept");
    const deaths = deathsOf(listings[0]);
    for (const lens of LENS_NAMES) {
      const mine = inLens(deaths, lens);
      assert.ok(mine.length > 0, `${lens}: the archive holds deaths of the lens`);
      assertSeries(conn, lens, mine, "first load");
      assert.equal(conn.prepare(`SELECT count(*) FROM ${LENSES[lens].view}`).pluck().get(), mine.length, `${lens}: its view`);
    }
  } finally {
    conn.close();
  }
});

test("deaths by suicide are counted in every lens's series, and neither the memorial (any day) nor the feed lists one", () => {
  const conn = open();
  try {
    const deaths = deathsOf(listings[0]);
    const suicides = [...deaths.values()].filter((d) => d.manner === "SUICIDE");
    assert.ok(inLens(deaths, "gun").some((d) => d.manner === "SUICIDE"), "the gun lens holds deaths by suicide (counted by its series, checked above)");
    const suicide = new Set(suicides.map((d) => d.casenumber));
    for (const lens of LENS_NAMES) {
      const mine = inLens(deaths, lens);
      const byDay = new Map<string, string[]>();
      for (const d of listedOf(mine)) byDay.set(d.day, [...(byDay.get(d.day) ?? []), d.casenumber]);
      // every day with a death of the lens, a day of deaths by suicide only among them
      for (const day of new Set(mine.map((d) => d.day))) {
        assert.deepEqual(memorial(conn, lens, day).sort(), (byDay.get(day) ?? []).sort(), `${lens}, ${day}: the memorial lists the lens's deaths but deaths by suicide`);
      }
      const latest = [...byDay.keys()].sort().at(-1)!;
      assert.deepEqual(memorial(conn, lens, "").sort(), byDay.get(latest)!.sort(), `${lens}: an empty date is the latest day with someone listed`);
      const feed = conn.prepare(queries.new_deaths.sql).all({ lens }) as Array<{ atom_content_html: string }>;
      assert.ok(feed.length >= 1, `${lens}: the first load has its entry`);
      const listedInFeed = feed.flatMap((e) => [...e.atom_content_html.matchAll(/cases\/(ME\d{4}-\d+)/g)].map((m) => m[1]));
      assert.equal(listedInFeed.filter((c) => suicide.has(c)).length, 0, `${lens}: the feed lists no death by suicide`);
    }
  } finally {
    conn.close();
  }
});

test("per lens, pending is the number of cases still PENDING that are not in the lens", () => {
  const conn = open();
  try {
    const deaths = [...deathsOf(listings[0]).values()];
    const open = deaths.filter((d) => d.manner === "PENDING");
    assert.ok(open.length > 50, "the archive's last months hold open cases");
    for (const lens of LENS_NAMES) {
      const p = provisional(conn, undefined, lens);
      assert.equal(p.pending, open.filter((d) => !d.lenses.has(lens)).length, `${lens}: pending`);
      assert.deepEqual({ observed: p.lag_observed, source: p.lag_source, days: p.lag_days }, { observed: 0, source: "default", days: LENSES[lens].defaultLagDays }, `${lens}: the first load measures no lag`);
    }
  } finally {
    conn.close();
  }
});

/** The deaths of each lens that joined it with `night`'s listing: new deaths in the lens, and cases closed into it. */
function joinedOn(night: number, lens: LensName): Death[] {
  const before = deathsOf(listings[night - 1]);
  return inLens(deathsOf(listings[night]), lens).filter((d) => !before.get(d.casenumber)?.lenses.has(lens));
}

/** The day (America/Chicago) of a listing's run: noon UTC is the morning in Chicago. */
const runDay = (night: number) => ARCHIVE_NIGHT_RUN_TIMES[night].slice(0, 10);

/** The nearest-rank 95th percentile: the ceil(0.95 n)-th smallest. */
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(0.95 * values.length) - 1];

/** A day plus `days`, YYYY-MM-DD. */
const plusDays = (day: string, days: number) => new Date((dayNumber(day) + days) * 86_400_000).toISOString().slice(0, 10);

/** The provisional row expected after `night`, from the lags of the deaths seen joining the lens so far. */
function expectedProvisional(night: number, lens: LensName, lags: number[]) {
  const deaths = deathsOf(listings[night]);
  const observed = lags.length >= MIN_LAG_OBSERVATIONS;
  const lagDays = observed ? p95(lags) : LENSES[lens].defaultLagDays;
  // every night changes the record (cases close, deaths arrive): the day of the night's run
  const from = plusDays(runDay(night), 1 - lagDays);
  return {
    lens,
    as_of_date: runDay(night),
    pending: [...deaths.values()].filter((d) => d.manner === "PENDING" && !d.lenses.has(lens)).length,
    lag_observed: lags.length,
    lag_days: lagDays,
    lag_source: observed ? "observed" : "default",
    provisional_from: from,
  };
}

test("later nights: closed cases join their lens's counts and memorial (deaths by suicide only its counts), and the provisional estimate learns from each", async () => {
  const lags = Object.fromEntries(LENS_NAMES.map((lens) => [lens, [] as number[]])) as Record<LensName, number[]>;
  const sources = new Set<string>();
  const closedInto = Object.fromEntries(LENS_NAMES.map((lens) => [lens, 0])) as Record<LensName, number>;
  for (let night = 1; night <= NIGHTS; night++) {
    const joining = Object.fromEntries(LENS_NAMES.map((lens) => [lens, joinedOn(night, lens)])) as Record<LensName, Death[]>;
    let conn = open();
    const observedBefore = Object.fromEntries(LENS_NAMES.map((lens) => [lens, provisional(conn, undefined, lens).lag_observed]));
    try {
      for (const lens of LENS_NAMES) for (const d of joining[lens]) assert.ok(!memorial(conn, lens, d.day).includes(d.casenumber), `night ${night}, ${lens}: not listed before it joins`);
    } finally {
      conn.close();
    }
    await ingestNight(night);
    conn = open();
    try {
      const deaths = deathsOf(listings[night]);
      const before = deathsOf(listings[night - 1]);
      for (const lens of LENS_NAMES) {
        assertSeries(conn, lens, inLens(deaths, lens), `night ${night}`);
        for (const d of joining[lens]) {
          assert.equal(memorial(conn, lens, d.day).includes(d.casenumber), d.manner !== "SUICIDE", `night ${night}, ${lens}: a ${d.manner} death that joined is listed unless by suicide`);
          if (before.has(d.casenumber)) closedInto[lens]++;
          lags[lens].push(Math.max(0, dayNumber(runDay(night)) - dayNumber(d.day)));
        }
        const p = provisional(conn, undefined, lens);
        assert.equal(p.lag_observed - observedBefore[lens], joining[lens].length, `night ${night}, ${lens}: one observation more per death that joined`);
        assert.deepEqual(p, expectedProvisional(night, lens, lags[lens]), `night ${night}, ${lens}: the provisional days`);
        if (lens === "opioid") sources.add(p.lag_source);
      }
    } finally {
      conn.close();
    }
  }
  assert.deepEqual(sources, new Set(["default", "observed"]), `the opioid lens's lag is first its default, then observed (${lags.opioid.length} observations)`);
  for (const lens of ["opioid", "gun", "heat", "cold"] as const) assert.ok(closedInto[lens] > 0, `${lens}: open cases closed into the lens`);
  const closedSuicides = LENS_NAMES.flatMap((lens) => Array.from({ length: NIGHTS }, (_, i) => joinedOn(i + 1, lens))).flat().filter((d) => d.manner === "SUICIDE");
  assert.ok(closedSuicides.length > 0, "a death by suicide joined a lens on a later night");
  // what was published after the first load stays as it was
  const conn = open();
  try {
    for (const lens of LENS_NAMES) assertSeries(conn, lens, inLens(deathsOf(listings[0]), lens), "as of the first load", runs[0]);
  } finally {
    conn.close();
  }
});

/** The case numbers the new_deaths feed of a lens lists in each run's entry. */
function feedByRun(lens: LensName): Map<number, string[]> {
  const conn = open();
  try {
    const entries = conn.prepare(queries.new_deaths.sql).all({ lens }) as Array<{ atom_id: string; atom_content_html: string }>;
    return new Map(entries.map((e) => [Number(/run-(\d+)/.exec(e.atom_id)![1]), [...e.atom_content_html.matchAll(/cases\/(ME\d{4}-\d+)/g)].map((m) => m[1]).sort()]));
  } finally {
    conn.close();
  }
}

test("each night's feed entry of a lens lists the new deaths of the lens it brought, never a death by suicide", () => {
  assert.equal(runs.length, NIGHTS + 1, "the nights were ingested");
  for (const lens of LENS_NAMES) {
    const feed = feedByRun(lens);
    const suicides = new Set([...deathsOf(listings[NIGHTS]).values()].filter((d) => d.manner === "SUICIDE").map((d) => d.casenumber));
    assert.equal([...feed.values()].flat().filter((c) => suicides.has(c)).length, 0, `${lens}: no entry lists a death by suicide`);
    for (let night = 1; night <= NIGHTS; night++) {
      const before = deathsOf(listings[night - 1]);
      const arrived = joinedOn(night, lens).filter((d) => !before.has(d.casenumber));
      const listed = feed.get(runs[night]) ?? [];
      for (const d of arrived) assert.equal(listed.includes(d.casenumber), d.manner !== "SUICIDE", `${lens}, night ${night}: a new ${d.manner} death`);
    }
  }
});

test("a case closed into a lens on a later night is in the feed entry of the run that put it in the lens, unless by suicide", () => {
  assert.equal(runs.length, NIGHTS + 1, "the nights were ingested");
  for (const lens of ["opioid", "gun"] as const) {
    const feed = feedByRun(lens);
    for (let night = 1; night <= NIGHTS; night++) {
      const expected = listedOf(joinedOn(night, lens)).map((d) => d.casenumber).sort();
      assert.deepEqual(feed.get(runs[night]) ?? [], expected, `${lens}, night ${night}: the people who joined the memorial that night`);
    }
  }
});
