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
  let target: URL | undefined;
  const kept = new Map<string, Kept>();
  let keptBytes = 0;
  const keep = (key: string, answer: Kept) => {
    if (answer.body.length > CACHE_ANSWER_BYTES) return;
    kept.set(key, answer);
    keptBytes += answer.body.length;
    for (const [oldest, old] of kept) {
      if (keptBytes <= CACHE_BYTES) break;
      kept.delete(oldest);
      keptBytes -= old.body.length;
    }
  };
  const inflight = new Map<string, number>();
  const waiting = new Map<string, Array<() => void>>();
  const done = (key: string) => {
    const left = (inflight.get(key) ?? 1) - 1;
    inflight.set(key, left);
    if (left === 0) for (const wake of waiting.get(key)?.splice(0) ?? []) wake();
  };
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = target;
    if (!upstream) {
      res.writeHead(503, { "content-type": "text/plain", "retry-after": "5" }).end("starting\n");
      return;
    }
    // the Host matters: datasette writes it into the links it sends
    const cacheKey = req.method === "GET" && !req.headers.range ? `${req.headers.host ?? ""} ${req.url}` : undefined;
    const hit = cacheKey === undefined ? undefined : kept.get(cacheKey);
    if (hit && cacheKey !== undefined) {
      kept.delete(cacheKey);
      kept.set(cacheKey, hit);
      res.writeHead(hit.status, hit.headers).end(hit.body);
      return;
    }
    const key = upstream.origin;
    inflight.set(key, (inflight.get(key) ?? 0) + 1);
    let finished = false;
    const finish = () => {
      if (!finished) {
        finished = true;
        done(key);
      }
    };
    res.on("close", finish);
    const proxied = request(
      { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        const keepIt = cacheKey !== undefined && answer.statusCode === 200 && upstream === target;
        const chunks: Buffer[] = [];
        let size = 0;
        if (keepIt) {
          answer.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size <= CACHE_ANSWER_BYTES) chunks.push(chunk);
          });
          answer.on("end", () => {
            // kept only if the door still points where the answer came from
            if (size <= CACHE_ANSWER_BYTES && upstream === target) keep(cacheKey, { status: 200, headers: withoutHopHeaders(answer.rawHeaders), body: Buffer.concat(chunks) });
          });
        }
        answer.pipe(res);
      },
    );
    proxied.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`upstream error: ${error.message}\n`);
    });
    req.pipe(proxied);
  };
  const server = createServer(forward);
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
      target = new URL(to);
      kept.clear();
      keptBytes = 0;
    },
    drained(from) {
      const key = new URL(from).origin;
      if (!inflight.get(key)) return Promise.resolve();
      return new Promise((wake) => waiting.set(key, [...(waiting.get(key) ?? []), wake]));
    },
    close() {
      agent.destroy();
      return new Promise((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      });
    },
  };
}

/** Raw headers less the ones that describe one connection or one transfer, not the answer. */
function withoutHopHeaders(raw: string[]): string[] {
  const hop = new Set(["connection", "keep-alive", "transfer-encoding", "date"]);
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!hop.has(raw[i].toLowerCase())) kept.push(raw[i], raw[i + 1]);
  return kept;
}
