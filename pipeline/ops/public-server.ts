/**
 * `vigil serve --public`: the public record's latest snapshot behind the front door, switching to
 * each newer one as it appears. Snapshots come from a source: the folder `vigil publish` writes
 * (publishing a first one if need be), or a replica's manifest URL (download, verify). Every poll
 * asks the source for a newer snapshot; a second datasette starts on it, the door points there,
 * and the old one stops once it has answered its own requests (or after DRAIN_MS).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PUBLIC_DATABASE, startDatasette, type DatasetteServer } from "./datasette.ts";
import { startFront, type Front } from "./front.ts";
import { untilStopped, type ServeOptions } from "./private-server.ts";
import { publish, readManifest } from "../publish/publish.ts";
import { openDatabase } from "../store/db.ts";
import { lastSuccess } from "../store/run-records.ts";
import { fetchSnapshot, pruneReplica, readRemoteManifest, type Verified } from "../publish/replica.ts";
import { HttpClient } from "../source/http.ts";
import type { Manifest } from "../../schemas/publish.ts";

/** How often --public looks for a newer snapshot in --out, and a replica at its --from manifest. */
const WATCH_MS = 10_000;
const REPLICA_POLL_MS = 5 * 60_000;
/** How long an old snapshot's datasette may finish the requests it was answering. */
const DRAIN_MS = 30_000;
/** How often --public looks for a first snapshot or database, before there is either. */
const WAIT_MS = 500;
/** How long a first boot waits, once a run has succeeded, for that run to publish before publishing itself. */
const PUBLISH_GRACE_MS = 60_000;

/** A wait that never keeps the process alive once everything else is done (after Ctrl-C, say). */
const idle = (ms: number) => sleep(ms, undefined, { ref: false });

export type PublicServeOptions = ServeOptions & {
  /** How often to look for a newer snapshot; default WATCH_MS, REPLICA_POLL_MS with `from`. */
  pollMs?: number;
  now: () => Date;
} & (
    | { /** The folder `vigil publish` writes into (--out). */ out: string; from?: undefined }
    | { /** A replica of the latest.json at this URL (or path). */ from: string; out?: undefined }
  );

/** Where the public server's snapshots come from: the local publish folder, or a manifest URL (a replica). */
interface SnapshotSource {
  /** The first snapshot to serve, waiting or publishing if need be; undefined when stopped while waiting. */
  first(): Promise<Verified | undefined>;
  /** A newer snapshot, verified, or undefined when there is none (or it was refused, which is logged). */
  newer(current: Manifest): Promise<Verified | undefined>;
  pollMs: number;
  close(): Promise<void>;
}

/** Serves the public record until the signal, then returns 0 (throws when datasette dies on its own). */
export async function servePublic(options: PublicServeOptions): Promise<number> {
  const source = options.from !== undefined ? replicaSource(options, options.from) : localSource(options, options.out);
  const front = await startFront(options.host, options.port);
  let server: DatasetteServer | undefined;
  try {
    const first = await source.first();
    if (!first || options.signal.aborted) return 0;
    let current = first;
    server = await serveSnapshot(current, options);
    front.point(server.url);
    options.stdout.write(`serving the public record ${current.manifest.file} at ${front.url}/${PUBLIC_DATABASE} (Ctrl-C stops it)\n`);
    let exited = exitSignal(server);
    for (;;) {
      if ((await nextPoll(source.pollMs, [options.signal, exited])) === "stop") {
        return await untilStopped(server, options.signal.aborted ? undefined : await server.exited, options);
      }
      const newer = await source.newer(current.manifest);
      if (!newer || options.signal.aborted) continue;
      const next = await switchTo(newer, current, server, front, options);
      if (next) [server, current, exited] = [next, newer, exitSignal(next)];
    }
  } finally {
    await server?.stop();
    await front.close();
    await source.close();
  }
}

/**
 * Waits for the next poll: "poll" after `ms`, or "stop" as soon as one of `signals` fires. It
 * leaves nothing attached to them once it returns: the process's signal lives for months, and a
 * listener (or a promise reaction, as Promise.race leaves on a promise that never settles) per poll
 * adds up, with a MaxListenersExceededWarning past ten.
 */
function nextPoll(ms: number, signals: AbortSignal[]): Promise<"poll" | "stop"> {
  return new Promise((done) => {
    const finish = (why: "poll" | "stop") => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", stop);
      done(why);
    };
    const stop = () => finish("stop");
    // never keeps the process alive once everything else is done (after Ctrl-C, say)
    const timer = setTimeout(() => finish("poll"), ms).unref();
    for (const signal of signals) signal.addEventListener("abort", stop, { once: true });
    if (signals.some((signal) => signal.aborted)) stop();
  });
}

