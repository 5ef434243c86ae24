/**
 * `vigil serve`: datasette on the database, from the project's own .venv. The database is served
 * under its file name and is never opened immutable, so datasette sees each run's commit as soon as it
 * lands (WAL lets it read while a run writes). `startDatasette` is the reusable part: `vigil demo`,
 * `vigil run` and the tests start the same server through it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { Command } from "./command.ts";
import { openDatabase } from "./db.ts";
import { UsageError, VigilError } from "./errors.ts";
import { elapsed, type Logger } from "./log.ts";
import { databaseName, loadMetadata } from "../datasette/metadata.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DATASETTE_BIN = join(ROOT, ".venv", "bin", "datasette");
const INSTALL_SCRIPT = join(ROOT, "datasette", "install.sh");

/** datasette could not be installed, started, or kept running. */
export class DatasetteError extends VigilError {}

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
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
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

  const child = spawn(DATASETTE_BIN, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONUNBUFFERED: "1" } });
  const output = tail(child, log);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.on("exit", (code, signal) => done({ code, signal }));
    child.on("error", (error) => {
      output.push(error.message);
      done({ code: null, signal: null });
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })());

  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  try {
    await waitForServer(url, exited, options.signal, options.startTimeoutMs ?? 30_000, output);
  } catch (error) {
    await stop();
    throw error;
  }
  const databaseUrl = `${url}/${encodeURIComponent(database)}`;
  log.info("serve", `datasette serving ${dbPath} at ${databaseUrl}`, {
    pid: child.pid,
    public: options.public ?? false,
    cors: options.cors ?? false,
    ms: elapsed(started),
  });
  return { url, databaseUrl, database, port, exited, stop };
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

/** A port that is free right now on `host`: the kernel picks it, we release it for datasette. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

async function waitForServer(
  url: string,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  output: string[],
): Promise<void> {
  let gone: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((result) => (gone = result));
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new VigilError("stopped");
    if (gone) {
      throw new DatasetteError(`datasette exited (${gone.signal ?? `code ${gone.code}`}) before serving: ${lastError(output)}`, {
        hint: "run with --debug to see its output",
      });
    }
    try {
      const response = await fetch(`${url}/-/versions.json`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DatasetteError(`datasette did not answer at ${url} within ${Math.round(timeoutMs / 1000)} s: ${lastError(output)}`);
}

/** Keeps the last lines a child process printed (for error messages) and passes each to the debug log. */
export function tail(child: ChildProcess, log: Logger, stage = "serve"): string[] {
  const lines: string[] = [];
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (!line.trim()) continue;
      log.debug(stage, line);
      lines.push(line);
      if (lines.length > 40) lines.shift();
    }
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return lines;
}

export function lastError(lines: string[]): string {
  const error = [...lines].reverse().find((line) => /error|exception|address already in use/i.test(line));
  return (error ?? lines.at(-1) ?? "no output").trim();
}

export function parsePort(value: unknown): number {
  if (value === undefined) return 8001;
  const port = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got "${String(value)}"`);
  }
  return port;
}

export const command: Command = {
  help: `
Serves the database with datasette (installed into .venv from datasette/requirements.txt on first
use) until Ctrl-C. The database appears under its file name: data/vigil.db is /vigil. Datasette
reads it live, so each run's changes show up as soon as the run commits.

--public turns arbitrary SQL off: only the canned queries (memorial, daily_deaths, by_age_group,
by_race_ethnicity, by_residence_city, by_month, revisions, rejects, last_run), table browsing,
facets and search remain. SQL is read-only in every mode.

Examples:
  vigil serve
  vigil serve --public --host 0.0.0.0 --port 8080
  curl 'http://127.0.0.1:8001/vigil/memorial.json?date=2020-12-01&_shape=array'
  vigil serve --print-metadata > metadata.yml   # for running datasette yourself`,
  options: {
    port: { type: "string", arg: "N", description: "port to listen on; 0 picks a free one (default 8001)" },
    host: { type: "string", arg: "HOST", description: "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)" },
    public: { type: "boolean", description: "canned queries only: no arbitrary SQL" },
    cors: { type: "boolean", description: "send Access-Control-Allow-Origin: * so other sites can fetch the JSON" },
    "print-metadata": { type: "boolean", description: "print the complete datasette metadata (YAML) for this database and exit" },
  },
  async run(ctx) {
    const port = parsePort(ctx.values.port);
    const host = typeof ctx.values.host === "string" && ctx.values.host !== "" ? ctx.values.host : "127.0.0.1";
    if (ctx.values["print-metadata"]) {
      ctx.stdout.write(stringify(loadMetadata({ database: databaseName(ctx.config.db) }), { lineWidth: 0 }));
      return 0;
    }
    const server = await startDatasette({
      db: ctx.config.db,
      port,
      host,
      public: ctx.values.public === true,
      cors: ctx.values.cors === true,
      log: ctx.log,
      signal: ctx.signal,
    });
    ctx.stdout.write(`serving ${ctx.config.db} at ${server.databaseUrl} (Ctrl-C stops it)\n`);
    const aborted = new Promise<void>((done) => {
      if (ctx.signal.aborted) done();
      ctx.signal.addEventListener("abort", () => done(), { once: true });
    });
    const ended = await Promise.race([aborted.then(() => undefined), server.exited]);
    await server.stop();
    // Ctrl-C reaches datasette too (same process group), so its own clean exit is a normal stop.
    if (ended === undefined || ctx.signal.aborted || ended.code === 0 || ended.signal === "SIGINT" || ended.signal === "SIGTERM") {
      ctx.log.info("serve", "datasette stopped");
      return 0;
    }
    throw new DatasetteError(`datasette exited unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
  },
};
