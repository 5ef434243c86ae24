/**
 * `vigil run` end to end, as the nightly job: the fixture portal, a real database, a copy of the
 * fixture Hugo site, a real `sh -c` hook building it with Hugo. The hook runs after a change and
 * not after a no-change run; a failed step skips the rest and exits 1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { ROOT, runMain, tempDir } from "./helpers.ts";

const DATASET = "3trz-enys";
const rows = generateCovidView({ seed: 31, count: 400 });
const hugo = !spawnSync("hugo", ["version"], { stdio: "ignore" }).error;

function hookLog(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n") : [];
}

test("--then runs after a change, not after a no-change run, and a failing ingest skips widgets and hook", { skip: !hugo && "hugo is not installed" }, async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const site = join(dir, "site");
  const built = join(dir, "public");
  const log = join(dir, "hook.log");
  cpSync(join(ROOT, "fixtures", "hugo-site"), site, { recursive: true });
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());
  // A real publish step: build the site with Hugo, then note which run asked for it.
  const hook = `hugo --quiet -s "$VIGIL_SITE" -d "${built}" && echo "$VIGIL_RUN_ID" >> "${log}"`;
  const run = () => runMain(["run", "--db", db, "--portal", portal.url, "--site", site, "--then", hook]);

  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^run 1: ingest ok \(400 inserted\), widgets changed \(\d+ files\), hook ok\n$/);
  assert.deepEqual(hookLog(log), ["1"]);
  const page = readFileSync(join(built, "posts", "charts", "index.html"), "utf8");
  assert.match(page, /<svg[^>]*role="img"/, "the built site embeds the charts");

  // Nothing changed upstream: the widgets' freshness is refreshed, the hook is not run.
  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, "run 2: ingest ok (unchanged upstream), widgets unchanged (freshness updated), hook skipped (nothing changed)\n");
  assert.deepEqual(hookLog(log), ["1"]);

  // A late, backdated case arrives: the charts change and the site is rebuilt.
  portal.setRows(DATASET, [...rows, { ...rows[0], casenumber: "ME2023-00001", ":id": "row-late-1" }]);
  const third = await run();
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /^run 3: ingest ok \(1 inserted\), widgets changed \(\d+ files\), hook ok\n$/);
  assert.deepEqual(hookLog(log), ["1", "3"]);

  // The portal breaks: the run fails, the site and its widgets are left exactly as they were.
  const summary = join(site, "data", "vigil", "summary.json");
  const before = { bytes: readFileSync(summary, "utf8"), mtime: statSync(summary).mtimeMs };
  portal.faults.always({ kind: "status", status: 404 });
  const fourth = await run();
  assert.equal(fourth.code, 1);
  assert.equal(fourth.stdout, "");
  assert.match(
    fourth.stderr.trim().split("\n").at(-1) ?? "",
    /^vigil run: run 4: ingest failed: GET .* answered HTTP 404.*, widgets skipped \(ingest failed\), hook skipped \(an earlier step failed\)$/,
  );
  assert.deepEqual(hookLog(log), ["1", "3"]);
  assert.deepEqual({ bytes: readFileSync(summary, "utf8"), mtime: statSync(summary).mtimeMs }, before);
});

test("a failing hook fails the run with its exit code, and its output is passed through", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 30) } });
  t.after(() => portal.close());
  const result = await runMain(["run", "--db", join(dir, "v.db"), "--portal", portal.url, "--then", "echo deploying; echo no space left >&2; exit 3"]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^deploying\n$/);
  assert.match(result.stderr, /^no space left$/m);
  assert.match(result.stderr, /^vigil run: run 1: ingest ok \(30 inserted\), widgets skipped \(no --site\), hook failed \(exit 3\)$/m);
});

test("a hook that failed is run again by the next run, even when nothing changed since", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "v.db");
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 30) } });
  t.after(() => portal.close());
  const flag = join(dir, "publish-works");
  const log = join(dir, "hook.log");
  // The publish step fails until the flag file exists (a full disk, an unreachable host...).
  const hook = `echo "$VIGIL_RUN_ID" >> "${log}"; test -e "${flag}"`;
  const run = () => runMain(["run", "--db", db, "--portal", portal.url, "--then", hook]);
  assert.equal((await run()).code, 1);
  assert.equal(existsSync(`${db}.site-pending`), true, "the owed update is remembered");
  writeFileSync(flag, "");
  const retry = await run();
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /^run 2: ingest ok \(unchanged upstream\), widgets skipped \(no --site\), hook ok\n$/);
  assert.equal(existsSync(`${db}.site-pending`), false);
  const quiet = await run();
  assert.match(quiet.stdout, /hook skipped \(nothing changed\)/);
  assert.deepEqual(hookLog(log), ["1", "2"]);
});

test("without --site a run only ingests, and the hook follows the data", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "v.db");
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 30) } });
  t.after(() => portal.close());
  const first = await runMain(["run", "--db", db, "--portal", portal.url, "--then", "echo hook $VIGIL_RUN_ID"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "hook 1\nrun 1: ingest ok (30 inserted), widgets skipped (no --site), hook ok\n");
  const second = await runMain(["run", "--db", db, "--portal", portal.url, "--then", "echo hook $VIGIL_RUN_ID"]);
  assert.equal(second.stdout, "run 2: ingest ok (unchanged upstream), widgets skipped (no --site), hook skipped (nothing changed)\n");
});

test("a widgets step that breaks one of vigil's own contracts says \"internal error\" in the summary, hint and all, as the command would", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "v.db");
  const site = join(dir, "site");
  cpSync(join(ROOT, "fixtures", "hugo-site"), site, { recursive: true });
  // A damaged install: the population table the rates are computed against is empty.
  const handle = openDatabase(db);
  handle.exec("DELETE FROM population");
  handle.close();
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 30) } });
  t.after(() => portal.close());
  const night = await runMain(["run", "--db", db, "--portal", portal.url, "--site", site]);
  assert.equal(night.code, 1);
  const summary = night.stderr.trim().split("\n").at(-1) ?? "";
  assert.match(summary, /^vigil run: run 1: ingest ok \(30 inserted\), widgets failed: internal error: \S.*$/);
  // the line the widgets command prints for the same database, hint and all, after "vigil widgets: "
  const alone = await runMain(["widgets", "--db", db, "--site", site]);
  assert.equal(alone.code, 1);
  const line = alone.stderr.trim().split("\n").at(-1) ?? "";
  assert.match(line, /^vigil widgets: internal error: /);
  assert.ok(summary.endsWith(`widgets failed: ${line.replace(/^vigil widgets: /, "")}`), `${summary}\n${line}`);

  // a failure's hint stays in the summary too, in parentheses, as the command prints it
  const none = join(dir, "none.db");
  portal.setRows(DATASET, rows.slice(0, 30).map((row) => ({ ...row, covid_related: false })));
  const empty = await runMain(["run", "--db", none, "--portal", portal.url, "--site", site]);
  assert.equal(empty.code, 1, empty.stderr);
  const emptySummary = empty.stderr.trim().split("\n").at(-1) ?? "";
  const emptyAlone = (await runMain(["widgets", "--db", none, "--site", site])).stderr.trim().split("\n").at(-1) ?? "";
  assert.match(emptyAlone, /^vigil widgets: .+ \(.+\)$/, "the widgets command gives a hint");
  assert.ok(emptySummary.endsWith(`widgets failed: ${emptyAlone.replace(/^vigil widgets: /, "")}`), `${emptySummary}\n${emptyAlone}`);
});

test("a run on a file that is not a database says so, and says it cannot tell which run failed", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "notes.db");
  writeFileSync(db, "not a database, a page of notes\n".repeat(200));
  const night = await runMain(["run", "--db", db, "--portal", "http://127.0.0.1:9"]);
  assert.equal(night.code, 1);
  assert.match(night.stderr, /cannot read which run failed from .*notes\.db: .*not a database/);
  assert.match(night.stderr, /^vigil run: run -: ingest failed: .*not a database.*, widgets skipped \(ingest failed\)$/m);
});

test("usage errors exit 2", async () => {
  const push = await runMain(["run", "--push"]);
  assert.equal(push.code, 2);
  assert.match(push.stderr, /^vigil run: --push needs --commit\n$/);
  const commit = await runMain(["run", "--commit"]);
  assert.equal(commit.code, 2);
  assert.match(commit.stderr, /--commit needs --site/);
  const empty = await runMain(["run", "--then", " "]);
  assert.equal(empty.code, 2);
  const env = await runMain(["run", "--site", join(ROOT, "fixtures", "hugo-site"), "--commit"], { env: { VIGIL_PUSH: "maybe" } });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /VIGIL_PUSH must be 1 or 0, got "maybe"/);
});