/** Fires when `server` exits: one reaction on its `exited` for as long as it serves, not one per poll. */
function exitSignal(server: DatasetteServer): AbortSignal {
  const exited = new AbortController();
  void server.exited.then(() => exited.abort());
  return exited.signal;
}

/** A datasette of its own on a free loopback port, for the door to point at. */
function serveSnapshot(snapshot: Verified, options: PublicServeOptions): Promise<DatasetteServer> {
  const { db, cors, log, signal } = options;
  return startDatasette({ db, snapshot, port: 0, host: "127.0.0.1", cors, log, signal });
}

/**
 * Serves `newer` and points the door at it, then stops `old` once drained; the new server, or
 * undefined (logged) when it could not start, in which case `old` keeps serving.
 */
async function switchTo(newer: Verified, current: Verified, old: DatasetteServer, front: Front, options: PublicServeOptions): Promise<DatasetteServer | undefined> {
  options.log.info("serve", `switching to the snapshot ${newer.manifest.file}`, { file: newer.manifest.file, sha256: newer.manifest.sha256 });
  let next: DatasetteServer;
  try {
    next = await serveSnapshot(newer, options);
  } catch (error) {
    options.log.error("serve", `could not serve ${newer.manifest.file}, still serving ${current.manifest.file}: ${(error as Error).message}`);
    return undefined;
  }
  // new requests go to the new snapshot; the old one finishes what it was answering
  front.point(next.url);
  await Promise.race([front.drained(old.url), idle(DRAIN_MS)]);
  await old.stop();
  return next;
}

/** Snapshots that `vigil publish` writes into --out on this machine. */
function localSource(options: PublicServeOptions, out: string): SnapshotSource {
  const { db, log, signal } = options;
  const verified = (manifest: Manifest): Verified => ({ manifest, path: resolve(out, manifest.file) });
  return {
    pollMs: options.pollMs ?? WATCH_MS,
    async first() {
      let manifest = readManifest(out);
      if (!manifest && !hasSucceeded(db)) {
        // A first boot: the first run has not finished yet, and it publishes (VIGIL_PUBLISH). A
        // database being written is not a record yet: publishing it could serve a half-loaded one.
        log.info("serve", `nothing published in ${out} and no finished run in ${db} yet: waiting for the first publish`);
        let succeededAt: number | undefined;
        while (!manifest && !signal.aborted) {
          await idle(WAIT_MS);
          manifest = readManifest(out);
          if (succeededAt === undefined && hasSucceeded(db)) succeededAt = Date.now();
          // a run that does not publish: the record is there, serve it
          if (succeededAt !== undefined && Date.now() - succeededAt > PUBLISH_GRACE_MS) break;
        }
      }
      // stopped while waiting: nothing to serve, and nothing half-loaded published
      if (!manifest && signal.aborted) return undefined;
      if (!manifest) {
        log.info("serve", `nothing published in ${out} yet: publishing ${db} first`);
        manifest = (await publish({ db, out, now: options.now, log })).manifest;
      }
      return verified(manifest);
    },
    async newer(current) {
      try {
        const latest = readManifest(out);
        return latest && latest.sha256 !== current.sha256 ? verified(latest) : undefined;
      } catch (error) {
        log.warn("serve", `cannot read the manifest in ${out}, still serving ${current.file}: ${(error as Error).message}`);
        return undefined;
      }
    },
    async close() {},
  };
}

/** A replica: snapshots downloaded from a published latest.json and verified; no database, no lock, no volume. */
function replicaSource(options: PublicServeOptions, from: string): SnapshotSource {
  const { log, signal } = options;
  const dir = mkdtempSync(join(tmpdir(), "vigil-replica-"));
  const http = new HttpClient({ log, signal });
  return {
    pollMs: options.pollMs ?? REPLICA_POLL_MS,
    async first() {
      const first = await fetchSnapshot(from, await readRemoteManifest(from, http), dir, http);
      log.info("serve", `replica of ${from}: ${first.manifest.file} downloaded and verified`, { sha256: first.manifest.sha256 });
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
        log.warn("serve", `${(error as Error).message}; still serving ${current.file}`);
        return undefined;
      }
    },
    async close() {
      await http.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether the database at `db` holds a successful run: a record worth publishing. */
function hasSucceeded(db: string): boolean {
  if (!existsSync(db)) return false;
  const reader = openDatabase(db, { readonly: true });
  try {
    return lastSuccess(reader) !== undefined;
  } catch (error) {
    // a database the first run has only begun to create has no runs table yet
    if (error instanceof Error && /no such table: runs/.test(error.message)) return false;
    throw error;
  } finally {
    reader.close();
  }
}
