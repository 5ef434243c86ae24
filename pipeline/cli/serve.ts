/**
 * `vigil serve`: datasette until Ctrl-C. Without --public, the private database, live, on loopback
 * only; with --public, the latest published snapshot of the public record (publishing one first if
 * there is none), switching to each newer one as `vigil publish` writes it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { parseDuration, parsePort, PUBLIC_OPTIONS, publicDir, type Command, type CommandContext } from "./command.ts";
import { DatasetteError, UsageError } from "../errors.ts";
import { aborted, type Exit } from "../ops/children.ts";
import { startFront } from "../ops/front.ts";
import { PUBLIC_DATABASE, startDatasette, type DatasetteServer } from "../ops/datasette.ts";
import { publish, readManifest } from "../publish/publish.ts";
import { fetchSnapshot, pruneReplica, readRemoteManifest, type Verified } from "../publish/replica.ts";
import { HttpClient } from "../source/http.ts";
import type { Manifest } from "../../schemas/publish.ts";
import { databaseName, loadMetadata } from "../../datasette/metadata.ts";

/** How often --public looks for a newer snapshot in --out, and a replica at its --from manifest. */
const WATCH_MS = 10_000;
const REPLICA_POLL_MS = 5 * 60_000;
/** How long an old snapshot's datasette may finish the requests it was answering. */
const DRAIN_MS = 30_000;
/** How often --public looks for a first snapshot or database, before there is either. */
const WAIT_MS = 500;

/** A wait that never keeps the process alive once everything else is done (after Ctrl-C, say). */
const idle = (ms: number) => sleep(ms, undefined, { ref: false });

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export const command: Command = {
  help: `
Serves a database with datasette (installed into .venv from datasette/requirements.txt on first
use) until Ctrl-C.

Without --public: the private database (--db), read live, so each run's changes show up as soon as
the run commits. It holds everything, street addresses and coordinates included, so it is served on
loopback only, for the journalist: --host must be a loopback address.

With --public: the public record, never the private database. It serves the latest snapshot that
\`vigil publish\` wrote into --out (VIGIL_PUBLIC, default data/public), publishing one from --db first
when there is none (or, on a first boot without a database yet, waiting for the first run to
publish), and switches to each newer snapshot as it is published. The snapshot is served
immutably under /vigil: no street addresses, coordinates or raw rows; no arbitrary SQL (the canned
queries, table browsing, facets and search remain); its hash in its URLs (/vigil redirects to
/vigil-<hash>), so every page and JSON answer is cacheable for long (Cache-Control: public); Atom
feeds at /vigil/new_deaths.atom and /vigil/corrections.atom; the whole database downloadable, its
SHA-256 on the database page. A newer snapshot is picked up without dropping a request: a second
datasette starts on it, new requests go there, and the old one stops once it has answered its own.

With --from URL (VIGIL_FROM), a replica: no database, no lock, no volume. It downloads the snapshot
the published latest.json at URL names (an http(s) URL or a path), verifies its SHA-256, serves it,
and checks the manifest again every --poll (default 5 minutes), switching only to a snapshot it has
downloaded and verified; a mismatch is refused with a clear message and it keeps serving what it had.

Examples:
  vigil serve
  vigil serve --public --host 0.0.0.0 --port 8080
  vigil serve --public --from https://blog.example.org/vigil/data/latest.json --poll 5m
  curl -L 'http://127.0.0.1:8001/vigil/memorial.json?date=2020-12-01&_shape=array'
  vigil serve --print-metadata > metadata.yml   # for running datasette yourself`,
  options: {
    port: { type: "string", arg: "N", description: "port to listen on; 0 picks a free one (default 8001)" },
    host: { type: "string", arg: "HOST", description: "address to listen on (default 127.0.0.1; with --public, 0.0.0.0 for every interface)" },
    public: { type: "boolean", description: "serve the public record's latest snapshot instead of the private database" },
    ...PUBLIC_OPTIONS,
    from: { type: "string", arg: "URL", env: "VIGIL_FROM", description: "with --public: be a replica of the latest.json at URL (or a path): download, verify, serve" },
    poll: { type: "string", arg: "DURATION", env: "VIGIL_POLL", description: "with --public: how often to look for a newer snapshot (default 10s in --out, 5m with --from)" },
    cors: { type: "boolean", description: "send Access-Control-Allow-Origin: * so other sites can fetch the JSON" },
    "print-metadata": { type: "boolean", description: "print the complete datasette metadata (YAML) for this database and exit" },
  },
  async run(ctx) {
    const port = parsePort(ctx.values.port);
    const host = typeof ctx.values.host === "string" && ctx.values.host !== "" ? ctx.values.host : "127.0.0.1";
    const isPublic = ctx.values.public === true;
    if (ctx.values["print-metadata"]) {
      const database = isPublic ? PUBLIC_DATABASE : databaseName(ctx.config.db);
      const snapshot = isPublic ? readManifest(publicDir(ctx)) : undefined;
      if (isPublic && !snapshot) throw new UsageError(`nothing is published in ${publicDir(ctx)} yet`, { hint: "run `vigil publish` first" });
      ctx.stdout.write(stringify(loadMetadata({ database, snapshot }), { lineWidth: 0 }));
      return 0;
    }
    if (!isPublic && ctx.values.from !== undefined) throw new UsageError("--from makes a replica of the public record: it needs --public");
    if (!isPublic && !LOOPBACK.test(host)) {
      throw new UsageError(`the private database is served on loopback only, not on ${host}`, {
        hint: "it holds street addresses and coordinates; serve the public record with --public",
      });
    }
    return isPublic ? servePublic(ctx, port, host) : servePrivate(ctx, port, host);
  },
};

