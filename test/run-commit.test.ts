/**
 * `vigil run --commit [--push]` against real git repositories holding the fixture Hugo site: a bare
 * "hosting" remote, vigil's clone, and the author's clone. One commit after a change, none after a
 * no-change run, the owner's other edits left as they were, and a push that still lands after the
 * author pushed a post in between.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, renameSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { ROOT, runMain, tempDir } from "./helpers.ts";

const DATASET = "3trz-enys";
const rows = generateCovidView({ seed: 41, count: 300 });
const IDENTITY = { GIT_AUTHOR_NAME: "Author", GIT_AUTHOR_EMAIL: "author@example.org", GIT_COMMITTER_NAME: "Author", GIT_COMMITTER_EMAIL: "author@example.org" };

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...IDENTITY } });
}

/** A bare remote, seeded with the fixture site, and a clone of it for vigil. */
function siteRepositories(dir: string) {
  const remote = join(dir, "remote.git");
  const seed = join(dir, "seed");
  git(dir, "init", "--quiet", "--bare", "--initial-branch=main", remote);
  cpSync(join(ROOT, "fixtures", "hugo-site"), seed, { recursive: true });
  git(seed, "init", "--quiet", "--initial-branch=main");
  git(seed, "add", "-A");
  git(seed, "commit", "--quiet", "-m", "the blog");
  git(seed, "push", "--quiet", remote, "main");
  const site = join(dir, "site");
  git(dir, "clone", "--quiet", remote, site);
  git(site, "config", "user.name", "vigil on the pi");
  git(site, "config", "user.email", "vigil@pi.example");
  return { remote, site };
}

const VIGIL_PATH = /^(static\/vigil\/|assets\/vigil\/|data\/vigil\/|layouts\/(shortcodes|partials)\/vigil-)/;

test("--commit makes one commit after a change, none after a no-change run, and leaves other edits alone", async (t) => {
  const dir = tempDir(t);
  const { remote, site } = siteRepositories(dir);
  const portal = await startPortal({ datasets: { [DATASET]: rows } });
  t.after(() => portal.close());

  // The owner's work in progress: an edited post, a staged config change, an untracked draft.
  const post = join(site, "content", "posts", "charts.md");
  writeFileSync(post, readFileSync(post, "utf8") + "\nA paragraph being written.\n");
  writeFileSync(join(site, "hugo.toml"), readFileSync(join(site, "hugo.toml"), "utf8") + '\n[params]\nauthor = "me"\n');
  git(site, "add", "hugo.toml");
  mkdirSync(join(site, "content", "drafts"));
  writeFileSync(join(site, "content", "drafts", "next.md"), "---\ntitle: next\n---\n");
  const ownerStatus = git(site, "status", "--porcelain");
  const ownerDiff = git(site, "diff") + git(site, "diff", "--cached");

  const run = () => runMain(["run", "--db", join(dir, "vigil.db"), "--portal", portal.url, "--site", site, "--commit", "--push"]);
  const first = await run();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^run 1: ingest ok \(300 inserted\), widgets changed \((\d+) files\), committed [0-9a-f]{7,} \(\1 files\) and pushed, 3 other changed file\(s\) left alone\n$/);

  assert.equal(git(site, "rev-list", "--count", "HEAD"), "2\n", "one commit on top of the blog");
  const subject = git(site, "log", "-1", "--format=%s");
  assert.equal(subject, "vigil run 1: cases 300 inserted; " + first.stdout.match(/\((\d+) files\)/)?.[1] + " widget file(s) updated\n");
  const files = git(site, "show", "--name-only", "--format=", "HEAD").trim().split("\n");
  assert.ok(files.length > 20 && files.every((f) => VIGIL_PATH.test(f)), `only vigil's files: ${files.join(", ")}`);
  assert.ok(files.includes("data/vigil/summary.json") && files.includes("layouts/shortcodes/vigil-chart.html"));
  assert.equal(git(remote, "rev-parse", "main"), git(site, "rev-parse", "HEAD"), "pushed");
  assert.equal(git(site, "status", "--porcelain"), ownerStatus, "the owner's changes are still there, still staged or not");
  assert.equal(git(site, "diff") + git(site, "diff", "--cached"), ownerDiff);

  // Nothing changed upstream: no commit, nothing pushed.
  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^run 2: ingest ok \(unchanged upstream\), widgets unchanged \(freshness updated\), commit skipped \(nothing changed\)\n$/);
  assert.equal(git(site, "rev-list", "--count", "HEAD"), "2\n");
  assert.equal(git(remote, "rev-list", "--count", "main"), "2\n");

  // The author pushes a post from elsewhere, then the data changes: vigil's commit goes on top.
  const author = join(dir, "author");
  git(dir, "clone", "--quiet", remote, author);
  writeFileSync(join(author, "content", "posts", "new.md"), '---\ntitle: "New"\n---\n{{< vigil-stat name="total_deaths" >}}\n');
  git(author, "add", "-A");
  git(author, "commit", "--quiet", "-m", "a new post");
  git(author, "push", "--quiet", "origin", "main");
  portal.setRows(DATASET, rows.slice(0, 295));
  const third = await run();
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /^run 3: ingest ok \(5 removed\), widgets changed \(\d+ files\), committed [0-9a-f]+ \(\d+ files\) and pushed/);
  assert.deepEqual(git(remote, "log", "--format=%s", "main").trim().split("\n"), [
    "vigil run 3: cases 5 removed; " + third.stdout.match(/committed [0-9a-f]+ \((\d+) files\)/)?.[1] + " widget file(s) updated",
    "a new post",
    "vigil run 1: cases 300 inserted; " + first.stdout.match(/\((\d+) files\)/)?.[1] + " widget file(s) updated",
    "the blog",
  ]);
  assert.equal(git(remote, "rev-parse", "main"), git(site, "rev-parse", "HEAD"));
  // The rebase stashed and restored the owner's changes: their content is intact (a staged change
  // comes back unstaged, which `git rebase --autostash` does).
  assert.ok(readFileSync(post, "utf8").endsWith("A paragraph being written.\n"), "the owner's edit survived the rebase");
  assert.match(readFileSync(join(site, "hugo.toml"), "utf8"), /author = "me"/);
  assert.equal(readFileSync(join(site, "content", "drafts", "next.md"), "utf8"), "---\ntitle: next\n---\n");
  assert.deepEqual(git(site, "status", "--porcelain").split("\n").filter(Boolean).map((l) => l.slice(3)).sort(), ["content/drafts/", "content/posts/charts.md", "hugo.toml"]);
});

