/**
 * `vigil serve`: datasette until Ctrl-C. Without --public, the private database, live, on loopback
 * only; with --public, the latest published snapshot of the public record (publishing one first if
 * there is none), switching to each newer one as `vigil publish` writes it.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { parsePort, PUBLIC_OPTIONS, publicDir, type Command, type CommandContext } from "./command.ts";
import { DatasetteError, UsageError } from "../errors.ts";
import { aborted, type Exit } from "../ops/children.ts";
import { PUBLIC_DATABASE, startDatasette, type DatasetteServer } from "../ops/datasette.ts";
import { publish, readManifest } from "../publish/publish.ts";
import type { Manifest } from "../../schemas/publish.ts";
import { databaseName, loadMetadata } from "../../datasette/metadata.ts";

/** How often --public looks for a newer snapshot. */
const WATCH_MS = 10_000;
/** How often --public looks for a first snapshot or database, before there is either. */
const WAIT_MS = 500;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export const command: Command = {
  help: `
Serves a database with datasette (installed into .venv from datasette/requirements.txt on first
use) until Ctrl-C.

Without --public: the private database (--db), read live, so each run's changes show up as soon as
the run commits. It holds everything, street addresses and coordinates included, so it is served on
loopback only, for the journalist: --host must be a loopback address.

With --public: the public record, never the private database. It serves the latest snapshot that
\`vigil publish\` wrote into --out (VIGIL_PUBLIC, default data/public), publishing one from --db first
when there is none, and switches to each newer snapshot as it is published. The snapshot is served
immutably under /vigil: no street addresses, coordinates or raw rows; no arbitrary SQL (the canned
queries, table browsing, facets and search remain); its hash in its URLs (/vigil redirects to
/vigil-<hash>), so every page and JSON answer is cacheable for long (Cache-Control: public); Atom
feeds at /vigil/new_deaths.atom and /vigil/corrections.atom; the whole database downloadable, its
SHA-256 on the database page.

Examples:
  vigil serve
  vigil serve --public --host 0.0.0.0 --port 8080
  curl -L 'http://127.0.0.1:8001/vigil/memorial.json?date=2020-12-01&_shape=array'
  vigil serve --print-metadata > metadata.yml   # for running datasette yourself`,
  options: {
    port: { type: "string", arg: "N", description: "port to listen on; 0 picks a free one (default 8001)" },
    host: { type: "string", arg: "HOST", description: "address to listen on (default 127.0.0.1; with --public, 0.0.0.0 for every interface)" },
    public: { type: "boolean", description: "serve the public record's latest snapshot instead of the private database" },
    ...PUBLIC_OPTIONS,
    cors: { type: "boolean", description: "send Access-Control-Allow-Origin: * so other sites can fetch the JSON" },
    "print-metadata": { type: "boolean", description: "print the complete datasette metadata (YAML) for this database and exit" },
  },
  async run(ctx) {
    const port = parsePort(ctx.values.port);
    const host = typeof ctx.values.host === "string" && ctx.values.host !== "" ? ctx.values.host : "127.0.0.1";
    const isPublic = ctx.values.public === true;
    if (ctx.values["print-metadata"]) {
      const database = isPublic ? PUBLIC_DATABASE : databaseName(ctx.config.db);
      const snapshot = isPublic ? readManifest(publicDir(ctx)) : undefined;
      if (isPublic && !snapshot) throw new UsageError(`nothing is published in ${publicDir(ctx)} yet`, { hint: "run `vigil publish` first" });
      ctx.stdout.write(stringify(loadMetadata({ database, snapshot }), { lineWidth: 0 }));
      return 0;
    }
    if (!isPublic && !LOOPBACK.test(host)) {
      throw new UsageError(`the private database is served on loopback only, not on ${host}`, {
        hint: "it holds street addresses and coordinates; serve the public record with --public",
      });
    }
    return isPublic ? servePublic(ctx, port, host) : servePrivate(ctx, port, host);
  },
};

async function servePrivate(ctx: CommandContext, port: number, host: string): Promise<number> {
  const server = await startDatasette({ db: ctx.config.db, port, host, cors: ctx.values.cors === true, log: ctx.log, signal: ctx.signal });
  ctx.stdout.write(`serving ${ctx.config.db} at ${server.databaseUrl} (Ctrl-C stops it)\n`);
  return untilStopped(ctx, server, await Promise.race([aborted(ctx.signal).then(() => undefined), server.exited]));
}

async function servePublic(ctx: CommandContext, port: number, host: string): Promise<number> {
  const out = publicDir(ctx);
  let manifest = readManifest(out);
  if (!manifest && !existsSync(ctx.config.db)) {
    // a first boot: the first run has not finished yet, and it publishes (VIGIL_PUBLISH)
    ctx.log.info("serve", `nothing published in ${out} and no database at ${ctx.config.db} yet: waiting for either`);
    while (!manifest && !existsSync(ctx.config.db)) {
      if (ctx.signal.aborted) return 0;
      await sleep(WAIT_MS);
      manifest = readManifest(out);
    }
  }
  if (!manifest) {
    ctx.log.info("serve", `nothing published in ${out} yet: publishing ${ctx.config.db} first`);
    manifest = (await publish({ db: ctx.config.db, out, now: ctx.now, log: ctx.log })).manifest;
  }
  const start = (current: Manifest) =>
    startDatasette({
      db: ctx.config.db,
      snapshot: { path: resolve(out, current.file), manifest: current },
      port,
      host,
      cors: ctx.values.cors === true,
      log: ctx.log,
      signal: ctx.signal,
    });
  let server = await start(manifest);
  ctx.stdout.write(`serving the public record ${manifest.file} at ${server.databaseUrl} (Ctrl-C stops it)\n`);
  for (;;) {
    const newer = new Promise<Manifest>((found) => {
      const timer = setInterval(() => {
        try {
          const latest = readManifest(out);
          if (latest && latest.sha256 !== manifest?.sha256) {
            clearInterval(timer);
            found(latest);
          }
        } catch (error) {
          ctx.log.warn("serve", `cannot read the manifest in ${out}: ${(error as Error).message}`);
        }
      }, WATCH_MS);
      ctx.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
      void server.exited.then(() => clearInterval(timer));
    });
    const ended = await Promise.race([aborted(ctx.signal).then(() => undefined), server.exited, newer]);
    if (ended === undefined || "code" in ended) return untilStopped(ctx, server, ended);
    ctx.log.info("serve", `a newer snapshot was published: switching to ${ended.file}`, { file: ended.file });
    await server.stop();
    manifest = ended;
    server = await start(manifest);
  }
}

async function untilStopped(ctx: CommandContext, server: DatasetteServer, ended: Exit | undefined): Promise<number> {
  await server.stop();
  // Ctrl-C reaches datasette too (same process group), so its own clean exit is a normal stop.
  if (ended === undefined || ctx.signal.aborted || ended.code === 0 || ended.signal === "SIGINT" || ended.signal === "SIGTERM") {
    ctx.log.info("serve", "datasette stopped");
    return 0;
  }
  throw new DatasetteError(`datasette exited unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
}
