/**
 * The single-writer lock: an exclusive transaction on a small side file (`<db>.lock`). The operating
 * system drops it when the process dies, so a killed run never leaves a stale lock behind.
 */
import Database from "better-sqlite3";
import type { DB } from "./db.ts";
import { RunInProgressError } from "../errors.ts";

export interface WriteLock {
  release(): void;
}

export function acquireWriteLock(dbPath: string, db: DB): WriteLock {
  if (dbPath === ":memory:") return { release() {} };
  const lock = new Database(`${dbPath}.lock`, { timeout: 0 });
  try {
    lock.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") {
      const running = db
        .prepare("SELECT id, kind, started_at, pid FROM runs WHERE status = 'running' ORDER BY id DESC LIMIT 1")
        .get() as { id: number; kind: string; started_at: string; pid: number } | undefined;
      const which = running ? ` (run ${running.id}, ${running.kind}, pid ${running.pid}, started ${running.started_at})` : "";
      throw new RunInProgressError(`another run is in progress on ${dbPath}${which}`, {
        hint: "wait for it to finish; only one run writes at a time",
      });
    }
    throw error;
  }
  return {
    release() {
      lock.exec("ROLLBACK");
      lock.close();
    },
  };
}
