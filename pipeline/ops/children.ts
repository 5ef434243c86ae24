/**
 * The child processes vigil runs: servers it starts and waits for (datasette, `hugo server`),
 * commands it runs to their end (datasette's installer and `datasette inspect`), and the
 * environment every child gets. A server is started, polled until it answers, and stopped with
 * SIGTERM, then SIGKILL if it lingers; whatever it printed last goes into the error that says why
 * it could not start.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { VigilError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** A shell hook as the user wrote it (`--then`, `--backup-then`) and where it runs. */
export interface ShellHook {
  command: string;
  /** What the hook may know (added to vigil's own environment, which never passes the app token on). */
  env: NodeJS.ProcessEnv;
  extra: NodeJS.ProcessEnv;
  /** Where the hook's own output goes. */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Stopping vigil stops the hook too (supervisord signals only vigil, not its children). */
  signal?: AbortSignal;
  log: Logger;
  /** The log's stage for the hook's lines, e.g. "hook". */
  stage: string;
}

/** Runs a hook with `sh -c` to its end: its exit code (128 + the signal's number when killed), or an error when it could not start. */
export function runShell(hook: ShellHook): Promise<{ code: number } | { error: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", hook.command], { stdio: ["ignore", "pipe", "pipe"], env: childEnv(hook.env, hook.extra) });
    child.stdout.pipe(hook.stdout, { end: false });
    child.stderr.pipe(hook.stderr, { end: false });
    const stop = () => child.kill("SIGTERM");
    hook.signal?.addEventListener("abort", stop, { once: true });
    child.on("error", (error) => {
      hook.signal?.removeEventListener("abort", stop);
      hook.log.error(hook.stage, `could not start \`${hook.command}\`: ${error.message}`);
      resolve({ error: error.message });
    });
    child.on("close", (code, signal) => {
      hook.signal?.removeEventListener("abort", stop);
      const exit = code ?? 128 + (signal === "SIGTERM" ? 15 : signal === "SIGKILL" ? 9 : signal === "SIGINT" ? 2 : 0);
      hook.log[exit === 0 ? "info" : "error"](hook.stage, `\`${hook.command}\` exited ${exit}${signal ? ` (${signal})` : ""}`, { code: exit, ms: Math.round(performance.now() - started) });
      resolve({ code: exit });
    });
  });
}

/** The environment for a child (git, a --then hook, datasette, Hugo): vigil's own, less the app token. */
export function childEnv(env: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { SOCRATA_APP_TOKEN: _token, ...rest } = env;
  return { ...rest, ...extra };
}

/**
 * Runs a command to its end; resolves with its exit code (null when it could not start) and its
 * output's non-empty lines, stdout and stderr together, each also handed to `onLine` as it comes.
 */
export function runToEnd(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((done) => {
    const lines: string[] = [];
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        lines.push(line);
        options.onLine?.(line);
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (error) => done({ code: null, lines: [...lines, error.message] }));
    child.on("close", (code) => done({ code, lines }));
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerOptions {
  /** What the errors and log lines call it, e.g. "datasette". */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Polled until it answers 2xx; the server counts as started from then on. */
  readyUrl: string;
  /** How long to wait for readyUrl. */
  timeoutMs: number;
  pollMs?: number;
  log: Logger;
  /** The log stage its output lines go to (at debug level). */
  stage: string;
  /** Stops waiting, and the server, when aborted during start-up. */
  signal?: AbortSignal;
  /** Builds the error thrown when it does not start; `detail` says what it printed last. */
  error: (message: string) => VigilError;
}

export interface ChildServer {
  pid: number | undefined;
  /** Settles when the process exits, for whatever reason. */
  exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after five seconds; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

const KILL_AFTER_MS = 5_000;

export async function startServer(options: ServerOptions): Promise<ChildServer> {
  const child = spawn(options.command, options.args, { stdio: ["ignore", "pipe", "pipe"], env: options.env, cwd: options.cwd });
  const output = tail(child, options.log, options.stage);
  const exited = new Promise<Exit>((done) => {
    child.on("exit", (code, signal) => done({ code, signal }));
    child.on("error", (error) => {
      output.push(error.message);
      done({ code: null, signal: null });
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopChild(child, exited));
  try {
    await waitUntilReady(options, exited, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid, exited, stop };
}

async function stopChild(child: ChildProcess, exited: Promise<Exit>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}

async function waitUntilReady(options: ServerOptions, exited: Promise<Exit>, output: string[]): Promise<void> {
  const { name, readyUrl, signal } = options;
  let gone: Exit | undefined;
  void exited.then((result) => (gone = result));
  const deadline = performance.now() + options.timeoutMs;
  while (performance.now() < deadline) {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new VigilError("stopped");
    if (gone) throw options.error(`${name} exited (${gone.signal ?? `code ${gone.code}`}) before serving: ${lastError(output)}`);
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
  throw options.error(`${name} did not answer at ${readyUrl} within ${Math.round(options.timeoutMs / 1000)} s: ${lastError(output)}`);
}

/** Keeps the last lines a child process printed (for error messages) and passes each to the debug log. */
function tail(child: ChildProcess, log: Logger, stage: string): string[] {
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

function lastError(lines: string[]): string {
  const error = [...lines].reverse().find((line) => /error|exception|address already in use/i.test(line));
  return (error ?? lines.at(-1) ?? "no output").trim();
}

/** A port that is free right now on `host`: the kernel picks it, we release it for the server. */
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

/**
 * Resolves when the signal fires (at once if it already has). Its listener stays until then: for a
 * wait as long as the process, never once per poll or request (see nextPoll in public-server.ts).
 */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((done) => {
    if (signal.aborted) done();
    signal.addEventListener("abort", () => done(), { once: true });
  });
}
