/**
 * The datasette metadata that `vigil serve` hands to datasette: the hand-written datasette/metadata.yml
 * plus the column descriptions of `cases` and `covid_deaths`, taken from the field descriptions in
 * schemas/case.ts so that the schema stays their one source of truth.
 */
import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { projectPath } from "../pipeline/paths.ts";
import { parse } from "yaml";
import { z } from "zod";
import { caseSchema, CASE_FIELDS, PROVENANCE_COLUMNS } from "../schemas/case.ts";
import { checkContract, InternalError } from "../pipeline/errors.ts";
import { PRIVATE_TABLES, WITHHELD_COLUMNS, WITHHELD_FIELDS_SQL } from "../pipeline/publish/projection.ts";
import { FIGURES, figureSql, writeIn, type FigureName } from "../pipeline/store/figures.ts";
import { UNLISTED_MANNERS } from "../pipeline/normalize/memorial.ts";
import { GENERATED_NOTE, GENERATED_SOURCE } from "../site-widgets/notes.ts";
import { DEFAULT_LENS, LENS_NAMES, LENSES } from "../schemas/lenses.ts";
import { DATASETS, datasetPageUrl, DEFAULTS } from "../schemas/config.ts";

export const METADATA_PATH = projectPath("datasette", "metadata.yml");

/** The database key used in metadata.yml; renamed to the served file's name. */
export const BASE_DATABASE = "vigil";

/** Tables and views whose columns are the case fields plus provenance: the cases and each lens's deaths. */
export const SCHEMA_TABLES: readonly string[] = ["cases", ...LENS_NAMES.map((name) => LENSES[name].view)];

const text = z.string().trim().min(1);

const CREDIT_KEYS = ["source", "source_url", "license", "license_url", "about", "about_url"] as const;

const tableSchema = z.looseObject({
  description: text,
  columns: z.record(z.string(), text).optional(),
  facets: z.array(z.string()).optional(),
  hidden: z.boolean().optional(),
});

const querySchema = z.looseObject({
  // absent for the published figures, whose SQL is pipeline/store/figures/
  sql: text.optional(),
  title: text,
  description: text,
  // A canned query that writes is never wanted: datasette serves the database read-only.
  write: z.literal(false).optional(),
});

const databaseSchema = z.looseObject({
  description: text,
  tables: z.record(z.string(), tableSchema),
  queries: z.record(z.string(), querySchema),
});

/** The placeholders metadata.yml writes for lists vigil keeps in TypeScript, and their SQL. */
const PLACEHOLDERS: ReadonlyArray<[string, string]> = [
  ["WITHHELD_FIELDS", WITHHELD_FIELDS_SQL],
  ["UNLISTED_MANNERS", UNLISTED_MANNERS.map((manner) => `'${manner}'`).join(", ")],
];

const metadataSchema = z.looseObject({
  title: text,
  source: text,
  source_url: z.url(),
  license: text,
  databases: z.object({ [BASE_DATABASE]: databaseSchema }),
});

export type TableMetadata = z.infer<typeof tableSchema>;
export type QueryMetadata = z.infer<typeof querySchema> & { sql: string };
export type DatabaseMetadata = z.infer<typeof databaseSchema>;

/** Datasette metadata with exactly one database, under the name it is served as. */
export type Metadata = Omit<z.infer<typeof metadataSchema>, "databases"> & { databases: Record<string, DatabaseMetadata & { queries: Record<string, QueryMetadata> }> };

/** The name datasette serves a database file under: its file name without the extension. */
export function databaseName(dbPath: string): string {
  const file = basename(dbPath);
  return file.slice(0, file.length - extname(file).length) || file;
}

/** Descriptions of the columns of `cases` (and of `covid_deaths`, its published subset), from the schema. */
export function caseColumnDescriptions(): Record<string, string> {
  const columns: Record<string, string> = {};
  for (const field of CASE_FIELDS) {
    const description = caseSchema.shape[field].description;
    if (!description) throw new InternalError(`schemas/case.ts: field ${field} has no .describe()`, { hint: "every case field needs a description" });
    columns[field] = description;
  }
  return { ...columns, ...PROVENANCE_COLUMNS };
}

