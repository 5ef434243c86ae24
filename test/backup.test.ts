/**
 * `vigil backup` and `vigil restore`: consistent online copies taken while a run writes, names
 * given only to complete files, rotation, refusals of damaged or unknown backups and of a restore
 * during a run, and a restore that gives back every row.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal, type FixturePortal } from "../fixtures/portal.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { backup, BACKUP_NAME } from "../pipeline/ops/backup.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { acquireWriteLock } from "../pipeline/store/lock.ts";
import { cliEnv, FAST_HTTP, fixedClock, memoryLogger, ROOT, runMain, VIGIL_BIN } from "./helpers.ts";

const DATASET = "3trz-enys";
const first = generateCovidView({ seed: 11, count: 600 });
const second = [...first.slice(50), ...generateCovidView({ seed: 12, count: 4000 }).map((row, i) => ({ ...row, ":id": `row-b${i}`, casenumber: `ME2024-${String(i).padStart(5, "0")}` }))];

let dir: string;
let portal: FixturePortal;
/** A database after the first night's ingest, copied by each test that needs one. */
let seeded: string;

const runIngest = (db: string, now: string) => ingest({ config: { db, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(now), http: FAST_HTTP });

/** A clock that moves one minute on each reading, so each backup gets its own name. */
function tickingClock(start = "2026-11-30T04:15:00Z"): () => Date {
  let at = Date.parse(start);
  return () => new Date((at += 60_000));
}

/** Every table's rows, by table name, in a stable order. */
function allRows(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    const sorted = (name: string) => db.prepare(`SELECT * FROM "${name}"`).raw().all().map((row) => JSON.stringify(row)).sort();
    return Object.fromEntries(tables.map((name) => [name, sorted(name)]));
  } finally {
    db.close();
  }
}

function cases(path: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT * FROM cases ORDER BY casenumber").all();
  } finally {
    db.close();
  }
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}

async function copyOfSeed(name: string): Promise<string> {
  const path = join(dir, name, "vigil.db");
  mkdirSync(join(dir, name), { recursive: true });
  const source = new Database(seeded, { readonly: true });
  await source.backup(path);
  source.close();
  return path;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-backup-"));
  portal = await startPortal({ datasets: { [DATASET]: first } });
  seeded = join(dir, "seed", "vigil.db");
  await runIngest(seeded, "2026-11-25T12:00:00Z");
});

after(async () => {
  await portal?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a backup taken while an ingest writes is consistent: the state before the run or after it", async () => {
  const db = await copyOfSeed("concurrent");
  const beforeRun = cases(db);
  const to = join(dir, "concurrent", "backups");
  portal.setRows(DATASET, second);
  let done = false;
  const writing = runIngest(db, "2026-11-26T12:00:00Z").finally(() => (done = true));
  const clock = tickingClock();
  // another process backing up too, as a timer would while the nightly run writes
  const child = spawn(process.execPath, [VIGIL_BIN, "backup", "--to", to, "--db", db, "--keep", "100"], { cwd: ROOT, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let childErr = "";
  child.stderr.on("data", (chunk) => (childErr += chunk));
  const childDone = new Promise<number | null>((resolve) => child.on("close", resolve));
  let taken = 0;
  while (!done) {
    await backup({ db, to, keep: 100, now: clock, log: memoryLogger() });
    taken++;
  }
  await writing;
  assert.equal(await childDone, 0, childErr);
  await backup({ db, to, keep: 100, now: clock, log: memoryLogger() });
  const afterRun = cases(db);
  assert.notDeepEqual(afterRun, beforeRun);
  const files = readdirSync(to);
  assert.ok(taken >= 1 && files.length >= 3, `${files.length} backups`);
  let sawBefore = false;
  let sawAfter = false;
  for (const file of files) {
    assert.match(file, BACKUP_NAME);
    const path = join(to, file);
    assert.equal(integrity(path), "ok", file);
    const rows = cases(path);
    const isBefore = rows.length === beforeRun.length && JSON.stringify(rows) === JSON.stringify(beforeRun);
    const isAfter = rows.length === afterRun.length && JSON.stringify(rows) === JSON.stringify(afterRun);
    assert.ok(isBefore || isAfter, `${file} holds the state before or after the run (${rows.length} cases)`);
    sawBefore ||= isBefore;
    sawAfter ||= isAfter;
    assert.ok(!existsSync(`${path}-wal`) && !existsSync(`${path}-journal`), "a backup is one self-contained file");
  }
  assert.ok(sawAfter, "the backup after the run holds its result");
  assert.ok(sawBefore, "a backup during the run holds the state before it");
});

test("a backup killed at any moment leaves no file under a backup's name that is not complete", async () => {
  const db = await copyOfSeed("killed");
  const filler = new Database(db);
  filler.exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)");
  const insert = filler.prepare("INSERT INTO filler (data) VALUES (randomblob(4096))");
  filler.transaction(() => { for (let i = 0; i < 20_000; i++) insert.run(); })();
  filler.close();
  const to = join(dir, "killed", "backups");
  let midway = 0;
  for (const delay of [200, 400, 600, 900, 1300]) {
    const child = spawn(process.execPath, [VIGIL_BIN, "backup", "--to", to, "--db", db, "--keep", "100"], { cwd: ROOT, env: cliEnv(), stdio: "ignore" });
    const closed = new Promise((resolve) => child.on("close", resolve));
    await sleep(delay);
    child.kill("SIGKILL");
    await closed;
    if (!existsSync(to)) continue;
    if (readdirSync(to).some((name) => name.startsWith(".vigil-backup-"))) midway++;
    for (const file of readdirSync(to).filter((name) => BACKUP_NAME.test(name))) {
      const copy = new Database(join(to, file), { readonly: true });
      try {
        assert.equal(copy.pragma("integrity_check", { simple: true }), "ok", `${file} after a kill at ${delay} ms`);
        assert.equal(copy.prepare("SELECT count(*) FROM filler").pluck().get(), 20_000, `${file} is complete`);
      } finally {
        copy.close();
      }
    }
  }
  assert.ok(midway > 0, "at least one kill landed while a backup was being written");
  // the next backup clears what killed ones left under their temporary names
  const result = await runMain(["backup", "--to", to, "--db", db, "--keep", "2"], { now: fixedClock("2027-01-01T00:00:00Z") });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, join(to, "vigil-20270101T000000Z-run1.db") + "\n");
  const left = readdirSync(to);
  assert.ok(left.every((name) => BACKUP_NAME.test(name)), `only backups left: ${left.join(", ")}`);
  assert.ok(left.length <= 2);
});

