/**
 * Shared test plumbing: temporary folders, the CLI as a real child process, a fixed clock.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** Runs `vigil ARGS` in a child process, like a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VIGIL_BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, VIGIL_DB: undefined, VIGIL_PORTAL: undefined, VIGIL_DATASET: undefined, VIGIL_SITE: undefined, ...options.env },
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

/** A logger for in-process runs whose lines tests can inspect. */
export { memoryLogger };

/** Fast retries for tests: no real waiting between attempts. */
export const FAST_HTTP = { baseDelayMs: 1, maxDelayMs: 5, sleep: async () => {} } as const;

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