/** The public snapshot datasette serves with `vigil serve --public`, as its manifest describes it. */
export interface Snapshot {
  file: string;
  sha256: string;
  bytes: number;
  published_at: string;
}

const archiveSchema = z.object({ title: text, about: text, description: text, opening_html: text });

const publicSchema = z.object({
  addresses_html: text,
  queries: z.record(z.string(), z.object({ sql: text })),
});

/**
 * Validates the hand-written base and merges in the schema's column descriptions. With a
 * snapshot, the metadata of the public record: what it withholds left out and said so, its hash
 * on the database page.
 */
/** What the metadata says besides the base: the database's name, the public snapshot, or the demo's generated data. */
export interface MetadataOptions {
  database?: string;
  /** The dataset the database holds (its last run's): the whole archive's is described as such. */
  dataset?: string | null;
  snapshot?: Snapshot;
  /** `vigil demo`: the data is generated, and its source is the fixture portal at this URL. */
  generated?: { sourceUrl: string };
}

export function buildMetadata(base: unknown, options: MetadataOptions = {}): Metadata {
  const { databases, public: publicBlock, archive: archiveBlock, ...top } = checkContract(metadataSchema, base, "datasette/metadata.yml", "fix datasette/metadata.yml");
  const database = withQuerySql(structuredClone(databases[BASE_DATABASE]));
  describeLensViews(database);
  const described = caseColumnDescriptions();
  for (const table of SCHEMA_TABLES) {
    const entry = database.tables[table];
    if (!entry) throw new InternalError(`datasette/metadata.yml has no entry for ${table}`, { hint: "describe it under databases.vigil.tables" });
    const twice = Object.keys(entry.columns ?? {}).filter((column) => column in described);
    if (twice.length > 0) {
      throw new InternalError(`datasette/metadata.yml describes ${table}.${twice[0]}, which schemas/case.ts already describes`, {
        hint: "change the description in schemas/case.ts and remove it from metadata.yml",
      });
    }
    entry.columns = { ...described, ...entry.columns };
  }
  // Datasette credits the source under tables through inheritance, but not under canned queries:
  // copy the credit onto each query so the memorial page names the county too.
  for (const query of Object.values(database.queries)) {
    for (const key of CREDIT_KEYS) if (query[key] === undefined && top[key] !== undefined) query[key] = top[key];
  }
  if (options.snapshot) {
    const overrides = checkContract(publicSchema, publicBlock, "datasette/metadata.yml", "fix its public: block");
    makePublic(top, database, overrides, options.snapshot);
  }
  if (options.dataset === DATASETS.archive) makeArchive(top, database, checkContract(archiveSchema, archiveBlock, "datasette/metadata.yml", "fix its archive: block"));
  if (options.generated) makeGenerated(top, database, options.generated.sourceUrl);
  return { ...top, databases: { [options.database ?? BASE_DATABASE]: database } };
}

/**
 * Every query with its SQL: the published figures' from pipeline/store/figures/ (the same text the
 * site runs), the others' as written, the lists of withheld fields and of unlisted manners of death filled in.
 */
function withQuerySql(database: z.infer<typeof databaseSchema>): DatabaseMetadata & { queries: Record<string, QueryMetadata> } {
  for (const name of Object.keys(FIGURES) as FigureName[]) {
    const query = database.queries[name];
    if (!query) throw new InternalError(`datasette/metadata.yml has no query ${name}`, { hint: "describe it under databases.vigil.queries, without sql" });
    if (query.sql !== undefined) {
      throw new InternalError(`datasette/metadata.yml writes the SQL of ${name}, which pipeline/store/figures/ already holds`, { hint: "remove its sql" });
    }
    query.sql = figureSql(name);
  }
  for (const [name, query] of Object.entries(database.queries)) {
    if (query.sql === undefined) throw new InternalError(`datasette/metadata.yml: query ${name} has no sql`);
    for (const [placeholder, sql] of PLACEHOLDERS) query.sql = query.sql.replaceAll(placeholder, sql);
    query.sql = writeIn(query.sql);
  }
  return database as DatabaseMetadata & { queries: Record<string, QueryMetadata> };
}

