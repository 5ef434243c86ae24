/**
 * Final files are written one way: under a temporary name beside the target, flushed to disk,
 * renamed into place, and the folder flushed so the new name itself survives a power cut. A
 * reader (Hugo, datasette, nginx, a replica) never sees half a file, and a crash leaves either
 * the old file or the new one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** A temporary name beside `path`: hidden, marked as vigil's, never read as data by Hugo. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.vigil-tmp-${process.pid}`);
}

/** Flushes a file, or a folder's entries, to disk. */
export function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `content` to `temp` and flushes it: the first half of an atomic write. */
export function writeTemp(temp: string, content: string | Uint8Array): void {
  mkdirSync(dirname(temp), { recursive: true });
  writeFileSync(temp, content);
  syncPath(temp);
}

/** Renames a written temporary file (or folder) into place and flushes the folder: the second half. */
export function renameIntoPlace(temp: string, path: string): void {
  syncPath(temp);
  renameSync(temp, path);
  syncPath(dirname(path));
}

/** Writes `content` to `path` atomically; `temp` names the temporary file when the caller sweeps its own. */
export function writeAtomically(path: string, content: string | Uint8Array, temp = tempPathFor(path)): void {
  try {
    writeTemp(temp, content);
    renameIntoPlace(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