test("backup then restore gives back identical rows in every table; the replaced database is kept, its WAL included", async () => {
  const db = await copyOfSeed("restore");
  const to = join(dir, "restore", "backups");
  const made = await runMain(["backup", "--to", to, "--db", db], { now: fixedClock("2026-11-30T04:15:00Z") });
  assert.equal(made.code, 0, made.stderr);
  const file = made.stdout.trim();
  assert.equal(file, join(to, "vigil-20261130T041500Z-run1.db"));
  const backedUp = allRows(db);
  assert.deepEqual(allRows(file), backedUp);

  portal.setRows(DATASET, second);
  await runIngest(db, "2026-11-26T12:00:00Z");
  // a write still in the WAL, held there by an open connection
  const open = new Database(db);
  open.pragma("wal_autocheckpoint = 0");
  open.prepare("UPDATE cases SET notes = 'only in the WAL' WHERE rowid = 1").run();
  const replaced = allRows(db);
  assert.ok(existsSync(`${db}-wal`));

  const restored = await runMain(["restore", file, "--db", db]);
  open.close();
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /^restored .* \(run 1, 600 cases\); the previous database is at .*before-restore\n$/);
  assert.deepEqual(allRows(db), backedUp, "every table as it was backed up");
  assert.deepEqual(allRows(`${db}.before-restore`), replaced, "the replaced database, with what was in its WAL");
  assert.equal(integrity(db), "ok");

  // the next run carries on from the restored state
  await runIngest(db, "2026-11-27T12:00:00Z");
  const reference = await copyOfSeed("restore-reference");
  await runIngest(reference, "2026-11-27T12:00:00Z");
  assert.deepEqual(cases(db), cases(reference), "as if the replaced night had never happened");
  const conn = openDatabase(db, { readonly: true });
  assert.deepEqual(conn.prepare("SELECT id, status FROM runs ORDER BY id").raw().all(), [[1, "success"], [2, "success"]]);
  conn.close();
});

