/**
 * A database in a folder vigil cannot write: the commands that only read it (status, widgets,
 * publish) work, the same as anywhere; a writer says which folder and why SQLite needs it.
 *
 * The folder is made read-only for real: with its permission bits when the tests run as a user,
 * and as an immutable folder (chattr +i) when they run as root, whom permission bits do not stop.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { ROOT, runMain } from "./helpers.ts";
import { syncRows, edgeRows } from "./widgets-db.ts";

type T = { after(fn: () => void): void; skip(message: string): void };

const AS_ROOT = process.getuid?.() === 0;
/** Folders and files made read-only, made writable again before their test's folder is removed. */
const readOnly = new Set<string>();

function makeWritable(dir: string): void {
  if (AS_ROOT) execFileSync("chattr", ["-i", dir]);
  else chmodSync(dir, statSync(dir).isDirectory() ? 0o755 : 0o644);
  readOnly.delete(dir);
}

/** Makes `dir` read-only until the test ends; the reason it cannot, when it cannot. */
function makeReadOnly(dir: string): string | undefined {
  try {
    if (AS_ROOT) execFileSync("chattr", ["+i", dir], { stdio: "pipe" });
    else chmodSync(dir, 0o555);
  } catch (error) {
    return `cannot make a folder read-only here (${AS_ROOT ? "chattr +i" : "chmod"}: ${(error as Error).message.split("\n")[0]})`;
  }
  readOnly.add(dir);
  try {
    writeFileSync(join(dir, "probe"), "");
  } catch {
    return undefined;
  }
  rmSync(join(dir, "probe"));
  return "the folder still takes new files";
}

function workDir(t: T): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-readonly-"));
  t.after(() => {
    for (const folder of readOnly) if (folder.startsWith(dir)) makeWritable(folder);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

test("status, widgets and publish read a database in a read-only folder; ingest names the folder and the files SQLite needs", async (t) => {
  const dir = workDir(t);
  const folder = join(dir, "ro");
  mkdirSync(folder);
  const db = join(folder, "vigil.db");
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  const writable = await runMain(["publish", "--db", db, "--out", join(dir, "public-writable")]);
  assert.equal(writable.code, 0, writable.stderr);
  const site = join(dir, "site");
  cpSync(join(ROOT, "fixtures", "hugo-site"), site, { recursive: true });
  const skip = makeReadOnly(folder);
  if (skip) return t.skip(skip);
  const before = readdirSync(folder).sort();

  const status = await runMain(["status", "--db", db]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^database +.*ro\/vigil\.db$/m);
  assert.match(status.stdout, /covid deaths +\d/);

  const widgets = await runMain(["widgets", "--db", db, "--site", site]);
  assert.equal(widgets.code, 0, widgets.stderr);
  assert.match(readFileSync(join(site, "data", "vigil", "summary.json"), "utf8"), /"total_deaths"/);

  const published = await runMain(["publish", "--db", db, "--out", join(dir, "public")]);
  assert.equal(published.code, 0, published.stderr);
  const manifest = (out: string) => JSON.parse(readFileSync(join(dir, out, "latest.json"), "utf8")) as { sha256: string };
  assert.equal(manifest("public").sha256, manifest("public-writable").sha256, "the same record, byte for byte");

  for (const target of [db, join(folder, "new.db")]) {
    const ingest = await runMain(["ingest", "--db", target, "--portal", "http://127.0.0.1:9"]);
    assert.equal(ingest.code, 1);
    const name = target.endsWith("new.db") ? "new.db" : "vigil.db";
    assert.equal(
      ingest.stderr,
      `vigil ingest: cannot write the database ${target}: its folder ${folder} is read-only, and SQLite needs to create files beside the database (${name}-wal, ${name}-shm, ${name}.lock) (make the folder writable, or pass --db with a path in a folder vigil can write)\n`,
    );
  }
  assert.deepEqual(readdirSync(folder).sort(), before, "nothing was created beside the database");
});

test("a WAL database whose -wal holds writes, in a read-only folder, is explained rather than read without them", async (t) => {
  const dir = workDir(t);
  const live = join(dir, "live.db");
  syncRows(live, edgeRows(), "2026-11-26T12:00:00Z");
  // a writer that has not checkpointed: the newest rows are only in the -wal
  const writer = new Database(live);
  writer.pragma("wal_autocheckpoint = 0");
  writer.exec("CREATE TABLE late (n INTEGER); INSERT INTO late VALUES (1)");
  const folder = join(dir, "ro");
  mkdirSync(folder);
  copyFileSync(live, join(folder, "vigil.db"));
  copyFileSync(`${live}-wal`, join(folder, "vigil.db-wal"));
  writer.close();
  const skip = makeReadOnly(folder);
  if (skip) return t.skip(skip);

  const status = await runMain(["status", "--db", join(folder, "vigil.db")]);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /^vigil status: cannot read the database .*ro\/vigil\.db: its folder .*ro is read-only, so SQLite cannot create vigil\.db-shm to read it, and vigil\.db-wal holds writes not yet in the database file \(make the folder writable/);
});

test("a writer given a read-only database file in a writable folder says the file is read-only", async (t) => {
  const dir = workDir(t);
  const db = join(dir, "vigil.db");
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  try {
    if (AS_ROOT) execFileSync("chattr", ["+i", db], { stdio: "pipe" });
    else chmodSync(db, 0o444);
  } catch (error) {
    return t.skip(`cannot make a file read-only here: ${(error as Error).message.split("\n")[0]}`);
  }
  readOnly.add(db);
  const ingest = await runMain(["ingest", "--db", db, "--portal", "http://127.0.0.1:9"]);
  assert.equal(ingest.code, 1);
  assert.equal(ingest.stderr, `vigil ingest: cannot write the database ${db}: the file is read-only (make it writable (chmod u+w ${db}), or pass --db with another path)\n`);
  const status = await runMain(["status", "--db", db]);
  assert.equal(status.code, 0, status.stderr);
});
