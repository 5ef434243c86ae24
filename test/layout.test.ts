/**
 * The house rules of the code, read from the imports themselves: schemas depend on nothing of
 * ours, only the CLI knows the commands, the widgets never reach for the source, only tests, the
 * benchmark and the demo use fixtures, and no module imports itself round a cycle.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { ROOT } from "./helpers.ts";

const FOLDERS = ["pipeline", "schemas", "site-widgets", "datasette", "fixtures", "bench", "bin", "test"];
/** Where the product lives; tests, the benchmark and bin/ are its users. */
const PRODUCT = ["pipeline/", "schemas/", "site-widgets/", "datasette/"];

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!["node_modules", "output", "hugo-site", "browser"].includes(entry.name)) walk(path);
      } else if (/\.(ts|js|cjs)$/.test(entry.name)) {
        files.push(path);
      }
    }
  };
  for (const folder of FOLDERS) walk(folder);
  return files;
}

const IMPORT = /(?:^|[\s;])(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s*)?["']([^"']+)["']|\b(?:import|require)\(\s*["']([^"']+)["']\s*\)/g;

/** Every import of a file of ours, resolved to a path from the root. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), "utf8").replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, "");
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[3] ?? match[4];
    if (!specifier.startsWith(".")) continue;
    found.push({ from: file, to: posix.normalize(posix.join(posix.dirname(file), specifier)), typeOnly: match[2] !== undefined });
  }
  return found;
}

const files = sourceFiles();
const imports = files.flatMap(importsOf);
const product = (path: string) => PRODUCT.some((folder) => path.startsWith(folder));
const broken = (rule: (i: Import) => boolean) =>
  imports.filter(rule).map((i) => `${i.from} imports ${i.to}`);

test("the import reader sees every kind of import", () => {
  assert.ok(files.includes("pipeline/cli/main.ts") && files.includes("pipeline/backfill/csv/worker-tsx.cjs"));
  const main = importsOf("pipeline/cli/main.ts").map((i) => i.to);
  assert.ok(main.includes("pipeline/cli/command.ts"), "a static import");
  assert.ok(main.includes("pipeline/cli/status.ts"), "a lazy import()");
  assert.ok(importsOf("pipeline/backfill/csv/worker-tsx.cjs").some((i) => i.to === "pipeline/backfill/csv/worker.ts"), "a require()");
  assert.ok(importsOf("pipeline/ingest/ingest.ts").some((i) => i.typeOnly), "an `import type`");
  for (const i of imports) assert.ok(files.includes(i.to), `${i.from}: ${i.to} exists`);
});

test("schemas/ imports nothing of ours", () => {
  assert.deepEqual(broken((i) => i.from.startsWith("schemas/") && !i.to.startsWith("schemas/")), []);
});

test("only the CLI imports a command: stages never do", () => {
  assert.deepEqual(broken((i) => i.to.startsWith("pipeline/cli/") && product(i.from) && !i.from.startsWith("pipeline/cli/")), []);
});

test("the widgets never import the source layer", () => {
  assert.deepEqual(broken((i) => i.from.startsWith("site-widgets/") && i.to.startsWith("pipeline/source/")), []);
});

test("only tests, the benchmark and the demo import fixtures/", () => {
  const allowed = (from: string) => /^(test|bench|fixtures)\//.test(from) || from === "pipeline/ops/demo.ts";
  assert.deepEqual(broken((i) => i.to.startsWith("fixtures/") && !allowed(i.from)), []);
});

test("no module of the product imports itself round a cycle", () => {
  const graph = new Map<string, string[]>();
  for (const i of imports) if (product(i.from) && product(i.to)) graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  assert.deepEqual(cycles, []);
});

test("every room of pipeline/ is documented in the layout section of docs/development.md", () => {
  const readme = readFileSync(join(ROOT, "docs", "development.md"), "utf8");
  const section = readme.slice(readme.indexOf("## How the code is laid out"));
  assert.ok(section.length > 0 && readme.includes("## How the code is laid out"));
  const rooms = readdirSync(join(ROOT, "pipeline"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.ok(rooms.length >= 7, rooms.join(", "));
  for (const room of rooms) assert.match(section, new RegExp(`\`pipeline/${room}/\``), `pipeline/${room}/ is described`);
  for (const file of files.filter((f) => /^pipeline\/[^/]+\.ts$/.test(f))) {
    assert.match(section, new RegExp(`\`${relative("pipeline", file).replace(".", "\\.")}\``), `${file} is described`);
  }
});