test("restore refuses a damaged backup, an unknown schema and a file that is not vigil's, changing nothing", async () => {
  const db = await copyOfSeed("refuse");
  const to = join(dir, "refuse", "backups");
  const { path } = await backup({ db, to, keep: 7, now: fixedClock(), log: memoryLogger() });
  const original = allRows(db);
  const bytes = readFileSync(path);
  const pageSize = bytes.readUInt16BE(16);
  const damaged = Buffer.from(bytes);
  for (let page = 2; page * pageSize < damaged.length; page += 3) {
    for (let i = 0; i < 12; i++) damaged[page * pageSize + i] ^= 0xa5;
  }
  writeFileSync(join(to, "damaged.db"), damaged);

  const future = join(to, "future.db");
  copyFileSync(path, future);
  const f = new Database(future);
  f.prepare("INSERT INTO migrations (name, applied_at) VALUES ('999-from-the-future', '2030-01-01')").run();
  f.close();

  const foreign = join(to, "foreign.db");
  const other = new Database(foreign);
  other.exec("CREATE TABLE cases (casenumber TEXT)");
  other.close();
  writeFileSync(join(to, "notes.txt"), "not a database at all, just some words that are long enough ".repeat(20));

  for (const [name, message] of [
    ["damaged.db", /damaged\.db (failed its integrity check|is not a sound SQLite database)/],
    ["future.db", /future\.db has a schema this version of vigil does not know \(migrations .*999-from-the-future\)/],
    ["foreign.db", /foreign\.db is not a vigil database \(it has no migrations table\)/],
    ["notes.txt", /notes\.txt is not a sound SQLite database: file is not a database/],
    ["missing.db", /no backup at .*missing\.db/],
  ] as const) {
    const result = await runMain(["restore", join(to, name), "--db", db]);
    assert.equal(result.code, 1, `${name}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
    assert.ok(result.stderr.startsWith("vigil restore: "));
  }
  assert.deepEqual(allRows(db), original, "the database is untouched");
  assert.ok(!existsSync(`${db}.before-restore`));
  assert.deepEqual(readdirSync(join(dir, "refuse")).sort(), ["backups", "vigil.db"].concat(readdirSync(join(dir, "refuse")).filter((n) => n.startsWith("vigil.db-"))).sort(), "no temporary copy left");
});

test("restore refuses while a run holds the write lock", async () => {
  const db = await copyOfSeed("locked");
  const { path } = await backup({ db, to: join(dir, "locked", "backups"), keep: 7, now: fixedClock(), log: memoryLogger() });
  const conn = openDatabase(db);
  const lock = acquireWriteLock(db, conn);
  try {
    const result = await runMain(["restore", path, "--db", db]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^vigil restore: another run is in progress on .*vigil\.db \(wait for it to finish; only one run writes at a time\)\n$/);
    assert.ok(!existsSync(`${db}.before-restore`));
  } finally {
    lock.release();
    conn.close();
  }
  const result = await runMain(["restore", path, "--db", db]);
  assert.equal(result.code, 0, result.stderr);
});

test("rotation keeps the newest N of vigil's backups and leaves other files alone", async () => {
  const db = await copyOfSeed("rotate");
  const to = join(dir, "rotate", "backups");
  mkdirSync(to, { recursive: true });
  writeFileSync(join(to, "README.txt"), "mine\n");
  writeFileSync(join(to, "vigil-handmade.db"), "mine too\n");
  for (let i = 1; i <= 6; i++) {
    const result = await runMain(["backup", "--to", to, "--db", db, "--keep", "3"], { now: fixedClock(`2026-12-01T00:0${i}:00Z`) });
    assert.equal(result.code, 0, result.stderr);
  }
  assert.deepEqual(readdirSync(to).sort(), [
    "README.txt",
    "vigil-20261201T000400Z-run1.db",
    "vigil-20261201T000500Z-run1.db",
    "vigil-20261201T000600Z-run1.db",
    "vigil-handmade.db",
  ]);
  const byDefault = await runMain(["backup", "--to", to, "--db", db], { now: fixedClock("2026-12-01T00:07:00Z") });
  assert.equal(byDefault.code, 0);
  assert.equal(readdirSync(to).filter((name) => BACKUP_NAME.test(name)).length, 4, "the default keeps 7");
});

test("usage errors exit 2; a missing database exits 1; --help describes both commands", async () => {
  for (const [args, message] of [
    [["backup"], /--to is required/],
    [["backup", "--to", dir, "--keep", "0"], /--keep must be a whole number of at least 1, got "0"/],
    [["backup", "--to", ""], /--to needs a folder/],
    [["restore"], /restore needs the backup FILE/],
    [["restore", "a.db", "b.db"], /unexpected argument "b\.db"/],
    [["run", "--backup", ""], /--backup needs a folder/],
  ] as const) {
    const result = await runMain([...args]);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  const missing = await runMain(["backup", "--to", join(dir, "none"), "--db", join(dir, "none", "vigil.db")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vigil backup: no database at .*\n$/);
  for (const name of ["backup", "restore"]) {
    const help = await runMain([name, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, name === "backup" ? /online backup API[\s\S]*--to DIR[\s\S]*--keep N/ : /write lock[\s\S]*before-restore/);
  }
  const run = await runMain(["run", "--help"]);
  assert.match(run.stdout, /--backup DIR .*\[env VIGIL_BACKUP\]/);
});

test("vigil run --backup backs up after a successful ingest and says so in its summary", async () => {
  const db = await copyOfSeed("nightly");
  const to = join(dir, "nightly", "backups");
  portal.setRows(DATASET, first);
  const result = await runMain(["run", "--db", db, "--portal", portal.url, "--dataset", DATASET, "--keep", "2"], {
    env: { VIGIL_BACKUP: to },
    now: fixedClock("2026-11-30T04:15:00Z"),
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^run 2: ingest ok \(.*\), widgets skipped \(no --site\), backed up to vigil-20261130T041500Z-run2\.db\n$/);
  assert.deepEqual(readdirSync(to), ["vigil-20261130T041500Z-run2.db"]);

  // a source that suddenly has no cases: the run refuses it, and nothing is backed up
  portal.setRows(DATASET, []);
  const failed = await runMain(["run", "--db", db, "--portal", portal.url, "--dataset", DATASET, "--backup", to], { now: fixedClock("2026-11-30T05:15:00Z") });
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /backup skipped \(ingest failed\)/);
  assert.deepEqual(readdirSync(to), ["vigil-20261130T041500Z-run2.db"]);
});

test("a backup's own hook copies it off the machine: `backup --then` and `run --backup-then`, every night, never with the token", async () => {
  const db = await copyOfSeed("offsite");
  const to = join(dir, "offsite", "backups");
  const remote = join(dir, "offsite", "remote");
  mkdirSync(remote, { recursive: true });
  const copy = `cp "$VIGIL_BACKUP_FILE" ${remote}/ && env > ${remote}/env-$(basename "$VIGIL_BACKUP_FILE" .db)`;
  const env = { SOCRATA_APP_TOKEN: "secret-token-for-the-hook-test" };
  const taken = await runMain(["backup", "--to", to, "--db", db, "--then", copy], { env, now: fixedClock("2026-12-02T04:00:00Z") });
  assert.equal(taken.code, 0, taken.stderr);
  const file = "vigil-20261202T040000Z-run1.db";
  assert.deepEqual(readFileSync(join(remote, file)), readFileSync(join(to, file)), "the hook saw the finished backup");
  const seen = readFileSync(join(remote, `env-${file.slice(0, -3)}`), "utf8");
  assert.match(seen, new RegExp(`^VIGIL_BACKUP_DIR=${to}$`, "m"));
  assert.match(seen, new RegExp(`^VIGIL_DB=${db}$`, "m"));
  assert.doesNotMatch(seen, /secret-token/);

  // the nightly job: the source has not changed, so --then is skipped, but the backup's hook runs
  portal.setRows(DATASET, first);
  const nights = ["2026-12-03T04:00:00Z", "2026-12-04T04:00:00Z"];
  for (const now of nights) {
    const run = await runMain(["run", "--db", db, "--portal", portal.url, "--dataset", DATASET, "--backup", to, "--then", "echo site hook"], {
      env: { ...env, VIGIL_BACKUP_THEN: copy },
      now: fixedClock(now),
    });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /site hook/);
  }
  assert.equal(readdirSync(remote).filter((name) => BACKUP_NAME.test(name)).length, 3, "one copy a night");

  // a hook that fails fails the command, and keeps the backup
  const failing = await runMain(["backup", "--to", to, "--db", db, "--then", "exit 3"], { now: fixedClock("2026-12-05T04:00:00Z") });
  assert.equal(failing.code, 1);
  assert.match(failing.stderr, /^vigil backup: vigil-20261205T040000Z-run\d+\.db was taken, but --then exited 3$/m);
  assert.ok(existsSync(join(to, failing.stdout.trim().split("/").at(-1) as string)));
  const night = await runMain(["run", "--db", db, "--portal", portal.url, "--dataset", DATASET, "--backup", to, "--backup-then", "exit 4"], { now: fixedClock("2026-12-06T04:00:00Z") });
  assert.equal(night.code, 1);
  assert.match(night.stderr, /backup failed: vigil-20261206T040000Z-run\d+\.db was taken, but --backup-then exited 4/);
  const alone = await runMain(["run", "--db", db, "--backup-then", "true"]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--backup-then needs --backup DIR/);
});
