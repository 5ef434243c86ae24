/**
 * Shared test plumbing: temporary folders, the CLI as a real child process or in this process,
 * a fixed clock.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { memoryLogger } from "../pipeline/log.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const VIGIL_BIN = join(ROOT, "bin", "vigil.js");

/** A fresh temporary folder, removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }, prefix = "vigil-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A clock that always says the same time, for reproducible runs. */
export function fixedClock(iso = "2026-11-26T12:00:00Z"): () => Date {
  const time = Date.parse(iso);
  return () => new Date(time);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The settings a shell may carry that would change what a command under test does. */
const CLI_SETTINGS = ["VIGIL_DB", "VIGIL_PORTAL", "VIGIL_DATASET", "VIGIL_SITE", "VIGIL_THEN", "VIGIL_COMMIT", "VIGIL_PUSH", "VIGIL_CRON", "VIGIL_TIMEZONE", "VIGIL_EVENTS", "SOCRATA_APP_TOKEN"];

/** The environment of a command under test: this process's, less vigil's settings, plus `extra` (undefined removes a name). */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CLI_SETTINGS) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Runs `vigil ARGS` in a child process, like a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIGIL_BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: cliEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Text written to it, as it arrives; not a terminal (no isTTY), like runCli's pipes. */
class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * Runs `vigil ARGS` through the CLI's `main()` in this process: the same argument parsing, output,
 * exit code and environment as runCli, without starting node. For a command's contract (usage
 * errors, help, summaries, log lines, JSON); signals, kills, terminals and bin/vigil.js itself need runCli.
 */
export async function runMain(args: string[], options: { env?: NodeJS.ProcessEnv; now?: () => Date } = {}): Promise<CliResult> {
  const { main } = await import("../pipeline/cli/main.ts");
  // Relative paths resolve where runCli runs the command. Once, for good: runs may overlap.
  if (process.cwd() !== resolve(ROOT)) process.chdir(ROOT);
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { env: cliEnv(options.env), stdout, stderr, now: options.now ?? (() => new Date()) });
  return { code, signal: null, stdout: stdout.text, stderr: stderr.text };
}

/** A logger for in-process runs whose lines tests can inspect. */
export { memoryLogger };

/** Fast retries for tests: no real waiting between attempts. */
export const FAST_HTTP = { baseDelayMs: 1, maxDelayMs: 5, sleep: async () => {} } as const;

/** The record an ingest keeps, every column, in a fixed order: cases, revisions, rejects. */
export function recordSnapshot(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      cases: db.prepare("SELECT * FROM cases ORDER BY casenumber").all(),
      revisions: db.prepare("SELECT * FROM case_revisions ORDER BY id").all(),
      rejects: db.prepare("SELECT * FROM rejects ORDER BY id").all(),
    };
  } finally {
    db.close();
  }
}

/**
 * Everything a bulk load leaves in a database, in load order: cases, revisions, rejects, run counts,
 * the search index and backfill leftovers. Two loads that should converge compare equal.
 */
export function backfillSnapshot(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return {
      cases: db.prepare("SELECT * FROM cases ORDER BY rowid").all(),
      revisions: db.prepare("SELECT * FROM case_revisions ORDER BY id").all(),
      rejects: db.prepare("SELECT * FROM rejects ORDER BY id").all(),
      runs: db.prepare("SELECT id, kind, status, fetched, inserted, updated, unchanged, removed, restored, rejected, unknown_columns, missing_columns FROM runs ORDER BY id").all(),
      fts: db.prepare("SELECT rowid FROM cases_fts WHERE cases_fts MATCH 'covid' ORDER BY rowid").pluck().all(),
      leftovers: db.prepare("SELECT (SELECT count(*) FROM backfill_checkpoints) + (SELECT count(*) FROM backfill_seen)").pluck().get(),
    };
  } finally {
    db.close();
  }
}

/**
 * Starts `vigil` with `args` and SIGKILLs it `delayMs` after `ready()` first holds (polled every 5 ms);
 * the signal it died of, or null if it finished first.
 */
export function killWhen(args: string[], ready: () => boolean, delayMs = 0): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIGIL_BIN, ...args], { cwd: ROOT, stdio: "ignore" });
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        setTimeout(() => child.kill("SIGKILL"), delayMs);
      }
    }, 5);
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      clearInterval(timer);
      resolve(signal);
    });
  });
}
