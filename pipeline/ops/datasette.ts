/**
 * datasette on the database, from the project's own .venv (`vigil serve`, `vigil demo`, the tests).
 * The database is served under its file name and is never opened immutable, so datasette sees each
 * run's commit as soon as it lands (WAL lets it read while a run writes).
 */
import { copyFileSync, existsSync, linkSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { stringify } from "yaml";
import { dirname, join, resolve } from "node:path";
import { openDatabase } from "../store/db.ts";
import { DatasetteError, UsageError } from "../errors.ts";
import { elapsed, type Logger } from "../log.ts";
import { ROOT, projectPath } from "../paths.ts";
import { readManifest } from "../publish/publish.ts";
import { childEnv, freePort, runToEnd, startServer, type Exit } from "./children.ts";
import type { Manifest } from "../../schemas/publish.ts";
import { databaseName, loadMetadata } from "../../datasette/metadata.ts";

export const DATASETTE_BIN = projectPath(".venv", "bin", "datasette");
const INSTALL_SCRIPT = projectPath("datasette", "install.sh");

/**
 * Settings for a small machine (a Raspberry Pi) serving ~15k cases: room for the recursive
 * daily_deaths view and facets on a slow CPU, and enough rows for a whole zero-filled daily
 * series in one canned-query answer (canned queries cannot page). Facet suggestions are off: they
 * try every column and made a covid_deaths page take 1.4 s instead of 0.1 s on a fast machine;
 * the default facets and "Facet by this" remain.
 */
export const DATASETTE_SETTINGS: Readonly<Record<string, string>> = {
  sql_time_limit_ms: "3000",
  facet_time_limit_ms: "1000",
  default_page_size: "100",
  max_returned_rows: "5000",
  suggest_facets: "off",
};

/** What the public record adds: only canned queries run; no arbitrary SQL, no `?_where=`. */
export const PUBLIC_SETTINGS: Readonly<Record<string, string>> = {
  default_allow_sql: "off",
};

/**
 * vigil's own datasette plugins (case-number links, feeds, the refused-SQL page; the public record's
 * cache headers, which apply only to an immutable snapshot), its page templates and its stylesheet.
 */
const PLUGINS_DIR = projectPath("datasette", "plugins");
const TEMPLATES_DIR = projectPath("datasette", "templates");
const STATIC_DIR = projectPath("datasette", "static");
/** Where the stylesheet is served: /assets/vigil.css (metadata.yml's extra_css_urls names it). */
export const STATIC_MOUNT = "assets";

/**
 * The installed plugins the public record serves: its feeds, its hashed URLs, its robots.txt. The
 * map plugins stay with the private server: no map code reaches a public page. datasette 1.0 reads
 * DATASETTE_LOAD_PLUGINS itself; for 0.65, datasette/plugins/vigil_load_plugins.py applies it.
 */
export const PUBLIC_PLUGINS: readonly string[] = ["datasette-atom", "datasette-hashed-urls", "datasette-block-robots"];

/** The name the public record is served under, whatever its snapshot's file is called. */
export const PUBLIC_DATABASE = "vigil";

export interface DatasetteOptions {
  /** The private database, served live; ignored with `snapshot`. */
  db: string;
  /**
   * A published snapshot of the public record (`vigil publish`), served instead of the private
   * database: immutable, under /vigil, with its hash in its URLs and long-lived caching.
   */
  snapshot?: { path: string; manifest: Manifest };
  /** `vigil demo`: every page says the data is generated, its source the fixture portal at this URL. */
  generated?: { sourceUrl: string };
  /** 0 picks a free port. Default 8001. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  cors?: boolean;
  log?: Logger;
  /** Stops waiting (and the server) when aborted during start-up. */
  signal?: AbortSignal;
  /** How long to wait for the server to answer. Default 30 s. */
  startTimeoutMs?: number;
}

export interface DatasetteServer {
  /** Base URL, no trailing slash, e.g. http://127.0.0.1:8001 */
  url: string;
  /** The database's page, e.g. http://127.0.0.1:8001/vigil */
  databaseUrl: string;
  /** The name the database is served under (its file name without extension). */
  database: string;
  port: number;
  /** Settles when datasette exits, for whatever reason. */
  exited: Promise<Exit>;
  stop(): Promise<void>;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startDatasette(options: DatasetteOptions): Promise<DatasetteServer> {
  const log = options.log ?? silent;
  const started = performance.now();
  const host = options.host ?? "127.0.0.1";
  const snapshot = options.snapshot;
  await ensureDatasette(log);
  const port = options.port === undefined ? 8001 : options.port === 0 ? await freePort(host) : options.port;

  let dbPath: string;
  let dir: string;
  const args = ["serve"];
  if (snapshot) {
    // A hard link (a copy across file systems) keeps serving these bytes after `vigil publish` prunes the file.
    dir = mkdtempSync(join(dirname(resolve(snapshot.path)), `.vigil-serve-${process.pid}-`));
    dbPath = join(dir, `${PUBLIC_DATABASE}.db`);
    try {
      linkSync(snapshot.path, dbPath);
    } catch (error) {
      // another file system, or one without hard links: a copy does; anything else is a real failure
      if (!["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP"].includes(String((error as NodeJS.ErrnoException).code))) throw error;
      copyFileSync(snapshot.path, dbPath);
    }
    const inspect = join(dir, "inspect.json");
    await inspectSnapshot(dbPath, inspect, log);
    args.push("-i", dbPath, "--inspect-file", inspect);
  } else {
    dbPath = resolve(options.db);
    // Creates a brand-new database and applies migrations, so datasette always sees the full schema.
    openDatabase(dbPath).close();
    dir = mkdtempSync(join(tmpdir(), "vigil-datasette-"));
    args.push(dbPath);
  }
  const database = databaseName(dbPath);
  const metadataPath = join(dir, "metadata.json");
  writeFileSync(metadataPath, JSON.stringify(loadMetadata({ database, snapshot: snapshot?.manifest, generated: options.generated, dataset: heldDataset(dbPath) }), null, 2));

  const settings = { ...DATASETTE_SETTINGS, ...(snapshot ? PUBLIC_SETTINGS : {}) };
  args.push("--metadata", metadataPath, "--host", host, "--port", String(port));
  args.push("--plugins-dir", PLUGINS_DIR, "--template-dir", TEMPLATES_DIR, "--static", `${STATIC_MOUNT}:${STATIC_DIR}`);
  for (const [name, value] of Object.entries(settings)) args.push("--setting", name, value);
  if (options.cors) args.push("--cors");

  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const server = await startServer({
    name: "datasette",
    command: DATASETTE_BIN,
    args,
    env: childEnv(process.env, { PYTHONUNBUFFERED: "1", ...(snapshot ? { DATASETTE_LOAD_PLUGINS: PUBLIC_PLUGINS.join(",") } : {}) }),
    readyUrl: `${url}/-/versions.json`,
    timeoutMs: options.startTimeoutMs ?? 30_000,
    log,
    stage: "serve",
    signal: options.signal,
    error: (message) => new DatasetteError(message, { hint: "run with --debug to see its output" }),
  }).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const stop = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const databaseUrl = `${url}/${encodeURIComponent(database)}`;
  log.info("serve", `datasette serving ${dbPath} at ${databaseUrl}`, {
    pid: server.pid,
    public: snapshot !== undefined,
    snapshot: snapshot?.manifest.file,
    cors: options.cors ?? false,
    ms: elapsed(started),
  });
  return { url, databaseUrl, database, port, exited: server.exited, stop };
}

/** Counts the snapshot's rows once, for datasette's immutable mode, and records its hash. */
async function inspectSnapshot(dbPath: string, inspectPath: string, log: Logger): Promise<void> {
  const { code, lines } = await runToEnd(DATASETTE_BIN, ["inspect", dbPath, "--inspect-file", inspectPath], {
    env: childEnv(process.env),
    onLine: (line) => log.debug("serve", line),
  });
  if (code !== 0) throw new DatasetteError(`datasette inspect failed on ${dbPath}: ${lines.at(-1) ?? `exit ${code}`}`);
}

/** Runs datasette/install.sh; it returns at once when .venv already matches requirements.txt. */
export async function ensureDatasette(log: Logger): Promise<void> {
  const had = existsSync(DATASETTE_BIN);
  if (!had) log.info("serve", "datasette is not installed yet: installing it into .venv (once)");
  const { code, lines } = await runToEnd("bash", [INSTALL_SCRIPT], {
    cwd: ROOT,
    onLine: (line) => log.info("serve", line.replace(/^datasette\/install\.sh: /, "")),
  });
  if (code === 0 && existsSync(DATASETTE_BIN)) return;
  const why = lines.at(-1)?.replace(/^datasette\/install\.sh: /, "") ?? `datasette/install.sh exited with ${code}`;
  // An environment that is only behind requirements.txt still serves; say so instead of refusing.
  if (had && existsSync(DATASETTE_BIN)) {
    log.warn("serve", `could not update .venv, serving with the datasette already there: ${why}`);
    return;
  }
  throw new DatasetteError(`datasette is not installed and could not be: ${why}`, {
    hint: "install Python 3 with venv (Debian: apt-get install python3 python3-venv), then run datasette/install.sh",
  });
}

/**
 * The complete datasette metadata (YAML) `vigil serve` gives datasette: for the private database,
 * or with `out` for the public record's latest snapshot there (`vigil serve --print-metadata`).
 */
export function metadataYaml(db: string, out?: string): string {
  const snapshot = out === undefined ? undefined : readManifest(out);
  if (out !== undefined && !snapshot) throw new UsageError(`nothing is published in ${out} yet`, { hint: "run `vigil publish` first" });
  const database = out === undefined ? databaseName(db) : PUBLIC_DATABASE;
  return stringify(loadMetadata({ database, snapshot, dataset: heldDataset(out === undefined ? db : join(out, snapshot!.file)) }), { lineWidth: 0 });
}

/** The dataset a database holds: its last successful run's (null when there is none, or no database yet). */
function heldDataset(path: string): string | null {
  if (!existsSync(path)) return null;
  const db = openDatabase(path, { readonly: true });
  try {
    return (db.prepare("SELECT dataset FROM runs WHERE status = 'success' ORDER BY id DESC LIMIT 1").pluck().get() as string | undefined) ?? null;
  } finally {
    db.close();
  }
}
