/**
 * A first load into a new database, written as a fresh file: `backfill --file` into a database that
 * is not there yet loads into a temporary file beside it (pipeline/atomic.ts's tempPathFor), without
 * a journal, without syncs and without hashing the source for checkpoints, then flushed to disk once
 * and renamed into place as a normal WAL database.
 *
 * The indexes are kept as rows go in, as in any load (load.ts): dropping them and building them
 * once after the insert took the same CPU, but at the end, where the parsing worker has nothing
 * left to do, so the load took longer (see bench/results.md).
 *
 * Why it is safe: until the rename there is no database at the target at all; the rename puts a
 * complete, flushed file there in one step. A run killed at any moment before it leaves only the
 * temporary file, which is not a database anyone reads.
 *
 * What it gives up: resuming. Without a journal the temporary file is consistent only once it is
 * complete, so it is never resumed: a failed or killed first load keeps nothing, and the next
 * backfill removes what it left and starts over (the log says so). Resuming from a checkpoint is for
 * loads into a database that exists (even an empty one), and for downloads from the portal, where
 * a broken connection is common: both go the usual way, committing as they go.
 */
import { accessSync, closeSync, constants, existsSync, fdatasync, mkdirSync, openSync, readdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { renameIntoPlace, tempPathFor } from "../atomic.ts";
import { describeCause, InternalError, RunRefusedError, SourceFormatError, UsageError, VigilError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { migrate, type DB } from "../store/db.ts";
import type { LoadProfile } from "./profile.ts";

/** Files SQLite may keep beside a database. */
const SIDE = ["-wal", "-shm", "-journal"];
/** Staged rows beside the temporary file are named after it, with this and a chunk's number. */
const STAGED = "-stage-";

/**
 * Whether a backfill into `path` loads into a fresh file: a --file load into a database that is not
 * there (no file, and no journal of a deleted one that SQLite would replay onto the new file).
 */
export function loadsFresh(path: string, file: string | undefined): boolean {
  return file !== undefined && path !== ":memory:" && ![path, `${path}-wal`, `${path}-journal`].some((p) => existsSync(p));
}

export class FreshFile {
  readonly temp: string;
  private placed = false;
  /** A flush to disk is under way (syncSoon); its own descriptor is closed when it ends, whatever became of the file. */
  private syncing = false;

  private constructor(
    readonly target: string,
    readonly db: DB,
  ) {
    this.temp = tempPathFor(target);
  }

  /** The temporary database, created with the schema beside `target`, loading pragmas set. */
  static create(target: string): FreshFile {
    const temp = tempPathFor(target);
    let db: DB | undefined;
    try {
      mkdirSync(dirname(target), { recursive: true });
      accessSync(dirname(target), constants.W_OK);
      for (const file of [temp, ...SIDE.map((s) => temp + s)]) rmSync(file, { force: true });
      db = new Database(temp);
      // no journal and no syncs: the file is complete, or is not used (see the top of this file)
      db.pragma("journal_mode = OFF");
      db.pragma("synchronous = OFF");
      db.pragma("foreign_keys = ON");
      migrate(db);
    } catch (error) {
      db?.close();
      rmSync(temp, { force: true });
      throw new VigilError(`cannot write the database ${target}: ${describeCause(error)}`, { cause: error, hint: "make its folder writable, or pass --db with a path in a folder vigil can write" });
    }
    return new FreshFile(target, db);
  }

  /**
   * Removes what killed or failed first loads into `target` left (their temporary files); call
   * holding the write lock, so that no other load is writing one.
   */
  sweep(log: Logger): void {
    // tempPathFor's names for this target, whatever the process id
    const prefix = `.${basename(this.target)}.vigil-tmp-`;
    for (const name of readdirSync(dirname(this.target))) {
      const path = join(dirname(this.target), name);
      if (!name.startsWith(prefix) || path === this.temp || SIDE.some((s) => path === this.temp + s)) continue;
      rmSync(path, { force: true });
      if (!SIDE.some((s) => name.endsWith(s)) && !name.includes(STAGED)) log.warn("resume", `removed ${path}, left by a first load into ${this.target} that did not finish: a load into a new database starts over`);
    }
  }

  /**
   * The loaded file made a normal WAL database, flushed and renamed into place. Refuses to replace
   * a database that appeared at the target meanwhile (made by a command that does not wait for the
   * write lock): the load is thrown away rather than put over it.
   */
  place(profile?: LoadProfile): void {
    const close = () => {
      this.db.pragma("journal_mode = WAL");
      this.db.close();
    };
    if (profile) profile.time("close", close);
    else close();
    // the last connection's close folds the WAL into the file; the rename takes the file alone
    if (existsSync(`${this.temp}-wal`)) throw new InternalError(`${this.temp}-wal is still there after closing the database`);
    if (existsSync(this.target)) {
      throw new VigilError(`a database appeared at ${this.target} while the backfill loaded into a new file: the load was not put in its place`, {
        hint: "run the backfill again: it loads into the database that is there now",
      });
    }
    const rename = () => renameIntoPlace(this.temp, this.target);
    if (profile) profile.time("place", rename);
    else rename();
    this.placed = true;
  }

  /**
   * Starts flushing what the load has written so far to disk, in the background (none if a flush is
   * under way already): the flush before the rename then has less left to write, and the disk works
   * while the load goes on. Durability still rests on that last flush alone.
   */
  syncSoon(): void {
    if (this.syncing || this.placed) return;
    let fd: number;
    try {
      fd = openSync(this.temp, "r");
    } catch {
      return;
    }
    this.syncing = true;
    fdatasync(fd, () => {
      closeSync(fd);
      this.syncing = false;
    });
  }

  /** Where the parsing workers write staged rows (csv/stage.ts): this, then a chunk's number. */
  get stagePrefix(): string {
    return this.temp + STAGED;
  }

  /** Closes and removes the temporary file unless it was placed, and any staged rows left. */
  discard(): void {
    if (this.db.open) this.db.close();
    const staged = basename(this.stagePrefix);
    for (const name of readdirSync(dirname(this.temp))) if (name.startsWith(staged)) rmSync(join(dirname(this.temp), name), { force: true });
    if (this.placed) return;
    for (const file of [this.temp, ...SIDE.map((s) => this.temp + s)]) rmSync(file, { force: true });
  }
}

/** What a failed first load into a new database says: nothing was kept, and a new run starts over. */
export function freshFailed(error: unknown): void {
  const transient = !(error instanceof SourceFormatError || error instanceof RunRefusedError || error instanceof UsageError);
  if (transient && error instanceof VigilError && !error.hint) error.hint = "a first load into a new database keeps nothing until it completes: run the same command again to load the file from the start";
}
