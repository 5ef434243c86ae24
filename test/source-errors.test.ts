/**
 * What a failed request tells the user: the advice is the caller's (the portal's flags for the
 * portal, --from for a replica), a host that does not resolve fails at once, a pasted dataset
 * page says which flags to give, and a first ingest that fails leaves no database behind.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { HttpError, UnresolvedHostError } from "../pipeline/errors.ts";
import { backfill } from "../pipeline/backfill/backfill.ts";
import { ingest } from "../pipeline/ingest/ingest.ts";
import { readRemoteManifest } from "../pipeline/publish/replica.ts";
import { HttpClient } from "../pipeline/source/http.ts";
import { SocrataSource } from "../pipeline/source/socrata.ts";
import { FAST_HTTP, fixedClock, memoryLogger, runMain, tempDir } from "./helpers.ts";

const DATASET = "3trz-enys";
const TOKEN = "secret-app-token-1234";

/** A server that answers every request with `status` and a body that quotes the request's app token back. */
async function answering(t: { after(fn: () => Promise<void> | void): void }, status: number): Promise<string> {
  const server = createServer((request, response) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify({ message: `nothing here; you sent the token ${String(request.headers["x-app-token"])}` }));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  t.after(() => new Promise<void>((done) => server.close(() => done())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("a 404 from a replica's --from gives the manifest's advice, and from the portal the portal's", async (t) => {
  const base = await answering(t, 404);
  const http = new HttpClient({ ...FAST_HTTP, appToken: TOKEN });
  t.after(() => http.close());
  await assert.rejects(readRemoteManifest(`${base}/vigil/latest.json`, http), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 404);
    assert.equal(error.url, `${base}/vigil/latest.json`);
    assert.match(error.hint ?? "", /^check the --from URL: it names the publisher's latest\.json/);
    assert.doesNotMatch(`${error.message} ${error.hint}`, /--dataset|--portal/);
    assert.match(error.bodyExcerpt, /nothing here/, "the body excerpt is kept");
    assert.ok(!error.message.includes(TOKEN) && error.message.includes("[redacted]"), `the token the body echoed is masked: ${error.message}`);
    return true;
  });
  await assert.rejects(new SocrataSource(http, base, DATASET).metadata(), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.hint, "check --dataset and --portal");
    return true;
  });
});

test("a portal host that does not resolve fails at the first attempt, saying so and to check --portal", async (t) => {
  const host = "no-such-portal.invalid";
  const resolver = await lookup(host).then(
    () => "resolves",
    (error: NodeJS.ErrnoException) => error.code,
  );
  if (resolver !== "ENOTFOUND") return t.skip(`this machine's resolver answers ${resolver} for ${host}, not ENOTFOUND`);
  const log = memoryLogger();
  let waits = 0;
  const http = new HttpClient({ ...FAST_HTTP, log, sleep: async () => void waits++ });
  t.after(() => http.close());
  await assert.rejects(new SocrataSource(http, `https://${host}`, DATASET).metadata(), (error: unknown) => {
    assert.ok(error instanceof UnresolvedHostError, String(error));
    assert.match(error.message, /^no-such-portal\.invalid does not resolve/);
    assert.match(error.hint ?? "", /check --portal/);
    return true;
  });
  assert.equal(waits, 0, "no retry");
  assert.equal(log.lines.filter((line) => /retrying/.test(String(line.msg))).length, 0);
});

test("a pasted dataset page as --dataset or --portal names the flags to give instead, exit 2", async () => {
  const cases: Array<[string[], string]> = [
    [["--dataset", "https://datacatalog.cookcountyil.gov/d/3trz-enys"], "--portal https://datacatalog.cookcountyil.gov --dataset 3trz-enys"],
    [["--dataset", "https://datacatalog.cookcountyil.gov/Public-Safety/Medical-Examiner-Case-Archive-COVID-19-Related-Dea/3trz-enys"], "--portal https://datacatalog.cookcountyil.gov --dataset 3trz-enys"],
    [["--portal", "https://host.example/d/cjeq-bs86"], "--portal https://host.example --dataset cjeq-bs86"],
  ];
  for (const [flags, advice] of cases) {
    const result = await runMain(["ingest", ...flags, "--db", "/nonexistent/never.db"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`^vigil ingest: ${flags[0]} "${flags[1]}" is a dataset's page, not a (portal|dataset id): use `));
    assert.ok(result.stderr.trimEnd().endsWith(advice), result.stderr);
  }
});

test("a first ingest that fails removes the database it created; a later one that fails keeps it", async (t) => {
  const dir = tempDir(t);
  const portal = await startPortal({ datasets: { [DATASET]: generateCovidView({ seed: 3, count: 60 }) } });
  t.after(() => portal.close());
  const folder = join(dir, "data");
  const db = join(folder, "vigil.db");
  const options = { config: { db, portal: portal.url, dataset: DATASET }, log: memoryLogger(), now: fixedClock(), http: { ...FAST_HTTP, maxAttempts: 2 } };
  portal.faults.always({ kind: "status", status: 500 });
  await assert.rejects(ingest(options), (error: unknown) => error instanceof HttpError && error.status === 500);
  assert.equal(existsSync(folder), false, "neither the database, its side files nor the folder made for it are left");

  mkdirSync(folder);
  writeFileSync(join(folder, "notes.txt"), "mine\n");
  await assert.rejects(ingest(options));
  assert.deepEqual(readdirSync(folder), ["notes.txt"], "a folder that was there stays, with what it held");

  portal.faults.clear();
  await ingest(options);
  portal.faults.always({ kind: "status", status: 500 });
  await assert.rejects(ingest(options));
  assert.ok(existsSync(db), "a database with a successful run is kept when a later run fails");
});

test("a first backfill that fails before loading anything leaves no database", async (t) => {
  const dir = tempDir(t);
  const db = join(dir, "vigil.db");
  const file = join(dir, "rows.json");
  writeFileSync(file, JSON.stringify([{ casenumber: "ME2020-00001" }]));
  const options = { config: { db, portal: "https://datacatalog.cookcountyil.gov", dataset: DATASET }, log: memoryLogger(), now: fixedClock(), file };
  await assert.rejects(backfill(options), /is JSON/);
  assert.deepEqual(readdirSync(dir), ["rows.json"], "no database, no side files");
});
