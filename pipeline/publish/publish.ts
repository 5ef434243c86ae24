/**
 * Publishing the public record (`vigil publish`, `vigil run --publish`): the projection written
 * to a temporary name, checked (`PRAGMA integrity_check`), named by its content's hash and renamed
 * into place, then `latest.json` beside it. A reader never sees half a file: a snapshot's name
 * is only ever given to complete, checked bytes, and the manifest only ever names such a file.
 * The two snapshots before the latest stay, for readers still downloading them; older ones go.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { manifestSchema, SNAPSHOT_NAME, type Manifest } from "../../schemas/publish.ts";
import { renameIntoPlace, writeAtomically } from "../atomic.ts";
import { checkContract, InternalError } from "../errors.ts";
import { removeLeftovers } from "../leftovers.ts";
import { elapsed, type Logger } from "../log.ts";
import { integrityProblem, openDatabase, pendingMigrations, readablePath, requireDatabase } from "../store/db.ts";
import { writeProjection } from "./projection.ts";
import { PATHS } from "../../site-widgets/site-paths.ts";

/** Where the blog hosts the download: under the site's static files. */
export const SITE_DATA_DIR = PATHS.publicData;
export const MANIFEST = "latest.json";
/** Snapshots kept besides the latest, for readers in the middle of downloading one. */
const KEEP_PREVIOUS = 2;
const TEMP_PREFIX = ".vigil-publishing-";

export interface PublishOptions {
  /** The private database. */
  db: string;
  /** Folder of the snapshots and their manifest. */
  out: string;
  /** Root of a Hugo site that hosts the download too (static/vigil/data/). */
  site?: string;
  now: () => Date;
  log: Logger;
}

export interface PublishResult {
  manifest: Manifest;
  /** Whether a new snapshot was published; false when the record is what the latest one holds. */
  changed: boolean;
  /** Absolute path of the snapshot. */
  path: string;
  /** Snapshots removed as older than the ones kept. */
  pruned: string[];
}

export async function publish(options: PublishOptions): Promise<PublishResult> {
  const { log, out } = options;
  const started = performance.now();
  requireDatabase(options.db);
  // an older database's schema is brought up to date, so the projection sees every column; a
  // current one is only read, so a database in a read-only folder can be published
  const reader = openDatabase(options.db, { readonly: true });
  const outdated = pendingMigrations(reader).length > 0;
  reader.close();
  if (outdated) openDatabase(options.db).close();
  mkdirSync(out, { recursive: true });
  // what publishes and public servers that died left behind
  removeLeftovers(out, /^\.vigil-(?:publishing|serve)-(\d+)[.-]/);

  const temp = join(out, `${TEMP_PREFIX}${process.pid}.db`);
  rmSync(temp, { force: true });
  let path: string;
  let manifest: Manifest;
  let changed: boolean;
  const source = readablePath(options.db);
  try {
    const projection = writeProjection(source.path, temp);
    checkIntegrity(temp);
    const sha256 = await sha256File(temp);
    const file = `vigil-${sha256.slice(0, 12)}.db`;
    path = join(out, file);
    const previous = readManifest(out);
    changed = !(previous?.sha256 === sha256 && existsSync(path));
    if (changed) {
      renameIntoPlace(temp, path);
      manifest = {
        file,
        sha256,
        bytes: statSync(path).size,
        run_id: projection.runId,
        published_at: options.now().toISOString(),
        data_last_changed: projection.dataLastChanged,
      };
      writeManifest(out, manifest);
    } else {
      rmSync(temp, { force: true });
      manifest = previous as Manifest;
    }
    log.info("publish", changed ? `published ${file}: ${projection.deaths} deaths` : `unchanged: ${file} already holds the record`, {
      file,
      sha256,
      bytes: manifest.bytes,
      run: manifest.run_id,
      changed,
      ms: elapsed(started),
    });
  } finally {
    rmSync(temp, { force: true });
    source.release();
  }
  const pruned = prune(out, manifest.file);
  if (options.site) {
    const dir = join(options.site, SITE_DATA_DIR);
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, manifest.file)) || (await sha256File(join(dir, manifest.file))) !== manifest.sha256) {
      const siteTemp = join(dir, `${TEMP_PREFIX}${process.pid}.db`);
      copyFileSync(path, siteTemp);
      renameIntoPlace(siteTemp, join(dir, manifest.file));
    }
    if (JSON.stringify(readManifest(dir)) !== JSON.stringify(manifest)) writeManifest(dir, manifest);
    prune(dir, manifest.file);
  }
  return { manifest, changed, path, pruned };
}

/** The manifest in `dir`, or undefined when there is none yet. */
export function readManifest(dir: string): Manifest | undefined {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InternalError(`${path} is not readable JSON: ${(error as Error).message}`, { hint: "run `vigil publish` again" });
  }
  return checkContract(manifestSchema, parsed, path, "run `vigil publish` again");
}

function writeManifest(dir: string, manifest: Manifest): void {
  checkContract(manifestSchema, manifest, join(dir, MANIFEST));
  writeAtomically(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + "\n", join(dir, `${TEMP_PREFIX}${process.pid}.json`));
}

export function checkIntegrity(path: string): void {
  const db = new Database(path, { readonly: true });
  try {
    const problem = integrityProblem(db);
    if (problem !== null) throw new InternalError(`${path} failed its integrity check: ${problem}`);
  } finally {
    db.close();
  }
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

/** Keeps the current snapshot and the previous few, newest first by the time each was published. */
function prune(dir: string, current: string): string[] {
  const others = readdirSync(dir)
    .filter((name) => SNAPSHOT_NAME.test(name) && name !== current)
    .map((name) => ({ name, mtime: statSync(join(dir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  const old = others.slice(KEEP_PREVIOUS).map((o) => o.name);
  for (const name of old) rmSync(join(dir, name), { force: true });
  return old;
}