async function servePrivate(ctx: CommandContext, port: number, host: string): Promise<number> {
  const server = await startDatasette({ db: ctx.config.db, port, host, cors: ctx.values.cors === true, log: ctx.log, signal: ctx.signal });
  ctx.stdout.write(`serving ${ctx.config.db} at ${server.databaseUrl} (Ctrl-C stops it)\n`);
  return untilStopped(ctx, server, await Promise.race([aborted(ctx.signal).then(() => undefined), server.exited]));
}

/** Where the public server's snapshots come from: the local publish folder, or a manifest URL (a replica). */
interface SnapshotSource {
  /** The first snapshot to serve, waiting or publishing if need be. */
  first(): Promise<Verified>;
  /** A newer snapshot, verified, or undefined when there is none (or it was refused, which is logged). */
  newer(current: Manifest): Promise<Verified | undefined>;
  pollMs: number;
  close(): Promise<void>;
}

async function servePublic(ctx: CommandContext, port: number, host: string): Promise<number> {
  const from = typeof ctx.values.from === "string" && ctx.values.from !== "" ? ctx.values.from : undefined;
  const source = from ? replicaSource(ctx, from) : localSource(ctx);
  const front = await startFront(host, port);
  let server: DatasetteServer | undefined;
  try {
    let current = await source.first();
    if (ctx.signal.aborted) return 0;
    const start = (snapshot: Verified) =>
      startDatasette({ db: ctx.config.db, snapshot, port: 0, host: "127.0.0.1", cors: ctx.values.cors === true, log: ctx.log, signal: ctx.signal });
    server = await start(current);
    front.point(server.url);
    ctx.stdout.write(`serving the public record ${current.manifest.file} at ${front.url}/${PUBLIC_DATABASE} (Ctrl-C stops it)\n`);
    for (;;) {
      const ended = await Promise.race([aborted(ctx.signal).then(() => undefined), server.exited, idle(source.pollMs).then(() => "poll" as const)]);
      if (ended !== "poll") return await untilStopped(ctx, server, ended);
      const newer = await source.newer(current.manifest);
      if (!newer || ctx.signal.aborted) continue;
      ctx.log.info("serve", `switching to the snapshot ${newer.manifest.file}`, { file: newer.manifest.file, sha256: newer.manifest.sha256 });
      let next: DatasetteServer;
      try {
        next = await start(newer);
      } catch (error) {
        ctx.log.error("serve", `could not serve ${newer.manifest.file}, still serving ${current.manifest.file}: ${(error as Error).message}`);
        continue;
      }
      // new requests go to the new snapshot; the old one finishes what it was answering
      front.point(next.url);
      const old = server;
      server = next;
      current = newer;
      await Promise.race([front.drained(old.url), idle(DRAIN_MS)]);
      await old.stop();
    }
  } finally {
    await server?.stop();
    await front.close();
    await source.close();
  }
}

