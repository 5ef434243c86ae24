/**
 * A backfill's profile (`npm run bench -- --profile`): written only when asked for, with every phase
 * of the load timed, and without changing what the load writes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ARCHIVE_COLUMNS, writeArchiveCsv } from "../bench/archive-csv.ts";
import { generateArchive } from "../fixtures/generate.ts";
import { bulkCsvChunks } from "../fixtures/portal-csv.ts";
import { backfill } from "../pipeline/backfill/backfill.ts";
import { planColumns, type CsvLayout } from "../pipeline/backfill/csv/rows.ts";
import { parseChunk } from "../pipeline/backfill/csv/worker.ts";
import type { ProfileReport } from "../pipeline/backfill/profile.ts";
import { backfillSnapshot, fixedClock, memoryLogger, runCli, tempDir } from "./helpers.ts";

const ROWS = 3000;

async function archive(dir: string): Promise<string> {
  const file = join(dir, "export.csv");
  await writeArchiveCsv(file, ROWS, 7, "real");
  return file;
}

test("a profiled backfill times every phase and loads exactly what an unprofiled one does", async (t) => {
  const dir = tempDir(t);
  const file = await archive(dir);
  const profile = join(dir, "profile.json");
  const common = { config: { db: "", portal: "http://127.0.0.1:9", dataset: "cjeq-bs86" }, log: memoryLogger(), now: fixedClock(), file, workers: 1, chunkBytes: 16 << 10, commitRows: 1000 };
  await backfill({ ...common, config: { ...common.config, db: join(dir, "plain.db") } });
  assert.equal(existsSync(profile), false);
  await backfill({ ...common, config: { ...common.config, db: join(dir, "profiled.db") }, profile });

  const report = JSON.parse(readFileSync(profile, "utf8")) as ProfileReport;
  assert.equal(report.rows, ROWS);
  assert.equal(report.workerThreads, 1);
  assert.ok(report.chunks.workers + report.chunks.here > ROWS / 100, JSON.stringify(report.chunks));
  for (const phase of ["read", "unpack", "lookup", "insert", "revisions", "fts", "checkpoint", "commit", "close"] as const) {
    assert.ok((report.main[phase] ?? 0) > 0, `main-thread phase ${phase}: ${report.main[phase]}`);
  }
  // "fields" is the raw rows of records that are not plain: none in this export
  for (const phase of ["csv", "validate", "normalize", "pack"] as const) {
    assert.ok(report.workers[phase] + report.here[phase] > 0, `parse phase ${phase}`);
  }
  assert.ok(report.wallMs > 0 && report.cpuMs > 0 && report.cores > 0);

  const plain = backfillSnapshot(join(dir, "plain.db"));
  const profiled = backfillSnapshot(join(dir, "profiled.db"));
  assert.equal(profiled.cases.length, ROWS);
  assert.deepEqual(profiled.cases, plain.cases);
  assert.deepEqual(profiled.revisions, plain.revisions);
  assert.deepEqual(profiled.rejects, plain.rejects);
  assert.deepEqual(profiled.fts, plain.fts);
});

test("chunks are timed only when the setup asks for it", () => {
  const [header, ...rows] = bulkCsvChunks(ARCHIVE_COLUMNS, generateArchive({ count: 50, seed: 3 }));
  const layout = planColumns(header.trim().split(",")) as CsvLayout;
  assert.ok(!("error" in layout));
  const task = { seq: 0, data: Buffer.from(rows.join("")), line: 2 };
  const setup = { layout, today: "2026-11-26" };
  const plain = parseChunk(task, setup);
  assert.equal(plain.times, undefined);
  assert.equal(plain.records, 50);
  const timed = parseChunk(task, { ...setup, profile: true });
  assert.ok(timed.times && timed.times.csv > 0 && timed.times.validate > 0 && timed.times.normalize > 0, JSON.stringify(timed.times));
  assert.deepEqual({ ...timed, times: undefined }, { ...plain, times: undefined });
});

test("`vigil backfill` writes its profile where VIGIL_PROFILE says", async (t) => {
  const dir = tempDir(t);
  const file = await archive(dir);
  const profile = join(dir, "profile.json");
  const result = await runCli(["backfill", "--file", file, "--db", join(dir, "vigil.db"), "--dataset", "cjeq-bs86"], { env: { VIGIL_PROFILE: profile } });
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(readFileSync(profile, "utf8")) as ProfileReport;
  assert.equal(report.rows, ROWS);
  assert.ok((report.main.insert ?? 0) > 0);
});
