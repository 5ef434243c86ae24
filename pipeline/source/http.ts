/**
 * The one module that talks to the portal and to a replica's publisher (JSON pages, view metadata,
 * the bulk CSV download, manifests and snapshots all come through here): undici, timeouts, retries
 * with exponential backoff and jitter, `Retry-After`. Errors carry the status, the URL, a body
 * excerpt and the caller's advice (see Advice), never the app token. The only other HTTP requests
 * vigil makes are ops/children.ts asking a server it started itself (datasette, hugo) whether it
 * is up yet: plain fetches that need none of this.
 */
import type { Agent, Dispatcher } from "undici";
import { describeCause, HttpError, NetworkError, redact, SourceFormatError, TimeoutError, UnresolvedHostError, VigilError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";

export interface HttpOptions {
  appToken?: string;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  log?: Logger;
  signal?: AbortSignal;
  /** Injected for tests: how to wait, and the jitter source. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface HttpResponse<T> {
  body: T;
  headers: Record<string, string | string[] | undefined>;
  attempts: number;
}

/**
 * What to tell the user when a request fails. Only the caller knows where the URL came from (the
 * portal's flags, a replica's --from), so the advice is the caller's, given with each request.
 */
export interface Advice {
  /** The hint for an HTTP status; undefined when there is nothing useful to say. */
  status(status: number): string | undefined;
  /** The hint when the host does not resolve or cannot be reached. */
  unreachable: string;
}

export const USER_AGENT = `vigil/${VERSION} (Cook County Medical Examiner COVID-19 record)`;

/** A failure worth another try; anything else is final. */
class Retryable extends Error {
  constructor(
    readonly error: VigilError,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

export class HttpClient {
  /** undici and its connection pool, loaded at the first request: a run that downloads nothing does not pay for them. */
  private undici: Promise<{ agent: Agent; request: typeof import("undici").request }> | undefined;
  private readonly options: Required<Omit<HttpOptions, "appToken" | "log" | "signal">> & Pick<HttpOptions, "appToken" | "log" | "signal">;

  constructor(options: HttpOptions = {}) {
    this.options = {
      maxAttempts: 6,
      baseDelayMs: 500,
      maxDelayMs: 60_000,
      connectTimeoutMs: 10_000,
      headersTimeoutMs: 120_000,
      bodyTimeoutMs: 120_000,
      sleep: defaultSleep,
      random: Math.random,
      ...options,
    };
  }

  async close(): Promise<void> {
    if (this.undici) await (await this.undici).agent.close();
  }

  private connection(): NonNullable<HttpClient["undici"]> {
    this.undici ??= import("undici").then((loaded) => {
      // Node names a CommonJS package's exports; the build, which bundles undici, hands them as `default`
      const { Agent, request } = "Agent" in loaded ? loaded : (loaded as { default: typeof loaded }).default;
      const agent = new Agent({
        connect: { timeout: this.options.connectTimeoutMs },
        headersTimeout: this.options.headersTimeoutMs,
        bodyTimeout: this.options.bodyTimeoutMs,
      });
      return { agent, request };
    });
    return this.undici;
  }

  /** GET a JSON document, retrying what is worth retrying. */
  async getJson<T = unknown>(url: string, advice: Advice): Promise<HttpResponse<T>> {
    return this.withRetries(url, advice, (response, text) => {
      const type = String(response.headers["content-type"] ?? "");
      if (!type.includes("json")) {
        throw new Retryable(new SourceFormatError(`${safeUrl(url)} sent ${type || "no content type"} instead of JSON: ${this.quote(text)}`));
      }
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new Retryable(new SourceFormatError(`${safeUrl(url)} sent a body that is not valid JSON (${text.length} bytes): ${this.quote(text)}`));
      }
    });
  }

  /** GET as a stream (bulk CSV export); retries only until the response starts. */
  async getStream(url: string, advice: Advice): Promise<{ body: Dispatcher.ResponseData["body"]; headers: Record<string, string | string[] | undefined> }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.send(url, advice);
        if (response.statusCode === 200) return { body: response.body, headers: response.headers };
        // The status is the error; a body cut off while reading it only loses the excerpt.
        const text = await response.body.text().catch((error: unknown) => `(body unreadable: ${describeCause(error)})`);
        throw this.classify(url, response.statusCode, response.headers, text, advice);
      } catch (error) {
        await this.backoffOrThrow(error, url, attempt);
      }
    }
  }

  private async withRetries<T>(url: string, advice: Advice, parse: (response: Dispatcher.ResponseData, text: string) => T): Promise<HttpResponse<T>> {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.send(url, advice);
        let text: string;
        try {
          text = await response.body.text();
        } catch (error) {
          throw new Retryable(new SourceFormatError(`${safeUrl(url)} body was cut off: ${(error as Error).message}`, { cause: error }));
        }
        if (response.statusCode !== 200) throw this.classify(url, response.statusCode, response.headers, text, advice);
        return { body: parse(response, text), headers: response.headers, attempts: attempt };
      } catch (error) {
        await this.backoffOrThrow(error, url, attempt);
      }
    }
  }

  private async send(url: string, advice: Advice): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { accept: "application/json, text/csv;q=0.9", "user-agent": USER_AGENT };
    if (this.options.appToken) headers["x-app-token"] = this.options.appToken;
    const { agent, request } = await this.connection();
    try {
      // undici takes its listener off the (long-lived) signal when the response body closes: every
      // caller reads each body to its end or destroys it, or the listener stays for the process's life
      return await request(url, { method: "GET", headers, dispatcher: agent, signal: this.options.signal });
    } catch (error) {
      if (this.options.signal?.aborted) throw this.options.signal.reason ?? error;
      const failure = networkError(url, error, this.options, advice);
      // A name that does not resolve will not resolve in a few seconds either: fail at once.
      if (failure instanceof UnresolvedHostError) throw failure;
      throw new Retryable(failure);
    }
  }

  /**
   * An excerpt of what the server sent, for an error message. A portal or proxy may echo request
   * headers back, and errors end up in `runs.error`, which datasette publishes: mask the token.
   */
  private quote(text: string): string {
    return excerpt(redact(text, [this.options.appToken]));
  }

  private classify(url: string, status: number, headers: Record<string, string | string[] | undefined>, text: string, advice: Advice): Error {
    // An error body may quote the request back, token included; errors end up in logs and in `runs`.
    const error = new HttpError(status, "GET", safeUrl(url), this.quote(socrataMessage(text)), { hint: advice.status(status) });
    if (status === 202 || status === 429 || status === 408 || status >= 500) {
      return new Retryable(error, parseRetryAfter(headers["retry-after"], Date.now()));
    }
    return error;
  }

  private async backoffOrThrow(error: unknown, url: string, attempt: number): Promise<void> {
    if (!(error instanceof Retryable)) throw error;
    if (attempt >= this.options.maxAttempts) {
      error.error.message += ` (gave up after ${attempt} attempts)`;
      throw error.error;
    }
    const exponential = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exponential / 2 + this.options.random() * (exponential / 2);
    const delay = Math.min(this.options.maxDelayMs, Math.max(jittered, error.retryAfterMs ?? 0));
    this.options.log?.warn("http", `retrying in ${Math.round(delay)} ms`, { url: safeUrl(url), attempt, reason: error.error.message });
    await this.options.sleep(delay, this.options.signal);
  }
}

