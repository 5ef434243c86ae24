/**
 * Writing into the site so that a Hugo build never reads half a file and a failed run leaves the
 * previous files as they were: every changed file is first written beside its target under a
 * temporary name, and only when all of them are on disk are they renamed into place. A file whose
 * bytes would not change is not touched at all (same bytes, same mtime).
 */
import { rmSync } from "node:fs";
import { readdir, readFile, unlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { renameIntoPlace, tempPathFor, writeTemp } from "../pipeline/atomic.ts";
import { describeCause, VigilError } from "../pipeline/errors.ts";

export interface FileToWrite {
  /** Path relative to `root`, with forward slashes. */
  path: string;
  content: string | Uint8Array;
}

export interface WriteResult {
  /** Relative paths whose content changed (created or replaced), in the order given. */
  written: string[];
  /** Relative paths removed from the owned folders because the plan no longer has them. */
  removed: string[];
  unchanged: number;
}

/**
 * `owned` names folders (relative to `root`) that hold nothing but these files: whatever else is in
 * them afterwards is removed, so a memorial year whose deaths were all withdrawn leaves the site.
 * Folders in `kept` (inside an owned one) are left alone.
 */
export async function writeFilesAtomically(root: string, files: readonly FileToWrite[], owned: readonly string[] = [], kept: readonly string[] = []): Promise<WriteResult> {
  const pending: Array<{ path: string; target: string; temp: string; bytes: Buffer }> = [];
  let unchanged = 0;
  for (const file of files) {
    const target = join(root, file.path);
    const bytes = typeof file.content === "string" ? Buffer.from(file.content, "utf8") : Buffer.from(file.content);
    const existing = await readFile(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return null;
      throw error;
    });
    if (existing && existing.equals(bytes)) {
      unchanged++;
      continue;
    }
    // A leading dot and a suffix Hugo does not read as data or content, in the same folder so
    // the rename never crosses a file system.
    pending.push({ path: file.path, target, temp: tempPathFor(target), bytes });
  }
  const staged: string[] = [];
  try {
    for (const file of pending) {
      // listed before the write, so a write that fails halfway is cleaned up too
      staged.push(file.temp);
      writeTemp(file.temp, file.bytes);
    }
    for (const file of pending) {
      renameIntoPlace(file.temp, file.target);
      staged.splice(staged.indexOf(file.temp), 1);
    }
  } catch (error) {
    // the write's own failure is the one to report; a temp file already gone is no second one
    for (const temp of staged) {
      try {
        rmSync(temp, { force: true });
      } catch (cleanup) {
        throw new VigilError(`${describeCause(error)}; and ${temp} could not be removed: ${describeCause(cleanup)}`, { cause: error });
      }
    }
    throw error;
  }
  const planned = new Set(files.map((f) => f.path));
  const removed: string[] = [];
  for (const folder of owned) {
    const entries = await readdir(join(root, folder), { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      // a folder that is not there holds nothing to remove; any other failure is real
      if (error.code === "ENOENT") return [];
      throw error;
    });
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = relative(root, join(entry.parentPath ?? entry.path, entry.name)).split(sep).join("/");
      if (planned.has(path) || entry.name.includes(".vigil-tmp-") || kept.some((folder) => path.startsWith(folder + "/"))) continue;
      await unlink(join(root, path));
      removed.push(path);
    }
  }
  return { written: pending.map((f) => f.path), removed: removed.sort(), unchanged };
}
