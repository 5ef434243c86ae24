/**
 * bin/vigil.js runs the build of the sources in dist/ (bin/build.js) only while it matches them,
 * and the build does exactly what the sources do, parsing workers included.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeArchiveCsv } from "../bench/archive-csv.ts";
// @ts-expect-error: plain JavaScript, run before any TypeScript loader
import { build, currentBuild, DIST, sourceKey } from "../bin/build.js";
import { backfillSnapshot, runCli, tempDir } from "./helpers.ts";

test("a build is used only while it matches the sources; a changed or added source changes the key", async (t) => {
  const dir = currentBuild() ?? (await build());
  assert.equal(dir, DIST);
  assert.ok(existsSync(join(dir, "cli.js")) && existsSync(join(dir, "worker.js")));
  assert.equal(currentBuild(), dir, "an up-to-date build is used as it is");
  const stale = join(tempDir(t), "dist");
  cpSync(dir, stale, { recursive: true });
  assert.equal(currentBuild(stale), stale);
  writeFileSync(join(stale, "build.json"), JSON.stringify({ key: "0000000000000000" }));
  assert.equal(currentBuild(stale), undefined, "a build of other sources is not used");

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

test("a backfill run from the build and from the sources loads the same rows", { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "archive.csv");
  await writeArchiveCsv(file, 3000, 11);
  const snapshots = [];
  for (const mode of ["on", "off"]) {
    const db = join(dir, `${mode}.db`);
    const result = await runCli(["backfill", "--file", file, "--db", db, "--dataset", "cjeq-bs86"], { env: { VIGIL_BUILD: mode } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /3000 fetched/);
    snapshots.push(backfillSnapshot(db));
  }
  assert.deepEqual(snapshots[0], snapshots[1]);
});