function networkError(url: string, error: unknown, options: HttpOptions, advice: Advice): VigilError {
  const code = (error as { code?: string }).code;
  if (code === "ENOTFOUND") return new UnresolvedHostError(safeUrl(url), error, advice.unreachable);
  if (code === "UND_ERR_CONNECT_TIMEOUT") return new TimeoutError(safeUrl(url), "connect", options.connectTimeoutMs ?? 0);
  if (code === "UND_ERR_HEADERS_TIMEOUT") return new TimeoutError(safeUrl(url), "headers", options.headersTimeoutMs ?? 0);
  if (code === "UND_ERR_BODY_TIMEOUT") return new TimeoutError(safeUrl(url), "body", options.bodyTimeoutMs ?? 0);
  return new NetworkError(safeUrl(url), error, advice.unreachable);
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const header = Array.isArray(value) ? value[0] : value;
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Socrata errors are JSON with a `message`; fall back to the text itself. */
function socrataMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === "string") return body.message;
  } catch {
    // Not JSON: use the text.
  }
  return text;
}

export function excerpt(text: string, length = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length)}…` : flat;
}

/** The URL without any token a user may have put in it. */
export function safeUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  for (const key of [...parsed.searchParams.keys()]) {
    if (/token|key|secret/i.test(key)) parsed.searchParams.set(key, "[redacted]");
  }
  parsed.username = "";
  parsed.password = "";
  // readable in a message where it can be; an escape that is not UTF-8 stays as it came
  return decodeURIComponentOr(parsed.toString());
}

/** decodeURIComponent, or the text as it is when its escapes are not valid UTF-8. */
function decodeURIComponentOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    if (error instanceof URIError) return text;
    throw error;
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
