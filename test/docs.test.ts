/**
 * The docs and the command line say the same thing, as sqlite-utils' test_docs.py holds its docs to
 * its CLI. The convention the pages keep (README.md and docs/*.md):
 * - every command has a section whose heading starts with `vigil COMMAND` (e.g. "## `vigil serve`",
 *   "## `vigil serve --public`"; a section runs to the next heading of its level or above), and its
 *   sections name each of its own options as `--flag`;
 * - the options every command takes are named in the section "Options every command takes", which
 *   names the commands that leave one out;
 * - every environment variable vigil reads or sets for a hook is written somewhere in the pages;
 * - nothing in the pages is a `--flag` or a `VIGIL_` variable the command line does not have, and an
 *   invocation `vigil COMMAND --flag` uses only that command's options.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { COMMAND_SUMMARIES, environmentRows, loadCommand } from "../pipeline/cli/main.ts";
import { COMMON_OPTIONS, commandOptions, ENVIRONMENT, HOOK_ENVIRONMENT, type Command } from "../pipeline/cli/command.ts";
import { ROOT, runMain } from "./helpers.ts";

/** `--flags` the pages may name that belong to other tools, each with where it comes from. */
const OTHER_TOOLS_FLAGS: Record<string, string> = {
  "--minify": "hugo, in the --then examples",
  "--import": "node --import tsx, to run the sources or a test file",
  "--test": "node's test runner",
  "--rebase": "git pull --rebase --autostash, how vigil run --push catches up",
  "--autostash": "git pull --rebase --autostash",
  "--name": "ansible-vault encrypt_string --name",
  "--syntax-check": "ansible-playbook --syntax-check, which npm test runs",
  "--nginx": "certbot --nginx",
  "--from-literal": "kubectl create secret generic --from-literal",
  "--now": "systemctl enable --now",
  "--omit": "npm ci --omit=dev",
  "--csv": "sqlite-utils insert --csv and sqlite3 .import --csv, in the benchmarks",
  "--profile": "npm run bench -- --profile (bench/run.ts)",
  "--shape": "npm run bench -- --shape real|synthetic (bench/run.ts)",
  "--sizes": "npm run bench -- --sizes (bench/run.ts)",
  "--runs": "npm run bench -- --runs (bench/run.ts)",
  "--skip-nightly": "npm run bench -- --skip-nightly (bench/run.ts)",
  "--skip-archive": "npm run bench -- --skip-archive (bench/run.ts)",
  "--noEmit": "tsc --noEmit",
};

/** `VIGIL_` names the code uses that are not settings: each with why it is not documented. */
const INTERNAL_ENV: Record<string, string> = {
  VIGIL_INSTALL_LOCKED: "datasette/install.sh marks its own re-run under flock with it",
};

interface Page {
  file: string;
  text: string;
}

interface Section {
  file: string;
  heading: string;
  body: string;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith(".md") ? [path] : [];
  });
}

const PAGES: Page[] = [join(ROOT, "README.md"), ...markdownFiles(join(ROOT, "docs"))].map((path) => ({
  file: relative(ROOT, path),
  text: readFileSync(path, "utf8"),
}));

