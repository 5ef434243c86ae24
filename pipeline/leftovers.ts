/**
 * What a killed process leaves behind: the temporary files and folders of a publish, a backup or a
 * public server, named with the pid of the process that made them. Removed once that process is
 * gone, by the next one to write there.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Removes the entries of `dir` whose name matches `pattern` (group 1: the pid) and whose process is gone. */
export function removeLeftovers(dir: string, pattern: RegExp): void {
  for (const name of readdirSync(dir)) {
    const match = pattern.exec(name);
    if (match && !alive(Number(match[1]))) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
