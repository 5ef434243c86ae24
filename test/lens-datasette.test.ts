/**
 * The lenses in the real datasette, private and public: each lens's view, the memorial, the figures
 * and the feed with `lens`, on an archive loaded by `vigil run --dataset archive` from the fixture
 * portal. Each figure is the same rows vigil's own functions give, digit for digit (one home), and
 * no death by suicide is listed in any lens.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { generateArchive } from "../fixtures/generate.ts";
import { ARCHIVE_ID, startPortal, type FixturePortal } from "../fixtures/portal.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { LENS_NAMES, LENSES } from "../schemas/lenses.ts";
import { startDatasette, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import { publish } from "../pipeline/publish/publish.ts";
import { dailySeries, provisional, rates } from "../pipeline/store/figures.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { fixedClock, memoryLogger, ROOT, runMain } from "./helpers.ts";
import { ensureDatasette, fetchJson, parseAtom, type Row } from "./datasette-helpers.ts";

const DAY = "2026-07-30";
/** On DAY: a gun homicide the memorial and the feed list, and a gun death by suicide they must not. */
const GUN_DEATHS: RawRow[] = [
  { casenumber: "ME2026-91001", manner: "HOMICIDE", age: "31", gender: "Male" },
  { casenumber: "ME2026-91002", manner: "SUICIDE", age: "58", gender: "Male" },
].map((row, i) => ({
  ":id": `row-gun-${i}`,
  ":updated_at": "2026-07-31T00:00:00.000Z",
  death_date: `${DAY}T20:00:00.000`,
  race: "White",
  latino: false,
  primarycause: "GUNSHOT WOUND OF CHEST",
  gunrelated: true,
  residence_city: "Cicero",
  ...row,
}));

let dir: string;
let dbPath: string;
let portal: FixturePortal;
let live: DatasetteServer;
let locked: DatasetteServer;
let db: Database.Database;

before(async () => {
  ensureDatasette(ROOT);
  dir = mkdtempSync(join(tmpdir(), "vigil-lens-datasette-"));
  dbPath = join(dir, "vigil.db");
  // the archive, then a night that adds the two gun-related deaths: few enough to be listed one by one
  const archive = generateArchive({ count: 8_000, seed: 11 });
  portal = await startPortal({ datasets: { [ARCHIVE_ID]: archive } });
  for (const [rows, at] of [[archive, "2026-07-31T12:00:00Z"], [[...archive, ...GUN_DEATHS], "2026-08-01T12:00:00Z"]] as const) {
    portal.setRows(ARCHIVE_ID, rows);
    const night = await runMain(["run", "--db", dbPath, "--portal", portal.url, "--dataset", "archive"], { now: fixedClock(at) });
    assert.equal(night.code, 0, night.stderr);
  }
  const published = await publish({ db: dbPath, out: join(dir, "public"), now: fixedClock("2026-08-01T13:00:00Z"), log: memoryLogger() });
  [live, locked] = await Promise.all([
    startDatasette({ db: dbPath, port: 0 }),
    startDatasette({ db: dbPath, snapshot: { path: published.path, manifest: published.manifest }, port: 0 }),
  ]);
  db = openDatabase(dbPath, { readonly: true });
});