function makePublic(top: Record<string, unknown>, database: DatabaseMetadata, overrides: z.infer<typeof publicSchema>, snapshot: Snapshot): void {
  for (const table of PRIVATE_TABLES) delete database.tables[table];
  const withheld = Object.entries(WITHHELD_COLUMNS);
  for (const table of SCHEMA_TABLES) {
    const entry = database.tables[table];
    for (const [column] of withheld) delete entry.columns?.[column];
    entry.description += ` Withheld from this public record: ${withheld.map(([column, why]) => `${column} (${why})`).join("; ")}.`;
  }
  delete database.tables.rejects.columns?.raw;
  database.tables.rejects.description += " The refused rows themselves are withheld: they hold street addresses and coordinates.";
  database.tables.runs.description += " The public record lists the runs that changed it (a case, or a refused row).";
  for (const [name, { sql }] of Object.entries(overrides.queries)) {
    if (!database.queries[name]) throw new InternalError(`datasette/metadata.yml: public.queries.${name} overrides no query`);
    database.queries[name].sql = sql;
  }
  if (typeof top.description_html === "string") {
    top.description_html = top.description_html.replace(/<p><strong>Addresses\.<\/strong>[\s\S]*?<\/p>/, overrides.addresses_html);
  }
  database.description +=
    " Street addresses, coordinates and the raw source rows are withheld from this public record: a memorial is never a map of where people died." +
    ` This is the public snapshot ${snapshot.file} (${snapshot.bytes.toLocaleString("en-US")} bytes, published ${snapshot.published_at}),` +
    ` SHA-256 ${snapshot.sha256}: download it below and check it with \`sha256sum\`.`;
}

/**
 * Each lens's view but covid_deaths (written in metadata.yml) is described from schemas/lenses.ts,
 * laid out as covid_deaths is: the same facets, order, page size and search.
 */
function describeLensViews(database: z.infer<typeof databaseSchema>): void {
  const model = database.tables[LENSES[DEFAULT_LENS].view];
  if (!model) throw new InternalError(`datasette/metadata.yml has no entry for ${LENSES[DEFAULT_LENS].view}`);
  for (const name of LENS_NAMES) {
    const lens = LENSES[name];
    if (name === DEFAULT_LENS) continue;
    database.tables[lens.view] = {
      ...structuredClone(model),
      description:
        `The ${lens.deaths} in the Medical Examiner's record: cases with ${lens.field} = 1 (the county's ${lens.sourceColumn} flag) that have not been withdrawn (removed_run_id IS NULL). ` +
        `${lens.meaning} One row per person, 25 a page; the same columns as cases. Recent days are not final: see the provisional query (lens=${name}).`,
    };
  }
}

/**
 * A database of the whole case archive says so: its title, its opening paragraphs (up to the late and
 * backdated cases, which hold for it too), its description and its source are the archive's.
 */
function makeArchive(top: Record<string, unknown>, database: DatabaseMetadata, archive: z.infer<typeof archiveSchema>): void {
  top.title = archive.title;
  top.about = archive.about;
  if (typeof top.description_html === "string") {
    top.description_html = top.description_html.replace(/^[\s\S]*?(?=<p><strong>Late and backdated cases)/, archive.opening_html + "\n");
  }
  database.description = archive.description;
  for (const key of ["source_url", "license_url"] as const) top[key] = datasetPageUrl(DEFAULTS.portal, DATASETS.archive);
}

/** The demo's datasette says on every page, title first, that its people are made up. */
function makeGenerated(top: Record<string, unknown>, database: DatabaseMetadata, sourceUrl: string): void {
  top.title = "vigil demo: generated data, not the Medical Examiner's record";
  top.source = GENERATED_SOURCE;
  top.source_url = sourceUrl;
  const warning = `<p><strong>${GENERATED_NOTE}</strong></p>`;
  top.description_html = typeof top.description_html === "string" ? warning + top.description_html : warning;
  database.description = `${GENERATED_NOTE} ${database.description}`;
  for (const query of Object.values(database.queries)) {
    query.source = GENERATED_SOURCE;
    query.source_url = sourceUrl;
  }
}

/** Reads datasette/metadata.yml (or `path`) and builds the complete metadata. */
export function loadMetadata(options: MetadataOptions & { path?: string } = {}): Metadata {
  const path = options.path ?? METADATA_PATH;
  let base: unknown;
  try {
    base = parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InternalError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return buildMetadata(base, options);
}
