/**
 * Shipped migrations are frozen by construction: each file in pipeline/store/migrations/ carries
 * its own SQL and data and imports nothing of the project but types, so editing a live module
 * never changes what a new database gets. A database built from 001 in one go and one migrated
 * step by step from every earlier version end with the same schema and reference rows; the newest
 * reference rows are what the live modules read today; old rejects get their codes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { codesJson, duplicateCase, reasonsText } from "../pipeline/normalize/reasons.ts";
import { normalizeRow } from "../pipeline/normalize/row.ts";
import { openDatabase, type DB } from "../pipeline/store/db.ts";
import { builtInEvents } from "../pipeline/store/events.ts";
import { MIGRATIONS, type Migration } from "../pipeline/store/migrations.ts";
import { loadPopulation, POPULATION_SQL } from "../pipeline/store/population.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { ROOT, tempDir } from "./helpers.ts";

const FOLDER = join(ROOT, "pipeline", "store", "migrations");
const migrationFiles = () => readdirSync(FOLDER).filter((f) => f.endsWith(".ts") && f !== "migration.ts").sort();

/** Every import, re-export, import() and require() of a source text, with whether it is `import type`. */
function importsOf(source: string): Array<{ specifier: string; typeOnly: boolean }> {
  const text = source.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
  const found: Array<{ specifier: string; typeOnly: boolean }> = [];
  const IMPORT = /(?:^|[\s;])(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s*)?["']([^"']+)["']|\b(?:import|require)\(\s*["']([^"']+)["']\s*\)/g;
  for (const match of text.matchAll(IMPORT)) found.push({ specifier: match[3] ?? match[4], typeOnly: match[2] !== undefined });
  return found;
}

/**
 * What a frozen migration may import: types only (the database handle's, a sibling's, a schema's),
 * which cannot change what it does. Any value, of the project or not, could.
 */
function forbiddenImports(source: string): string[] {
  return importsOf(source)
    .filter((i) => !i.typeOnly)
    .map((i) => `${i.typeOnly ? "import type" : "import"} ${i.specifier}`);
}

test("the import check catches every way of reaching a live module", () => {
  const allowed = ['import type Database from "better-sqlite3";', 'import type { Migration } from "./migration.ts";', `import type { Case } from "${"../../../schemas/case.ts"}";`];
  for (const line of allowed) assert.deepEqual(forbiddenImports(line), [], line);
  // the specifiers are filled in, so that test/layout.test.ts does not read these lines as imports of this file
  const [memorial, population, events] = ["../../normalize/memorial.ts", "../population.ts", "../events.ts"];
  const refused = [
    `import { memorialSentence } from "${memorial}";`,
    `import { type Person, memorialSentence } from "${memorial}";`,
    `import "${population}";`,
    `export { EVENTS_SQL } from "${events}";`,
    `const m = await import("${population}");`,
    'const fs = require("node:fs");',
    'import { readFileSync } from "node:fs";',
    'import Database from "better-sqlite3";',
    `import { helper } from "${"./helper.ts"}";`,
  ];
  for (const line of refused) assert.equal(forbiddenImports(line).length, 1, line);
});

test("a migration imports nothing of the project but types (and the database handle type)", () => {
  const files = migrationFiles();
  assert.ok(files.length >= 9, files.join(", "));
  const broken = files.flatMap((file) => forbiddenImports(readFileSync(join(FOLDER, file), "utf8")).map((i) => `${file}: ${i}`));
  assert.deepEqual(broken, []);
  // the interface beside them is types only too
  assert.deepEqual(forbiddenImports(readFileSync(join(FOLDER, "migration.ts"), "utf8")), []);
});

test("MIGRATIONS lists every file of migrations/ once, in the order of their numbers, each named as its file", () => {
  assert.deepEqual(MIGRATIONS.map((m) => `${m.name}.ts`), migrationFiles());
  assert.equal(new Set(MIGRATIONS.map((m) => m.name)).size, MIGRATIONS.length);
});

/** A database as a version of vigil that shipped the first `k` migrations left it. */
function migratedBy(path: string, migrations: readonly Migration[]): void {
  const db = new Database(path);
  try {
    db.exec("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
    db.transaction(() => {
      for (const migration of migrations) {
        db.exec(migration.sql);
        migration.fill?.(db);
        db.prepare("INSERT INTO migrations (name, applied_at) VALUES (?, '2026-01-01T00:00:00.000Z')").run(migration.name);
      }
    })();
  } finally {
    db.close();
  }
}

const REFERENCE_TABLES = ["population", "standard_population", "population_groups"];

/** Everything the shape of a database is: its objects, their columns, the reference rows, the migrations applied. */
function shape(db: DB) {
  const objects = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all() as Array<{ type: string; name: string; sql: string | null }>;
  const columns = objects
    .filter((o) => o.type === "table" || o.type === "view")
    .map((o) => ({ name: o.name, columns: db.prepare("SELECT * FROM pragma_table_info(?) ORDER BY cid").all(o.name) }));
  return {
    objects: objects.map((o) => ({ ...o, sql: o.sql?.replace(/\s+/g, " ").trim() ?? null })),
    columns,
    reference: Object.fromEntries(REFERENCE_TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()])),
    builtInEvents: db.prepare("SELECT date, label, source_url FROM events WHERE origin = 'built-in' ORDER BY date, label").all(),
    migrations: db.prepare("SELECT name FROM migrations ORDER BY name").pluck().all(),
  };
}

