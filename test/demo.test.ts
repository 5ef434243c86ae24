/**
 * `vigil demo` the way the README tells a newcomer to run it: it starts, prints URLs that answer,
 * and Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) stops it and
 * every process it started.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, runMain, tempDir, VIGIL_BIN } from "./helpers.ts";

const hugo = !spawnSync("hugo", ["version"], { stdio: "ignore" }).error;

/** Every process below `pid`, from the process table. */
function descendants(pid: number): number[] {
  const table = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of table) {
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("vigil demo serves datasette and the site at the URLs it prints, and Ctrl-C stops everything", async (t) => {
  const dir = join(tempDir(t), "demo");
  const child = spawn(process.execPath, [VIGIL_BIN, "demo", "--dir", dir, "--port", "0", "--site-port", "0"], {
    cwd: ROOT,
    env: { ...process.env, VIGIL_DB: undefined },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, like a job in a terminal, so the test can send Ctrl-C to all of it.
    detached: true,
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));

  const start = Date.now();
  while (!stdout.includes("Press Ctrl-C to stop.")) {
    if (Date.now() - start > 120_000 || child.exitCode !== null) assert.fail(`demo did not start:\n${stdout}\n${stderr}`);
    await sleep(50);
  }
  assert.match(stdout, /^vigil demo: 15,200 cases loaded from the fixture portal \(run 1\)\.$/m);
  const datasette = stdout.match(/^ {2}datasette {2}(http:\/\/127\.0\.0\.1:\d+\/vigil)$/m)?.[1];
  assert.ok(datasette, stdout);
  const page = await fetch(datasette);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /daily_deaths/);
  const memorial = await fetch(`${datasette}/memorial.json?date=2020-12-01&_shape=array`);
  assert.equal(memorial.status, 200);
  const people = (await memorial.json()) as Array<{ description: string }>;
  assert.ok(people.length > 10 && people.every((p) => /^An? \d+-year-old /.test(p.description)), JSON.stringify(people[0]));

  const site = stdout.match(/^ {2}site {7}(\S+)/m)?.[1];
  if (hugo) {
    assert.match(String(site), /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const post = await fetch(new URL("posts/charts/", String(site)));
    assert.equal(post.status, 200);
    assert.match(await post.text(), /<svg[^>]*role="img"/, "the demo site shows the charts");
  } else {
    assert.match(stdout, /site {7}not built: install Hugo/);
  }

  const tree = descendants(child.pid!);
  assert.ok(tree.length >= (hugo ? 2 : 1), "datasette (and hugo) run below the demo");
  process.kill(-child.pid!, "SIGINT");
  assert.equal(await exited, 0, stderr);
  await sleep(200);
  assert.deepEqual(tree.filter(alive), [], "no process left behind");
  await assert.rejects(fetch(datasette), "datasette no longer answers");

  // A bad port is a usage error, caught before anything starts.
  const again = await runMain(["demo", "--dir", dir, "--port", "not-a-port"]);
  assert.equal(again.code, 2);
});

test("vigil demo refuses a folder it did not make", async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, "precious"));
  writeFileSync(join(dir, "precious", "notes.txt"), "keep me");
  const result = await runMain(["demo", "--dir", join(dir, "precious")]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^vigil demo: .*precious is not empty and was not made by vigil demo \(pass --dir with a new or empty folder\)\n$/);
});
