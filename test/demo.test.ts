/**
 * `vigil demo` the way the README tells a newcomer to run it: it starts, prints URLs that answer,
 * and Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) stops it and
 * every process it started.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
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
  assert.match(stdout, /^vigil demo: 40,000 cases loaded from the fixture portal \(run 1\), then 10 nights of closed cases and new deaths \(runs 2 to 11\)\.$/m);
  const datasette = stdout.match(/^ {2}datasette {2}(http:\/\/127\.0\.0\.1:\d+\/vigil)$/m)?.[1];
  assert.ok(datasette, stdout);
  const page = await fetch(datasette);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /daily_deaths/);
  // datasette says it too, title first, and its source link answers
  assert.match(html, /Generated data for the vigil demo: these are not real people/);
  const home = await (await fetch(new URL("/", datasette))).text();
  assert.match(home, /<title>vigil demo: generated data, not the Medical Examiner(&#39;|')s record/);
  const source = home.match(/Data source:\s*<a href="([^"]+)">\s*vigil demo \(generated data\)/)?.[1];
  assert.ok(source, "the home page names its source");
  assert.equal((await fetch(source)).status, 200, "and the link answers");
  const memorial = await fetch(`${datasette}/memorial.json?date=2020-12-01&_shape=array`);
  assert.equal(memorial.status, 200);
  const people = (await memorial.json()) as Array<{ description: string }>;
  assert.ok(people.length > 10 && people.every((p) => /^An? \d+-year-old /.test(p.description)), JSON.stringify(people[0]));

  // the demo says everywhere that its people are made up, and its source link works
  const summary = JSON.parse(readFileSync(join(dir, "site", "data", "vigil", "summary.json"), "utf8"));
  assert.equal(summary.source_name, "vigil demo (generated data)");
  assert.match(summary.record_note, /^Generated data for the vigil demo: these are not real people/);
  assert.equal((await fetch(summary.source_url)).status, 200, "the source link answers");
  assert.equal((await fetch(`${summary.records_url}2020-12-01`)).status, 200, "a day's records answer");
  const manifest = JSON.parse(readFileSync(join(dir, "site", "data", "vigil", "charts.json"), "utf8"));
  for (const chart of Object.values(manifest.charts) as Array<{ notes: string }>) assert.match(chart.notes, /^Generated data for the vigil demo/);
  const opioid = JSON.parse(readFileSync(join(dir, "site", "data", "vigil", "opioid", "summary.json"), "utf8"));
  assert.match(opioid.record_note, /^Generated data for the vigil demo: .* flagged opioid related/);
  assert.ok(opioid.pending > 0 && opioid.provisional_from, "the demo's recent opioid-related days are not final");
  assert.equal(opioid.lag_source, "observed", "over its nights the demo saw enough deaths join the opioid lens to measure the lag");

  const site = stdout.match(/^ {2}site {7}(\S+)/m)?.[1];
  if (hugo) {
    assert.match(String(site), /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const post = await fetch(new URL("posts/charts/", String(site)));
    assert.equal(post.status, 200);
    assert.match(await post.text(), /<svg[^>]*role="img"/, "the demo site shows the charts");
    const lenses = await fetch(new URL("posts/lenses/", String(site)));
    assert.equal(lenses.status, 200);
    const page = await lenses.text();
    for (const words of ["Heat-related deaths per day", "Opioid-related deaths per day", "Gun-related deaths per day", "Not final yet"]) assert.ok(page.includes(words), `the lens post shows ${words}`);
  } else {
    assert.match(stdout, /site {7}not built: install Hugo/);
  }

  // the public record is published too, and the line says how to serve it
  const snapshot = stdout.match(/^ {2}public {5}(\S+vigil-[0-9a-f]{12}\.db) {2}\(the public record; serve it with: npx vigil serve --public --out (\S+) --port 8002\)$/m);
  assert.ok(snapshot, stdout);
  assert.equal(snapshot[2], join(dir, "public"));
  assert.ok(existsSync(snapshot[1]) && existsSync(join(dir, "public", "latest.json")));
  assert.match(stdout, new RegExp(`^ {2}database {3}${join(dir, "vigil.db")} {2}\\(try: npx vigil status --db `, "m"));

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

test("vigil demo checks its ports before it starts, names the one taken and the flag to choose another", async (t) => {
  const holder = createServer();
  await new Promise<void>((done) => holder.listen(0, "127.0.0.1", done));
  t.after(() => holder.close());
  const taken = (holder.address() as { port: number }).port;
  const dir = join(tempDir(t), "demo");
  const result = await runMain(["demo", "--dir", dir, "--port", String(taken)]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `vigil demo: port ${taken} (datasette's) is taken by another program (stop that program, or choose another port with --port N (--port 0 picks a free one))\n`,
  );
  assert.equal(existsSync(dir), false, "nothing started, nothing written");
  if (hugo) {
    const site = await runMain(["demo", "--dir", dir, "--port", "0", "--site-port", String(taken)]);
    assert.equal(site.code, 1);
    assert.match(site.stderr, new RegExp(`^vigil demo: port ${taken} \\(the Hugo site's\\) is taken by another program \\(.*--site-port N`));
  }
  const same = await runMain(["demo", "--dir", dir, "--port", "8123", "--site-port", "8123"]);
  assert.equal(same.code, hugo ? 2 : 1, same.stderr);
  if (hugo) assert.match(same.stderr, /--port and --site-port are both 8123/);
  assert.equal(existsSync(dir), false);
});

test("vigil demo --help lists no --db, and --db is refused: its database is always DIR/vigil.db", async (t) => {
  const help = await runMain(["demo", "--help"]);
  assert.equal(help.code, 0);
  const options = help.stdout.slice(help.stdout.indexOf("\nOptions:\n"));
  assert.match(options, /--port N/);
  assert.doesNotMatch(options, /--db/);
  const dir = tempDir(t);
  const refused = await runMain(["demo", "--dir", join(dir, "demo"), "--db", join(dir, "mine.db")]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^vigil demo: Unknown option '--db'/);
  assert.deepEqual(readdirSync(dir), []);
});
