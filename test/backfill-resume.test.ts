/**
 * A complete-download backfill killed after it refused a row, then resumed: the case whose row was
 * refused is still listed by the source, so the resumed run must not tombstone it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { generateCovidView } from "../fixtures/generate.ts";
import { startPortal } from "../fixtures/portal.ts";
import { backfill } from "../pipeline/backfill/backfill.ts";
import { FAST_HTTP, memoryLogger, ROOT, tempDir } from "./helpers.ts";

const DATASET = "3trz-enys";

function committedRecords(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT coalesce(max(records), 0) FROM backfill_checkpoints").pluck().get() as number) ?? 0;
  } finally {
    db.close();
  }
}

test("a case whose row was refused before a SIGKILL is not tombstoned by the resumed backfill", { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const rows = generateCovidView({ seed: 31, count: 6000 });
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  // parsed on the runs' own threads: a worker started from the sources takes a second to load tsx
  const options = { config: { db, portal: portal.url, dataset: DATASET }, commitRows: 100, chunkBytes: 8 << 10, workers: 0 };
  const first = await backfill({ ...options, log: memoryLogger(), now: () => new Date("2026-11-26T12:00:00Z"), http: FAST_HTTP });
  assert.equal(first.counts.inserted, 6000);

  // the county's export now has a broken row for one case, early in the file
  const refused = rows[10];
  const { death_date: _dropped, ...broken } = refused;
  portal.setRows(DATASET, rows.map((row) => (row === refused ? broken : row)));

  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "test", "backfill-child.ts"), JSON.stringify(options)], { cwd: ROOT, stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, signal) => done(signal)));
  const deadline = Date.now() + 60_000;
  while (child.exitCode === null && Date.now() < deadline) {
    // past the refused row's commit, well before the end of the file
    if (committedRecords(db) >= 600) {
      child.kill("SIGKILL");
      break;
    }
    await sleep(5);
  }
  assert.equal(await exited, "SIGKILL", "the backfill was killed part-way");
  const conn = new Database(db, { readonly: true });
  const kept = conn.prepare("SELECT count(*) FROM rejects WHERE casenumber = ?").pluck().get(refused.casenumber);
  conn.close();
  assert.equal(kept, 1, "the refused row was committed before the kill");

  const resumed = await backfill({ ...options, log: memoryLogger(), now: () => new Date("2026-11-27T12:00:00Z"), http: FAST_HTTP });
  assert.ok(resumed.resumedAt !== undefined, "the same run resumed");
  assert.equal(resumed.counts.removed, 0, "nothing is gone from the source");
  const after = new Database(db, { readonly: true });
  try {
    assert.equal(after.prepare("SELECT removed_run_id FROM cases WHERE casenumber = ?").pluck().get(refused.casenumber), null, "the case stays published");
    assert.equal(after.prepare("SELECT count(*) FROM backfill_rejected").pluck().get(), 0, "the finished run leaves nothing behind");
  } finally {
    after.close();
  }
});
