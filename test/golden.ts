/**
 * Golden files in test/output/. A mismatch writes NAME-changed.EXT beside the golden and fails;
 * goldens are only rewritten with UPDATE_GOLDEN=1, never by CI.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "./helpers.ts";

export const OUTPUT = join(ROOT, "test", "output");

export function assertGolden(name: string, actual: string): void {
  const path = join(OUTPUT, name);
  const changed = path.replace(/(\.[^./]+)?(\.[^./]+)$/, (ext) => `-changed${ext}`);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    rmSync(changed, { force: true });
    return;
  }
  if (existsSync(path) && readFileSync(path, "utf8") === actual) {
    rmSync(changed, { force: true });
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(changed, actual);
  assert.fail(
    existsSync(path)
      ? `${name} differs from its golden; see ${changed} (run with UPDATE_GOLDEN=1 to accept)`
      : `${name} has no golden yet; see ${changed} (run with UPDATE_GOLDEN=1 to create it)`,
  );
}
