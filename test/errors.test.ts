/**
 * How failures reach the user: one line on stderr, the right exit code. A broken contract of
 * vigil's own (an emitted or stored file, its metadata, a schema) is an internal error, exit 1,
 * naming the file; only the user's flags and environment make a usage error, exit 2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { parse } from "yaml";
import { z } from "zod";
import { buildMetadata } from "../datasette/metadata.ts";
import { main, report } from "../pipeline/cli/main.ts";
import { InternalError, UsageError, VigilError } from "../pipeline/errors.ts";
import { ROOT, tempDir } from "./helpers.ts";

function capture() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk));
  return { stream, text: () => text };
}

async function run(argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, { env: { PATH: process.env.PATH }, stdout: stdout.stream, stderr: stderr.stream, now: () => new Date("2026-11-26T12:00:00Z") });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

test("a schema failure that reaches the CLI is an internal error (exit 1), not a usage error", () => {
  const cases: Array<[unknown, number, RegExp]> = [
    [z.object({ n: z.number() }).safeParse({ n: "x" }).error, 1, /^vigil widgets: internal error: n .*please report it/],
    [new InternalError("data/vigil/summary.json: total_deaths expected number"), 1, /^vigil widgets: internal error: data\/vigil\/summary\.json: total_deaths/],
    [new InternalError("data/vigil/charts.json: charts expected record", { hint: "run `vigil widgets --site` again" }), 1, /^vigil widgets: internal error: data\/vigil\/charts\.json: charts expected record \(run `vigil widgets --site` again\)$/],
    [new UsageError("--site is required"), 2, /^vigil widgets: --site is required$/],
    [new VigilError("no database at x.db", { hint: "run vigil ingest first" }), 1, /^vigil widgets: no database at x\.db \(run vigil ingest first\)$/],
    [new Error("disk I/O error"), 1, /^vigil widgets: unexpected error: disk I\/O error$/],
  ];
  for (const [error, code, line] of cases) {
    const stderr = capture();
    assert.equal(report(error, "widgets", false, stderr.stream), code, String(error));
    const text = stderr.text();
    assert.equal(text.split("\n").length, 2, `one line: ${text}`);
    assert.match(text.trim(), line);
  }
});

test("a damaged file vigil wrote in the site names the file, exit 1", async (t) => {
  const site = tempDir(t);
  writeFileSync(join(site, "hugo.toml"), 'title = "damaged"\n');
  mkdirSync(join(site, "data", "vigil"), { recursive: true });
  mkdirSync(join(site, "content", "posts", "one"), { recursive: true });
  writeFileSync(join(site, "content", "posts", "one", "index.md"), "---\ntitle: One\n---\n");
  const manifest = join(site, "data", "vigil", "charts.json");
  writeFileSync(manifest, JSON.stringify({ charts: "not a map" }));
  const damaged = await run(["widgets", "--site", site, "--freeze", "content/posts/one"]);
  assert.equal(damaged.code, 1, damaged.stderr);
  assert.match(damaged.stderr, /^vigil widgets: internal error: .*data\/vigil\/charts\.json: /);
  assert.match(damaged.stderr, /run `vigil widgets --site` again/);
  assert.equal(damaged.stderr.trim().split("\n").length, 1);

  writeFileSync(manifest, "{ not json");
  const unreadable = await run(["widgets", "--site", site, "--freeze", "content/posts/one"]);
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, /internal error: .*charts\.json is not readable JSON/);
});

test("broken datasette metadata is an internal error naming datasette/metadata.yml", () => {
  const base = parse(readFileSync(join(ROOT, "datasette", "metadata.yml"), "utf8"));
  assert.ok(buildMetadata(base).databases.vigil, "the shipped metadata builds");
  delete base.databases.vigil.tables.covid_deaths;
  assert.throws(() => buildMetadata(base), (error: unknown) => error instanceof InternalError && /datasette\/metadata\.yml has no entry for covid_deaths/.test(error.message));
  assert.throws(() => buildMetadata({ ...base, title: 7 }), (error: unknown) => error instanceof InternalError && /^datasette\/metadata\.yml: title /.test(error.message));
});
