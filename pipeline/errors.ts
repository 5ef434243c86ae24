import { ZodError, type z } from "zod";

/**
 * Errors are thrown anywhere and printed in one place (the CLI entry) as one line that says what
 * failed and what to do. Each kind of failure has its own class so callers and tests can tell them apart.
 */
export class VigilError extends Error {
  /** Process exit code the CLI uses for this error. */
  exitCode = 1;
  /** What the user can do about it, appended to the one-line message. */
  hint?: string;

  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

/** Bad flags or arguments: exit 2. */
export class UsageError extends VigilError {
  override exitCode = 2;
}

/** The server answered, but not with success. */
export class HttpError extends VigilError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    readonly bodyExcerpt: string,
    options?: { hint?: string },
  ) {
    super(`${method} ${url} answered HTTP ${status}${bodyExcerpt ? `: ${bodyExcerpt}` : ""}`, options);
  }
}

/** The request never got an answer: refused, reset, DNS, TLS. */
export class NetworkError extends VigilError {
  constructor(readonly url: string, cause: unknown, hint?: string) {
    super(`could not reach ${url}: ${describeCause(cause)}`, { cause, hint });
  }
}

/** The URL's host name does not resolve (DNS says no such name): not worth another try. */
export class UnresolvedHostError extends NetworkError {
  constructor(url: string, cause: unknown, hint?: string) {
    super(url, cause, hint);
    this.message = `${hostOf(url)} does not resolve (no such host), so ${url} cannot be reached`;
  }
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).hostname : url;
}

/** Connecting or reading the body took too long. */
export class TimeoutError extends VigilError {
  constructor(readonly url: string, readonly phase: "connect" | "headers" | "body", ms: number) {
    super(`${url} timed out waiting for the ${phase} after ${ms} ms`);
  }
}

/** The request succeeded but what came back is not what the source should send. */
export class SourceFormatError extends VigilError {}

/** The bytes a backfill skips to resume differ from what the interrupted run loaded. */
export class SourceChangedError extends SourceFormatError {}

/** A replica's download did not match the manifest that named it: refused. */
export class SnapshotMismatchError extends VigilError {}

/** Another process holds the write lock on the database. */
export class RunInProgressError extends VigilError {}

/** A run refused to commit because its result is implausible (format change, empty source). */
export class RunRefusedError extends VigilError {}

/** datasette could not be installed, started, or kept running. */
export class DatasetteError extends VigilError {}

/** A git command in the site's repository failed (`vigil run --commit`). */
export class GitError extends VigilError {}

/**
 * One of vigil's own files or contracts failed its schema: a bug or a damaged install, never the
 * user's input, so it is not a usage error. The message names the file.
 */
export class InternalError extends VigilError {}

/**
 * `value` checked against one of vigil's own contracts (an emitted JSON file, metadata, a file vigil
 * wrote earlier): a failure is an InternalError that names `file` and the first field at fault.
 */
export function checkContract<S extends z.ZodType>(schema: S, value: unknown, file: string, hint?: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InternalError(`${file}: ${issue.path.join(".") || "top level"} ${issue.message}`, { hint });
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
  }
  return String(cause);
}

/** `text` with every secret (the app token) replaced, for anything that may be shown or stored. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let clean = text;
  for (const secret of secrets) if (secret) clean = clean.split(secret).join("[redacted]");
  return clean;
}

/**
 * A failure as vigil says it, on one line: what failed, then its hint in parentheses; a broken
 * contract of vigil's own says "internal error", anything not vigil's own "unexpected error". With
 * the exit code it calls for. The CLI prints every failure through this, and so does the nightly
 * summary, so a step's failure reads the same as the command's would.
 */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof ZodError) {
    // Flags and environment are checked where they are read and fail as usage errors; a schema
    // failing here is one of vigil's own contracts, so a bug, never the user's input.
    const issue = error.issues[0];
    const what = issue ? `${issue.path.join(".") || "value"} ${issue.message}` : error.message;
    return { message: `internal error: ${what} (please report it; --debug shows where)`, exitCode: 1 };
  }
  if (error instanceof InternalError) return { message: `internal error: ${error.message}${error.hint ? ` (${error.hint})` : ""}`, exitCode: 1 };
  if (error instanceof VigilError) return { message: error.message + (error.hint ? ` (${error.hint})` : ""), exitCode: error.exitCode };
  // Not one of vigil's own errors (a library's, or the system's): still one line, but say so.
  if (error instanceof Error) return { message: `unexpected error: ${error.message}`, exitCode: 1 };
  return { message: String(error), exitCode: 1 };
}
