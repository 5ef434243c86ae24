/**
 * Shared test plumbing: temporary folders, the CLI as a real child process, a fixed clock.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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
