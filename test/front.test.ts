/**
 * The public server's front door: it forwards to the current snapshot's datasette, answers repeats
 * of an immutable snapshot from memory, forgets them when it is pointed at a new one, and lets the
 * old upstream finish what it was answering.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { startFront } from "../pipeline/ops/front.ts";

/** An upstream that answers with its name, counts requests, and takes `delayMs` over /slow. */
async function upstream(name: string, delayMs = 0): Promise<{ url: string; hits: Map<string, number>; server: Server }> {
  const hits = new Map<string, number>();
  const server = createServer(async (req, res) => {
    hits.set(req.url ?? "", (hits.get(req.url ?? "") ?? 0) + 1);
    if (req.url === "/slow") await sleep(delayMs);
    if (req.url === "/missing") return void res.writeHead(404).end("no");
    res.writeHead(200, { "content-type": "text/plain", "cache-control": "public, max-age=3600" }).end(`${name} ${req.url} ${req.headers.host}`);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", () => ready()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

test("the door forwards, keeps 200 answers of the current snapshot, and forgets them on a switch", async (t) => {
  const [a, b] = await Promise.all([upstream("a", 300), upstream("b")]);
  const front = await startFront("127.0.0.1", 0);
  t.after(async () => {
    await front.close();
    a.server.close();
    b.server.close();
  });
  const get = async (path: string) => {
    const response = await fetch(`${front.url}${path}`);
    return { status: response.status, text: await response.text(), cache: response.headers.get("cache-control") };
  };
  assert.equal((await get("/page")).status, 503, "nothing to forward to yet");
  front.point(a.url);
  const first = await get("/page?x=1");
  assert.deepEqual(first, { status: 200, text: `a /page?x=1 127.0.0.1:${front.port}`, cache: "public, max-age=3600" }, "the reader's Host reaches the upstream");
  assert.deepEqual(await get("/page?x=1"), first);
  assert.equal(a.hits.get("/page?x=1"), 1, "a repeat is answered from memory");
  await get("/missing");
  await get("/missing");
  assert.equal(a.hits.get("/missing"), 2, "only 200 answers are kept");

  const slow = get("/slow");
  // the slow request is under way at the old upstream before the switch, however busy the machine
  while (!a.hits.get("/slow")) await sleep(5);
  front.point(b.url);
  let drained = false;
  const draining = front.drained(a.url).then(() => (drained = true));
  // a turn of the event loop: a promise that had settled would have run its callback by now
  await sleep(20);
  assert.equal(drained, false, "the old upstream is still answering");
  assert.equal((await slow).text, `a /slow 127.0.0.1:${front.port}`, "a request under way finishes where it started");
  await draining;
  assert.equal((await get("/page?x=1")).text, `b /page?x=1 127.0.0.1:${front.port}`, "a new snapshot: nothing kept from the old one");
  assert.equal((await get("/slow")).text.startsWith("b "), true, "the slow answer of the old upstream was not kept for the new one");
});
