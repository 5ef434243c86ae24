/**
 * --site must be the root of a Hugo site: a folder without a Hugo configuration, a file or a
 * missing path is refused as the flags are read, before anything is written or ingested, by
 * every command that takes --site.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUGO_CONFIGS, isHugoSite } from "../site-widgets/site-paths.ts";
import { ROOT, runMain, tempDir } from "./helpers.ts";
import { syncRows, edgeRows } from "./widgets-db.ts";

const FIXTURE_SITE = join(ROOT, "fixtures", "hugo-site");

function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  syncRows(db, edgeRows(), "2026-11-26T12:00:00Z");
  const site = join(dir, "blog");
  cpSync(FIXTURE_SITE, site, { recursive: true });
  return { dir, db, site };
}

test("widgets refuses an empty folder, a notes folder, a site's content/, a file and a missing path, and writes nothing", async (t) => {
  const { dir, db, site } = setup(t);
  const empty = join(dir, "empty");
  mkdirSync(empty);
  const notes = join(dir, "notes");
  mkdirSync(notes);
  writeFileSync(join(notes, "todo.md"), "- call the printer\n");
  const file = join(dir, "notes.txt");
  writeFileSync(file, "not a site\n");
  const cases: Array<[string, RegExp, RegExp]> = [
    [empty, /--site .*empty is not a Hugo site: it has no hugo\.toml/, /`hugo new site DIR` makes one/],
    [notes, /--site .*notes is not a Hugo site/, /the folder with hugo\.toml or config\.toml/],
    [join(site, "content"), /--site .*blog\/content is not a Hugo site/, new RegExp(`inside the Hugo site ${site}: give its root, --site ${site}\\)`)],
    [file, /--site .*notes\.txt is a file, not a folder/, /give the root of your Hugo site/],
    [join(site, "hugo.toml"), /--site .*hugo\.toml is a file, not a folder/, new RegExp(`give the site's folder: --site ${site}\\)`)],
    [join(dir, "nowhere"), /--site .*nowhere does not exist/, /with --site or VIGIL_SITE/],
  ];
  for (const [given, message, hint] of cases) {
    const result = await runMain(["widgets", "--site", given, "--db", db]);
    assert.equal(result.code, 2, `${given}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, hint);
    assert.equal(result.stderr.trim().split("\n").length, 1, "one line");
  }
  assert.deepEqual(readdirSync(empty), []);
  assert.deepEqual(readdirSync(notes), ["todo.md"]);
  assert.deepEqual(readdirSync(join(site, "content")).sort(), readdirSync(join(FIXTURE_SITE, "content")).sort());

  const written = await runMain(["widgets", "--site", site, "--db", db]);
  assert.equal(written.code, 0, written.stderr);
  assert.ok(existsSync(join(site, "data", "vigil", "summary.json")));
});

test("each Hugo configuration makes a site root: hugo.* and config.* files, or config/_default/", (t) => {
  const dir = tempDir(t);
  for (const name of HUGO_CONFIGS) {
    const site = join(dir, name.replace(".", "-"));
    mkdirSync(site);
    assert.equal(isHugoSite(site), false);
    writeFileSync(join(site, name), "");
    assert.equal(isHugoSite(site), true, name);
  }
  const split = join(dir, "split");
  mkdirSync(join(split, "config", "_default"), { recursive: true });
  assert.equal(isHugoSite(split), true);
  const folderNamedLikeConfig = join(dir, "odd");
  mkdirSync(join(folderNamedLikeConfig, "hugo.toml"), { recursive: true });
  assert.equal(isHugoSite(folderNamedLikeConfig), false, "a folder named hugo.toml is no configuration");
});

test("a nightly run, schedule and publish with a wrong VIGIL_SITE fail at once: nothing ingested, nothing written", async (t) => {
  const { dir, site } = setup(t);
  const db = join(dir, "fresh.db");
  const wrong = join(site, "content");
  // the portal is unreachable on purpose: the run must stop before it is asked
  for (const argv of [["run", "--portal", "http://127.0.0.1:9"], ["schedule", "--portal", "http://127.0.0.1:9"], ["publish"]]) {
    const result = await runMain([...argv, "--db", db], { env: { VIGIL_SITE: wrong } });
    assert.equal(result.code, 2, `${argv[0]}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`^vigil ${argv[0]}: --site .*content is not a Hugo site`));
  }
  assert.equal(existsSync(db), false, "no database was created");
  assert.equal(existsSync(join(wrong, "vigil")), false);
});
