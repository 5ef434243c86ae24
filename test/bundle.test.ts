/**
 * bin/vigil.js runs a bundle of the sources (bin/bundle.js): rebuilt when a source changes, and
 * doing exactly what the sources do, parsing workers included.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { writeArchiveCsv } from "../bench/archive-csv.ts";
// @ts-expect-error: plain JavaScript, run before any TypeScript loader
import { ensureBundle, sourceKey } from "../bin/bundle.js";
import { backfillSnapshot, runCli, tempDir } from "./helpers.ts";

test("the bundle is named after its sources, and a changed or added source makes another", async (t) => {
  const dir = await ensureBundle({ quiet: false });
  assert.ok(existsSync(join(dir, "cli.js")) && existsSync(join(dir, "csv-worker.js")));
  assert.equal(basename(dir), sourceKey());
  assert.equal(await ensureBundle({ quiet: false }), dir, "an up-to-date bundle is used as it is");

  const root = tempDir(t);
  mkdirSync(join(root, "pipeline"));
  writeFileSync(join(root, "package.json"), "{}");
  writeFileSync(join(root, "pipeline", "a.ts"), "export const a = 1;\n");
  const before = sourceKey(root);
  assert.equal(sourceKey(root), before);
  const { mtime } = statSync(join(root, "pipeline", "a.ts"));
  utimesSync(join(root, "pipeline", "a.ts"), mtime, new Date(mtime.getTime() + 1000));
  const changed = sourceKey(root);
  assert.notEqual(changed, before);
  writeFileSync(join(root, "pipeline", "b.ts"), "export const b = 2;\n");
  assert.notEqual(sourceKey(root), changed);
});

test("a backfill run from the bundle and from the sources loads the same rows", { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "archive.csv");
  await writeArchiveCsv(file, 3000, 11);
  const snapshots = [];
  for (const mode of ["on", "off"]) {
    const db = join(dir, `${mode}.db`);
    const result = await runCli(["backfill", "--file", file, "--db", db, "--dataset", "cjeq-bs86"], { env: { VIGIL_BUNDLE: mode } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /3000 fetched/);
    snapshots.push(backfillSnapshot(db));
  }
  assert.deepEqual(snapshots[0], snapshots[1]);
});
