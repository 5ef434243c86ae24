/**
 * The public server's front door: a small HTTP proxy on the public port that forwards to the
 * datasette serving the current snapshot. Switching to a new snapshot starts a second datasette
 * on a port of its own, points the door at it once it answers, and only then stops the old one,
 * after the requests it was answering are done: readers never meet a closed port.
 *
 * A snapshot never changes while it is served, so the door keeps the answers it has seen (GET,
 * 200, up to a bounded total, least recently used out first) and answers repeats itself; pointing
 * it at a new snapshot forgets them. On one Pi without nginx this is the cache.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Front {
  /** Base URL of the door, e.g. http://127.0.0.1:8001 */
  url: string;
  port: number;
  /** Sends new requests to `target` (a base URL such as http://127.0.0.1:40123); requests under way finish where they are. */
  point(target: string): void;
  /** Resolves once no request to `target` is still under way. */
  drained(target: string): Promise<void>;
  close(): Promise<void>;
}

/** What the door keeps in memory, in bytes, and the largest single answer it keeps. */
const CACHE_BYTES = 32 << 20;
const CACHE_ANSWER_BYTES = 2 << 20;

interface Kept {
  status: number;
  headers: string[];
  body: Buffer;
}

export async function startFront(host: string, port: number): Promise<Front> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const door: Door = { target: undefined, cache: new AnswerCache(), inflight: new InFlight() };
  const server = createServer((req, res) => forward(door, agent, req, res));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((ready, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ready());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  return {
    url,
    port: address.port,
    point(to) {
      door.target = new URL(to);
      door.cache.clear();
    },
    drained: (from) => door.inflight.drained(new URL(from).origin),
    close() {
      agent.destroy();
      return new Promise((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      });
    },
  };
}

/** Where the door points, what it keeps, and what it is still answering. */
interface Door {
  target: URL | undefined;
  cache: AnswerCache;
  inflight: InFlight;
}

/** The answers the door keeps, up to CACHE_BYTES, least recently used out first. */
class AnswerCache {
  private kept = new Map<string, Kept>();
  private bytes = 0;

  /** A kept answer, now the most recently used. */
  get(key: string): Kept | undefined {
    const hit = this.kept.get(key);
    if (hit) {
      this.kept.delete(key);
      this.kept.set(key, hit);
    }
    return hit;
  }

  keep(key: string, answer: Kept): void {
    if (answer.body.length > CACHE_ANSWER_BYTES) return;
    this.kept.set(key, answer);
    this.bytes += answer.body.length;
    for (const [oldest, old] of this.kept) {
      if (this.bytes <= CACHE_BYTES) break;
      this.kept.delete(oldest);
      this.bytes -= old.body.length;
    }
  }

  clear(): void {
    this.kept.clear();
    this.bytes = 0;
  }
}

/** Requests under way to each upstream (by origin), and who waits for them to end. */
class InFlight {
  private counts = new Map<string, number>();
  private waiting = new Map<string, Array<() => void>>();

  /** Counts a request to `key`; the function returned ends it (once, however often it is called). */
  begin(key: string): () => void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) return void this.counts.set(key, left);
      // an upstream switched away from is never asked again: forget it rather than keep a zero per switch
      this.counts.delete(key);
      const waiting = this.waiting.get(key) ?? [];
      this.waiting.delete(key);
      for (const wake of waiting) wake();
    };
  }

  /** Resolves once no request to `key` is under way. */
  drained(key: string): Promise<void> {
    if (!this.counts.get(key)) return Promise.resolve();
    return new Promise((wake) => this.waiting.set(key, [...(this.waiting.get(key) ?? []), wake]));
  }
}

/** One request: answered from the cache, or passed to the current snapshot (and its 200 kept). */
function forward(door: Door, agent: Agent, req: IncomingMessage, res: ServerResponse): void {
  const upstream = door.target;
  if (!upstream) {
    res.writeHead(503, { "content-type": "text/plain", "retry-after": "5" }).end("starting\n");
    return;
  }
  // the Host matters: datasette writes it into the links it sends
  const cacheKey = req.method === "GET" && !req.headers.range ? `${req.headers.host ?? ""} ${req.url}` : undefined;
  const hit = cacheKey === undefined ? undefined : door.cache.get(cacheKey);
  if (hit) {
    res.writeHead(hit.status, hit.headers).end(hit.body);
    return;
  }
  res.on("close", door.inflight.begin(upstream.origin));
  const proxied = request(
    { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      if (cacheKey !== undefined && answer.statusCode === 200 && upstream === door.target) keepAnswer(door, upstream, cacheKey, answer);
      answer.pipe(res);
    },
  );
  proxied.on("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`upstream error: ${error.message}\n`);
  });
  req.pipe(proxied);
}

/** Collects a 200 answer as it streams to the reader, and keeps it if it is small enough and the door has not moved on. */
function keepAnswer(door: Door, upstream: URL, cacheKey: string, answer: IncomingMessage): void {
  const chunks: Buffer[] = [];
  let size = 0;
  answer.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size <= CACHE_ANSWER_BYTES) chunks.push(chunk);
  });
  answer.on("end", () => {
    // kept only if the door still points where the answer came from
    if (size <= CACHE_ANSWER_BYTES && upstream === door.target) door.cache.keep(cacheKey, { status: 200, headers: withoutHopHeaders(answer.rawHeaders), body: Buffer.concat(chunks) });
  });
}

/** Raw headers less the ones that describe one connection or one transfer, not the answer. */
function withoutHopHeaders(raw: string[]): string[] {
  const hop = new Set(["connection", "keep-alive", "transfer-encoding", "date"]);
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!hop.has(raw[i].toLowerCase())) kept.push(raw[i], raw[i + 1]);
  return kept;
}