function shapeOf(path: string): ReturnType<typeof shape> {
  const db = openDatabase(path);
  try {
    return shape(db);
  } finally {
    db.close();
  }
}

test("a database migrated step by step from every earlier version has the schema and reference rows of one built from 001", (t) => {
  const dir = tempDir(t);
  const fresh = shapeOf(join(dir, "fresh.db"));
  assert.deepEqual(fresh.migrations, MIGRATIONS.map((m) => m.name));
  assert.ok(fresh.objects.length > 20 && fresh.reference.population.length === 180 && fresh.builtInEvents.length > 0);
  for (let k = 1; k < MIGRATIONS.length; k++) {
    const path = join(dir, `from-${k}.db`);
    migratedBy(path, MIGRATIONS.slice(0, k));
    assert.deepEqual(shapeOf(path), fresh, `migrated from ${MIGRATIONS[k - 1].name}`);
  }
});

test("the comparison sees a difference of schema or of reference rows", (t) => {
  const dir = tempDir(t);
  const fresh = shapeOf(join(dir, "fresh.db"));
  const path = join(dir, "edited.db");
  openDatabase(path).close();
  const db = new Database(path);
  db.exec("CREATE INDEX rejects_casenumber ON rejects (casenumber)");
  assert.notDeepEqual(shape(db), fresh);
  db.exec("DROP INDEX rejects_casenumber; UPDATE population SET population = population + 1 WHERE rowid = 1");
  assert.notDeepEqual(shape(db), fresh);
  db.close();
});

test("a new database holds the population files and the built-in events this version ships", () => {
  const db = openDatabase(":memory:");
  const today = new Database(":memory:");
  try {
    today.exec(POPULATION_SQL);
    loadPopulation(today);
    for (const table of REFERENCE_TABLES) {
      const rows = (handle: Database.Database) => handle.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all();
      assert.deepEqual(rows(db), rows(today), `${table}: a change to pipeline/store/reference/population/ ships as a new migration`);
    }
    const stored = db.prepare("SELECT date, label, source_url FROM events WHERE origin = 'built-in' ORDER BY date, label").all();
    assert.deepEqual(stored, builtInEvents().map(({ date, label, source_url }) => ({ date, label, source_url })));
  } finally {
    db.close();
    today.close();
  }
});

test("rejects stored before codes were kept get the codes of their words", (t) => {
  const path = join(tempDir(t), "old.db");
  migratedBy(path, MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === "009-reject-codes")));
  const today = "2026-11-26";
  const refused = (raw: RawRow) => {
    const result = normalizeRow(raw, { today });
    assert.ok(!result.ok, JSON.stringify(raw));
    return result.reasons;
  };
  // the words as this version writes them, each with the codes it gives them
  const cases = [
    { reasons: refused({ death_date: "2021-01-01T00:00:00.000" }), where: "line 702 of export.csv" },
    // a value holding "; " (the separator of reasons)
    { reasons: refused({ casenumber: "  ", death_date: "2021-02-30; then 2021-03-01" }) },
    { reasons: refused({ casenumber: "ME2026-1", death_date: "2026-11-27T00:00:00.000" }) },
    { reasons: refused({ casenumber: "ME1899-1", death_date: "1899-12-31T00:00:00.000" }) },
    { reasons: [duplicateCase("kept row row-2 (updated 2021-01-02T00:00:00.000)")] },
    // a backfill's displaced row: its file after each reason
    { reasons: [duplicateCase("the row at line 9 replaced this earlier one")].map((r) => ({ ...r, message: `${r.message} (export.csv)` })) },
  ];
  const old = new Database(path);
  old.prepare("INSERT INTO runs (id, kind, status, started_at, version) VALUES (1, 'ingest', 'success', '2026-01-01T00:00:00Z', '0.1.0')").run();
  const insert = old.prepare("INSERT INTO rejects (run_id, reasons, raw) VALUES (1, ?, ?)");
  cases.forEach((c, i) => insert.run(reasonsText(c.reasons, c.where), String(i)));
  insert.run("words no version of vigil wrote", "unknown");
  old.close();

  const db = openDatabase(path);
  const codes = db.prepare("SELECT codes FROM rejects ORDER BY id").pluck().all() as string[];
  db.close();
  assert.deepEqual(codes, [...cases.map((c) => codesJson(c.reasons)), '["unrecognized"]']);
  assert.deepEqual(codes.slice(0, 4).map((c) => JSON.parse(c)), [
    ["missing_casenumber"],
    ["invalid_casenumber", "invalid_death_date"],
    ["death_date_after_today"],
    ["death_date_too_early"],
  ]);
});