/** Every heading of a page with its body, up to the next heading of its level or above (code blocks are not headings). */
function sections(page: Page): Section[] {
  const lines = page.text.split("\n");
  const headings: Array<{ line: number; level: number; text: string }> = [];
  let fenced = false;
  lines.forEach((line, i) => {
    if (line.startsWith("```")) fenced = !fenced;
    const match = fenced ? null : /^(#{1,6})\s+(.*)$/.exec(line);
    if (match) headings.push({ line: i, level: match[1].length, text: match[2].replaceAll("`", "").trim() });
  });
  return headings.map((h, i) => {
    const end = headings.slice(i + 1).find((next) => next.level <= h.level)?.line ?? lines.length;
    return { file: page.file, heading: h.text, body: lines.slice(h.line, end).join("\n") };
  });
}

const SECTIONS = PAGES.flatMap(sections);
const ALL_TEXT = PAGES.map((p) => p.text).join("\n");
const COMMON_SECTION = "Options every command takes";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const names = (flag: string) => new RegExp(`${escape(flag)}(?![\\w-])`);
/** A --flag: words joined by single hyphens, not the arrows of a diagram ("--fetch-->"). */
const FLAG = /(?<![\w\\-])--([a-zA-Z][a-zA-Z0-9]*(?:-[a-zA-Z0-9]+)*)(?![\w-])/g;

function commandSections(name: string): Section[] {
  return SECTIONS.filter((s) => new RegExp(`^vigil ${escape(name)}(?![\\w-])`).test(s.heading));
}

async function registry(): Promise<Map<string, Command>> {
  const commands = new Map<string, Command>();
  for (const name of Object.keys(COMMAND_SUMMARIES)) commands.set(name, (await loadCommand(name))!);
  return commands;
}

test("every command has a section headed `vigil COMMAND` that names each of its own options", async () => {
  for (const [name, command] of await registry()) {
    const found = commandSections(name);
    assert.ok(found.length > 0, `no section headed "vigil ${name}" in README.md or docs/`);
    const body = found.map((s) => s.body).join("\n");
    for (const key of Object.keys(command.options)) {
      assert.match(body, names(`--${key}`), `vigil ${name} --${key} is not named in its section (${found.map((s) => `${s.file}: ${s.heading}`).join("; ")})`);
    }
    assert.match(ALL_TEXT, new RegExp(`^\\| \`vigil ${escape(name)}(?![\\w-])`, "m"), `vigil ${name} is a row of the README's commands table`);
  }
});

test("the options every command takes are named in their section, with the commands that leave one out", async () => {
  const common = SECTIONS.filter((s) => s.heading === COMMON_SECTION);
  assert.equal(common.length, 1, `one section headed "${COMMON_SECTION}"`);
  for (const [key, spec] of Object.entries(COMMON_OPTIONS)) {
    assert.match(common[0].body, names(`--${key}`), `--${key} in "${COMMON_SECTION}"`);
    if (spec.env) assert.match(common[0].body, names(spec.env), `${spec.env} in "${COMMON_SECTION}"`);
  }
  const commands = await registry();
  // the section names a command only to say what it leaves out: those are exactly the ones that do
  const named = [...commands.keys()].filter((name) => new RegExp(`vigil ${escape(name)}(?![\\w-])`).test(common[0].body));
  assert.deepEqual(named, [...commands].filter(([, c]) => (c.withoutCommon ?? []).length > 0).map(([name]) => name));
  for (const [name, command] of commands) {
    for (const key of command.withoutCommon ?? []) {
      assert.match(common[0].body, new RegExp(`vigil ${escape(name)}(?![\\w-])`), `"${COMMON_SECTION}" says that vigil ${name} takes no --${key}`);
      for (const section of commandSections(name)) {
        assert.doesNotMatch(section.body, new RegExp(`^\\|\\s*\`--${escape(key)}(?![\\w-])`, "m"), `${section.file}: vigil ${name} has no --${key} to list`);
      }
    }
  }
});

test("every --flag the pages name is one of vigil's, or another tool's listed here", async () => {
  const known = new Set<string>();
  for (const command of (await registry()).values()) for (const key of Object.keys(commandOptions(command))) known.add(`--${key}`);
  for (const page of PAGES) {
    // the arrows of a diagram ("--validate (zod)-->") are not flags
    for (const [flag] of page.text.replace(/--[^-\n]*-->/g, "").matchAll(FLAG)) {
      assert.ok(known.has(flag) || flag in OTHER_TOOLS_FLAGS, `${page.file} names ${flag}, which no vigil command takes`);
    }
  }
  for (const flag of Object.keys(OTHER_TOOLS_FLAGS)) {
    assert.ok(!known.has(flag), `${flag} is vigil's own: take it off the list of other tools' flags`);
    assert.match(ALL_TEXT, names(flag), `${flag} is no longer in the pages: take it off the list`);
  }
});

test("every `vigil COMMAND ...` in the pages uses only that command's options", async () => {
  const commands = await registry();
  let checked = 0;
  for (const page of PAGES) {
    // the rest of the line up to the end of inline code, a comment, a table cell or the next command
    for (const match of page.text.matchAll(/(?<![\w/-])vigil ([a-z][\w-]*)([^`\n|#;&)]*)/g)) {
      const command = commands.get(match[1]);
      if (!command) continue;
      const options = commandOptions(command);
      // a quoted argument is another program's command line (--then "hugo --minify ...")
      for (const [flag] of match[2].replace(/"[^"]*"|'[^']*'/g, "").matchAll(FLAG)) {
        checked++;
        assert.ok(flag.slice(2) in options, `${page.file}: "vigil ${match[1]}${match[2]}" uses ${flag}, which vigil ${match[1]} does not take`);
      }
    }
  }
  assert.ok(checked > 50, `the pages show the commands with their options (${checked} checked)`);
});

test("every environment variable vigil reads or sets is documented, and nothing else is", async () => {
  const flagEnv = new Set((await environmentRows()).map(([name]) => name));
  for (const name of Object.keys(ENVIRONMENT)) assert.ok(flagEnv.has(name), `${name} is listed with the rest`);
  const registered = new Set([...flagEnv, ...Object.keys(HOOK_ENVIRONMENT)]);
  for (const name of registered) assert.match(ALL_TEXT, names(name), `${name} is documented in README.md or docs/`);
  for (const page of PAGES) {
    for (const [name] of page.text.matchAll(/\bVIGIL_[A-Z_]+\b/g)) {
      assert.ok(registered.has(name), `${page.file} names ${name}, which vigil neither reads nor sets`);
    }
  }
});

test("every VIGIL_ name in the code is a registered variable or an internal one listed here", async () => {
  const registered = new Set([...(await environmentRows()).map(([name]) => name), ...Object.keys(HOOK_ENVIRONMENT)]);
  const used = new Set<string>();
  const sourceFiles = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === "node_modules" ? [] : sourceFiles(path);
      return /\.(ts|js|sh|py|ya?ml|j2|conf|service|timer|ini)$|Containerfile$/.test(name) ? [path] : [];
    });
  for (const file of ["pipeline", "bin", "datasette", "deploy", "site-widgets", "schemas"].flatMap((d) => sourceFiles(join(ROOT, d)))) {
    for (const [name] of readFileSync(file, "utf8").matchAll(/\bVIGIL_[A-Z_]+\b/g)) {
      used.add(name);
      assert.ok(registered.has(name) || name in INTERNAL_ENV, `${relative(ROOT, file)} uses ${name}: register it (an option's env, ENVIRONMENT or HOOK_ENVIRONMENT in pipeline/cli/command.ts)`);
    }
  }
  for (const name of Object.keys(HOOK_ENVIRONMENT)) assert.ok(used.has(name), `${name} is set by the code, not only listed`);
  for (const name of Object.keys(ENVIRONMENT).filter((n) => n.startsWith("VIGIL_"))) assert.ok(used.has(name), `${name} is read by the code, not only listed`);
  for (const name of Object.keys(INTERNAL_ENV)) assert.ok(used.has(name), `${name} is still used`);
});

test("vigil --help lists the environment from the registry", async () => {
  const help = await runMain(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  const environment = help.stdout.slice(help.stdout.indexOf("Environment"));
  const listed = [...environment.matchAll(/^ {2}([A-Z][A-Z_]+) /gm)].map((m) => m[1]);
  const expected = [...(await environmentRows()).map(([name]) => name), ...Object.keys(HOOK_ENVIRONMENT)];
  assert.deepEqual(listed, expected);
  for (const name of ["VIGIL_DB", "VIGIL_PUBLIC", "VIGIL_FROM", "VIGIL_CRON", "SOCRATA_APP_TOKEN"]) assert.ok(listed.includes(name), name);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

test("every link between the pages reaches a file, and a heading when it names one", () => {
  let checked = 0;
  for (const page of PAGES) {
    // an unclosed code block would turn the rest of the page into code, and its headings with it
    assert.equal(page.text.split("\n").filter((line) => line.startsWith("```")).length % 2, 0, `${page.file}: every code block is closed`);
    for (const [, target] of page.text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split("#");
      const file = path === "" ? page.file : relative(ROOT, join(ROOT, page.file, "..", path));
      assert.ok(path === "" || existsSync(join(ROOT, file)), `${page.file} links to ${target}, which does not exist`);
      if (anchor !== undefined) {
        const linked = PAGES.find((p) => p.file === file);
        assert.ok(linked, `${page.file} links to a heading of ${file}, which is not one of the pages`);
        assert.ok(sections(linked).some((s) => slug(s.heading) === anchor), `${page.file} links to #${anchor}, which no heading of ${file} has`);
      }
      checked++;
    }
  }
  assert.ok(checked > 30, `${checked} links checked`);
});