/** Snapshots that `vigil publish` writes into --out on this machine. */
function localSource(ctx: CommandContext): SnapshotSource {
  const out = publicDir(ctx);
  const verified = (manifest: Manifest): Verified => ({ manifest, path: resolve(out, manifest.file) });
  return {
    pollMs: ctx.values.poll === undefined ? WATCH_MS : parseDuration(ctx.values.poll, "--poll"),
    async first() {
      let manifest = readManifest(out);
      if (!manifest && !existsSync(ctx.config.db)) {
        // a first boot: the first run has not finished yet, and it publishes (VIGIL_PUBLISH)
        ctx.log.info("serve", `nothing published in ${out} and no database at ${ctx.config.db} yet: waiting for either`);
        while (!manifest && !existsSync(ctx.config.db) && !ctx.signal.aborted) {
          await idle(WAIT_MS);
          manifest = readManifest(out);
        }
      }
      if (!manifest) {
        ctx.log.info("serve", `nothing published in ${out} yet: publishing ${ctx.config.db} first`);
        manifest = (await publish({ db: ctx.config.db, out, now: ctx.now, log: ctx.log })).manifest;
      }
      return verified(manifest);
    },
    async newer(current) {
      try {
        const latest = readManifest(out);
        return latest && latest.sha256 !== current.sha256 ? verified(latest) : undefined;
      } catch (error) {
        ctx.log.warn("serve", `cannot read the manifest in ${out}, still serving ${current.file}: ${(error as Error).message}`);
        return undefined;
      }
    },
    async close() {},
  };
}

/** A replica: snapshots downloaded from a published latest.json and verified; no database, no lock, no volume. */
function replicaSource(ctx: CommandContext, from: string): SnapshotSource {
  const pollMs = ctx.values.poll === undefined ? REPLICA_POLL_MS : parseDuration(ctx.values.poll, "--poll");
  const dir = mkdtempSync(join(tmpdir(), "vigil-replica-"));
  const http = new HttpClient({ log: ctx.log, signal: ctx.signal });
  const fetchLatest = async () => {
    const manifest = await readRemoteManifest(from, http);
    return fetchSnapshot(from, manifest, dir, http);
  };
  return {
    pollMs,
    async first() {
      const first = await fetchLatest();
      ctx.log.info("serve", `replica of ${from}: ${first.manifest.file} downloaded and verified`, { sha256: first.manifest.sha256 });
      return first;
    },
    async newer(current) {
      try {
        const manifest = await readRemoteManifest(from, http);
        if (manifest.sha256 === current.sha256) return undefined;
        const next = await fetchSnapshot(from, manifest, dir, http);
        pruneReplica(dir, [current.file, next.manifest.file]);
        return next;
      } catch (error) {
        ctx.log.warn("serve", `${(error as Error).message}; still serving ${current.file}`);
        return undefined;
      }
    },
    async close() {
      await http.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function untilStopped(ctx: CommandContext, server: DatasetteServer, ended: Exit | undefined): Promise<number> {
  await server.stop();
  // Ctrl-C reaches datasette too (same process group), so its own clean exit is a normal stop.
  if (ended === undefined || ctx.signal.aborted || ended.code === 0 || ended.signal === "SIGINT" || ended.signal === "SIGTERM") {
    ctx.log.info("serve", "datasette stopped");
    return 0;
  }
  throw new DatasetteError(`datasette exited unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
}
