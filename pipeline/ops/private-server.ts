/**
 * `vigil serve` without --public: the private database, read live by datasette on loopback, until
 * Ctrl-C. Also how either server ends: a stop asked for is a normal exit, datasette dying is not.
 */
import { DatasetteError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { aborted, type Exit } from "./children.ts";
import { startDatasette, type DatasetteServer } from "./datasette.ts";

export interface ServeOptions {
  db: string;
  host: string;
  /** 0 picks a free one. */
  port: number;
  cors: boolean;
  log: Logger;
  signal: AbortSignal;
  /** Where the "serving ... at URL" line goes. */
  stdout: NodeJS.WritableStream;
}

/** Serves the private database until the signal, then returns 0 (throws when datasette dies on its own). */
export async function servePrivate(options: ServeOptions): Promise<number> {
  const { db, port, host, cors, log, signal } = options;
  const server = await startDatasette({ db, port, host, cors, log, signal });
  options.stdout.write(`serving ${db} at ${server.databaseUrl} (Ctrl-C stops it)\n`);
  return untilStopped(server, await Promise.race([aborted(signal).then(() => undefined), server.exited]), options);
}

/** Stops `server` after `ended` (undefined: the signal came first): 0 for a stop asked for. */
export async function untilStopped(server: DatasetteServer, ended: Exit | undefined, options: Pick<ServeOptions, "log" | "signal">): Promise<number> {
  await server.stop();
  // Ctrl-C reaches datasette too (same process group), so its own clean exit is a normal stop.
  if (ended === undefined || options.signal.aborted || ended.code === 0 || ended.signal === "SIGINT" || ended.signal === "SIGTERM") {
    options.log.info("serve", "datasette stopped");
    return 0;
  }
  throw new DatasetteError(`datasette exited unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
}
