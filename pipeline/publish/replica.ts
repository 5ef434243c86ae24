/**
 * A replica of the public record (`vigil serve --public --from URL`): it needs no database of its
 * own, no lock and no volume, only a published `latest.json` (on the blog's static host, another
 * server, or a path). It downloads the snapshot the manifest names, checks its SHA-256 and size
 * while writing it, and only a verified file ever gets the snapshot's name; a mismatch is refused
 * and whatever the replica served before stays.
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { manifestSchema, SNAPSHOT_NAME, type Manifest } from "../../schemas/publish.ts";
import { renameIntoPlace } from "../atomic.ts";
import { checkContract, SnapshotMismatchError, VigilError } from "../errors.ts";
import type { Advice, HttpClient } from "../source/http.ts";

export interface Verified {
  manifest: Manifest;
  /** The verified snapshot, in the replica's own folder. */
  path: string;
}

/** What to do when the publisher's server fails a request: its URLs all come from --from. */
export const MANIFEST_ADVICE: Advice = {
  status(status) {
    if (status === 404) return "check the --from URL: it names the publisher's latest.json (vigil publish writes it), and the snapshots beside it";
    if (status === 401 || status === 403) return "the publisher's server refuses the download; check the --from URL";
    return undefined;
  },
  unreachable: "check the --from URL and the network",
};

/** Where the manifest is: an http(s) URL, a file: URL or a path. */
function location(from: string): { url: string } | { path: string } {
  if (/^https?:\/\//i.test(from)) return { url: from };
  return { path: resolve(from.startsWith("file:") ? fileURLToPath(from) : from) };
}

export async function readRemoteManifest(from: string, http: HttpClient): Promise<Manifest> {
  const where = location(from);
  let body: unknown;
  if ("url" in where) {
    body = (await http.getJson(where.url, MANIFEST_ADVICE)).body;
  } else {
    try {
      body = JSON.parse(readFileSync(where.path, "utf8"));
    } catch (error) {
      throw new VigilError(`cannot read the manifest ${where.path}: ${(error as Error).message}`, { hint: "check --from" });
    }
  }
  return checkContract(manifestSchema, body, from, "the publisher's latest.json is damaged; run `vigil publish` there again");
}

/**
 * The snapshot `manifest` names, downloaded next to nothing but the replica's own earlier ones in
 * `dir`, verified, and named only then. A snapshot already there (verified when it came) is kept.
 */
export async function fetchSnapshot(from: string, manifest: Manifest, dir: string, http: HttpClient): Promise<Verified> {
  const path = join(dir, manifest.file);
  if (existsSync(path)) return { manifest, path };
  const where = location(from);
  const source: Readable =
    "url" in where ? (await http.getStream(new URL(manifest.file, where.url).href, MANIFEST_ADVICE)).body : createReadStream(join(dirname(where.path), manifest.file));
  const temp = join(dir, `.${manifest.file}.download-${process.pid}`);
  const hash = createHash("sha256");
  let bytes = 0;
  let fd = -1;
  try {
    fd = openSync(temp, "w");
    // Written as it flows, never paused: undici trips over a server that closes the connection
    // while its reader is paused (plain HTTP/1.0 static servers do), and a sync write is quick.
    await new Promise<void>((done, fail) => {
      source.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        writeSync(fd, chunk);
      });
      source.on("end", () => done());
      source.on("error", fail);
    });
    closeSync(fd);
    const sha256 = hash.digest("hex");
    if (sha256 !== manifest.sha256 || bytes !== manifest.bytes) {
      throw new SnapshotMismatchError(
        `${manifest.file} from ${from} has SHA-256 ${sha256} (${bytes} bytes) but its manifest says ${manifest.sha256} (${manifest.bytes} bytes): refused`,
        { hint: "the download was damaged or the publisher's files do not match; the replica keeps what it had" },
      );
    }
    renameIntoPlace(temp, path);
  } finally {
    // a response left unread holds its connection, and its listener on the process's signal
    source.destroy();
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    rmSync(temp, { force: true });
  }
  return { manifest, path };
}

/** Removes the replica's snapshots other than the ones given (the one served, the one it switches to). */
export function pruneReplica(dir: string, keep: readonly string[]): void {
  for (const name of readdirSync(dir)) if (SNAPSHOT_NAME.test(name) && !keep.includes(name)) rmSync(join(dir, name), { force: true });
}