after(async () => {
  db?.close();
  await Promise.all([live?.stop(), locked?.stop(), portal?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const rowsOf = async (server: DatasetteServer, path: string) => {
  const { status, body } = await fetchJson(server, path);
  assert.equal(status, 200, path);
  return body as Row[];
};

test("a database of the whole archive says so: its title, its opening and its source are the archive's", async () => {
  for (const server of [live, locked]) {
    const home = await (await fetch(`${server.databaseUrl.replace(/\/[^/]+$/, "")}/`)).text();
    assert.match(home, /<title>Cook County Medical Examiner: the case archive: /);
    assert.match(home, /Every death investigated by the Cook County \(Illinois\) Medical Examiner since August 2014/);
    assert.doesNotMatch(home, /Every COVID-19 death investigated/);
    assert.match(home, /datacatalog\.cookcountyil\.gov\/d\/cjeq-bs86/);
  }
});

test("each lens has its view, in the private database and the public record, without addresses", async () => {
  for (const name of LENS_NAMES) {
    const { view, field } = LENSES[name];
    const expected = db.prepare(`SELECT count(*) FROM cases WHERE ${field} = 1 AND removed_run_id IS NULL`).pluck().get() as number;
    assert.ok(expected > 0, `${name}: the archive holds some`);
    for (const server of [live, locked]) {
      const { status, body } = await fetchJson(server, `/vigil/${view}.json?_size=1`);
      assert.equal(status, 200, `${view}`);
      assert.equal(body.filtered_table_rows_count, expected, `${view} counts the lens's deaths`);
    }
    const columns = (await fetchJson(locked, `/vigil/${view}.json?_size=1`)).body.columns as string[];
    assert.ok(!columns.includes("incident_address") && !columns.includes("latitude"), `${view}: nothing withheld shows in public`);
  }
});

test("the figures with lens= are the rows vigil's own functions give, digit for digit", async () => {
  for (const name of ["heat", "opioid", "gun"] as const) {
    for (const server of [live, locked]) {
      assert.deepEqual(await rowsOf(server, `/vigil/daily_deaths_as_of.json?lens=${name}&_shape=array`), dailySeries(db, undefined, name), `${name}: daily series`);
      assert.deepEqual(await rowsOf(server, `/vigil/rates.json?lens=${name}&_shape=array`), rates(db, undefined, name), `${name}: rates`);
      assert.deepEqual(await rowsOf(server, `/vigil/provisional.json?lens=${name}&_shape=array`), [provisional(db, undefined, name)], `${name}: provisional`);
    }
  }
  assert.deepEqual(await rowsOf(live, "/vigil/daily_deaths_as_of.json?lens=flood&_shape=array"), [], "a name that is no lens answers nothing");
  assert.deepEqual(await rowsOf(live, "/vigil/daily_deaths_as_of.json?_shape=array"), dailySeries(db), "no lens: COVID-19, as before");
});

test("the memorial and the feed of a lens list its people, never a death by suicide", async () => {
  for (const server of [live, locked]) {
    const people = await rowsOf(server, `/vigil/memorial.json?lens=gun&date=${DAY}&_shape=array`);
    const numbers = people.map((p) => p.casenumber);
    assert.ok(numbers.includes("ME2026-91001"), "the homicide is listed");
    assert.ok(!numbers.includes("ME2026-91002"), "the death by suicide is not");
    const expected = db.prepare("SELECT casenumber FROM gun_deaths WHERE death_date = ? AND coalesce(manner, '') != 'SUICIDE' ORDER BY casenumber").pluck().all(DAY);
    assert.deepEqual([...numbers].sort(), expected);
    const feed = await fetch(`${server.databaseUrl}/new_deaths.atom?lens=gun`);
    assert.equal(feed.status, 200);
    const atom = parseAtom(await feed.text());
    assert.match(atom.id, /\/vigil\/new_deaths\.atom\?lens=gun$/, "a feed of its own, at a URL that never changes");
    assert.equal(atom.self, atom.id);
    assert.equal(atom.entries.length, 2, "two runs added people");
    assert.ok(atom.entries.every((e) => /\/gun$/.test(e.id)), "the lens's own entry ids");
    const [second, first] = atom.entries;
    assert.match(second.title, /^1 person added to the memorial of gun-related deaths by run 2$/);
    assert.ok(second.content.includes("ME2026-91001"), "the night's homicide is listed");
    assert.ok(second.link.endsWith(`/vigil/memorial?lens=gun&date=${DAY}`), "the entry links to the lens's memorial, which lists no death by suicide");
    assert.ok(!second.content.includes("ME2026-91002"), "the night's death by suicide is not");
    assert.match(first.content, /too many to list here/);
    const suicides = db.prepare("SELECT casenumber FROM gun_deaths WHERE manner = 'SUICIDE'").pluck().all() as string[];
    assert.ok(suicides.length > 1);
    for (const casenumber of suicides) assert.ok(!(second.content + first.content).includes(casenumber), "no death by suicide in the feed");
  }
});
