/** Where vigil's own files are: the project's root, found from this file's place in it. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A path inside the project, e.g. `projectPath("datasette", "install.sh")`. */
export const projectPath = (...parts: string[]): string => join(ROOT, ...parts);