test("--commit outside a git repository fails the run and says why", async (t) => {
  const dir = tempDir(t);
  const site = join(dir, "site");
  cpSync(join(ROOT, "fixtures", "hugo-site"), site, { recursive: true });
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 20) } });
  t.after(() => portal.close());
  const result = await runMain(["run", "--db", join(dir, "v.db"), "--portal", portal.url, "--site", site, "--commit"], {
    env: { GIT_CEILING_DIRECTORIES: dir },
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^vigil run: run 1: ingest ok \(20 inserted\), widgets changed \(\d+ files\), commit failed: --commit: .*site is not inside a git repository \(run `git init` in the site, or leave out --commit\)$/m);
});

test("a push that failed is made by the next run, even when nothing changed since", async (t) => {
  const dir = tempDir(t);
  const { remote, site } = siteRepositories(dir);
  const portal = await startPortal({ datasets: { [DATASET]: rows.slice(0, 20) } });
  t.after(() => portal.close());
  const run = () => runMain(["run", "--db", join(dir, "vigil.db"), "--portal", portal.url, "--site", site, "--commit", "--push"]);
  const away = `${remote}.away`;
  renameSync(remote, away); // the remote is unreachable tonight
  const first = await run();
  assert.equal(first.code, 1);
  assert.match(first.stderr, /commit failed: git push failed after committing/);
  const local = git(site, "rev-parse", "HEAD").trim();
  renameSync(away, remote);
  const second = await run();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /ingest ok \(unchanged upstream\)/);
  assert.equal(git(remote, "rev-parse", "main").trim(), git(site, "rev-parse", "HEAD").trim(), "the earlier commit reached the remote");
  git(remote, "merge-base", "--is-ancestor", local, "main"); // throws unless the first night's commit is there
  const third = await run();
  assert.match(third.stdout, /commit skipped \(nothing changed\)/);
});
