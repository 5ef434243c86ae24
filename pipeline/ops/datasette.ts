/**
 * datasette on the database, from the project's own .venv (`vigil serve`, `vigil demo`, the tests).
 * The database is served under its file name and is never opened immutable, so datasette sees each
 * run's commit as soon as it lands (WAL lets it read while a run writes).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openDatabase } from "../store/db.ts";
import { DatasetteError } from "../errors.ts";
import { elapsed, type Logger } from "../log.ts";
import { ROOT, projectPath } from "../paths.ts";
import { childEnv, freePort, startServer, type Exit } from "./children.ts";
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

/** What `--public` adds: only canned queries run; no arbitrary SQL, no `?_where=`. */
export const PUBLIC_SETTINGS: Readonly<Record<string, string>> = {
  default_allow_sql: "off",
};

export interface DatasetteOptions {
  db: string;
  /** 0 picks a free port. Default 8001. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  public?: boolean;
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
  const dbPath = resolve(options.db);
  // Creates a brand-new database and applies migrations, so datasette always sees the full schema.
  openDatabase(dbPath).close();
  await ensureDatasette(log);

  const port = options.port === undefined ? 8001 : options.port === 0 ? await freePort(host) : options.port;
  const database = databaseName(dbPath);
  const dir = mkdtempSync(join(tmpdir(), "vigil-datasette-"));
  const metadataPath = join(dir, "metadata.json");
  writeFileSync(metadataPath, JSON.stringify(loadMetadata({ database }), null, 2));

  const settings = { ...DATASETTE_SETTINGS, ...(options.public ? PUBLIC_SETTINGS : {}) };
  const args = ["serve", dbPath, "--metadata", metadataPath, "--host", host, "--port", String(port)];
  for (const [name, value] of Object.entries(settings)) args.push("--setting", name, value);
  if (options.cors) args.push("--cors");

  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const server = await startServer({
    name: "datasette",
    command: DATASETTE_BIN,
    args,
    env: childEnv(process.env, { PYTHONUNBUFFERED: "1" }),
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
    public: options.public ?? false,
    cors: options.cors ?? false,
    ms: elapsed(started),
  });
  return { url, databaseUrl, database, port, exited: server.exited, stop };
}

/** Runs datasette/install.sh; it returns at once when .venv already matches requirements.txt. */
export async function ensureDatasette(log: Logger): Promise<void> {
  const had = existsSync(DATASETTE_BIN);
  if (!had) log.info("serve", "datasette is not installed yet: installing it into .venv (once)");
  const { code, lines } = await new Promise<{ code: number | null; lines: string[] }>((done) => {
    const lines: string[] = [];
    const child = spawn("bash", [INSTALL_SCRIPT], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        lines.push(line);
        log.info("serve", line.replace(/^datasette\/install\.sh: /, ""));
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (error) => done({ code: null, lines: [...lines, error.message] }));
    child.on("close", (exitCode) => done({ code: exitCode, lines }));
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
