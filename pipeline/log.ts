import { redact } from "./errors.ts";

/**
 * One line of log per unit of work. JSON lines when stderr is not a terminal (or with
 * `--log-format json`), readable lines on a terminal. Values that look like secrets are never
 * passed in; `redact` is a last guard for the app token.
 */
export type LogFormat = "json" | "pretty";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(stage: string, message: string, fields?: Record<string, unknown>): void;
  info(stage: string, message: string, fields?: Record<string, unknown>): void;
  warn(stage: string, message: string, fields?: Record<string, unknown>): void;
  error(stage: string, message: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  format?: LogFormat;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  debug?: boolean;
  /** Strings that must never appear in a log line (the app token). */
  secrets?: string[];
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? (stream.isTTY ? "pretty" : "json");
  const now = options.now ?? (() => new Date());
  const secrets = options.secrets ?? [];

  const write = (level: LogLevel, stage: string, message: string, fields: Record<string, unknown> = {}) => {
    if (level === "debug" && !options.debug) return;
    const line =
      format === "json"
        ? JSON.stringify({ time: now().toISOString(), level, stage, msg: message, ...fields })
        : `${level === "info" ? "" : `${level}: `}${stage.padEnd(8)} ${message}${formatFields(fields)}`;
    stream.write(redact(line, secrets) + "\n");
  };
  return {
    debug: (stage, message, fields) => write("debug", stage, message, fields),
    info: (stage, message, fields) => write("info", stage, message, fields),
    warn: (stage, message, fields) => write("warn", stage, message, fields),
    error: (stage, message, fields) => write("error", stage, message, fields),
  };
}

function formatFields(fields: Record<string, unknown>): string {
  const parts = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  return parts.length ? `  ${parts.join(" ")}` : "";
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(): Logger & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const push = (level: LogLevel) => (stage: string, msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, stage, msg, ...fields });
  };
  return { lines, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}

/** Milliseconds since `start`, rounded, for the `ms` field of a log line. */
export function elapsed(start: number): number {
  return Math.round(performance.now() - start);
}
