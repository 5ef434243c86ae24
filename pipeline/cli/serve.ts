/**
 * `vigil serve`: datasette until Ctrl-C. Without --public, the private database, live, on loopback
 * only; with --public, the latest published snapshot of the public record (publishing one first if
 * there is none), switching to each newer one as `vigil publish` writes it (ops/public-server.ts).
 */
import { parseDuration, parsePort, PUBLIC_OPTIONS, publicDir, type Command } from "./command.ts";
import { UsageError } from "../errors.ts";
import { metadataYaml } from "../ops/datasette.ts";
import { servePrivate } from "../ops/private-server.ts";
import { servePublic } from "../ops/public-server.ts";

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
when there is none and the database holds a finished run (on a first boot, it waits for the first
run to publish, or publishes itself a minute after a run that does not), and switches to each
newer snapshot as it is published. The snapshot is served
immutably under /vigil: no street addresses, coordinates or raw rows; no arbitrary SQL (the canned
queries, table browsing, facets and search remain); its hash in its URLs (/vigil redirects to
/vigil-<hash>), so every page and JSON answer is cacheable for long (Cache-Control: public); Atom
feeds at /vigil/new_deaths.atom and /vigil/corrections.atom; the whole database downloadable, its
SHA-256 on the database page. A newer snapshot is picked up without dropping a request: a second
datasette starts on it, new requests go there, and the old one stops once it has answered its own.

With --from URL (VIGIL_FROM), a replica: no database, no lock, no volume. It downloads the snapshot
the published latest.json at URL names (an http(s) URL or a path), verifies its SHA-256, serves it,
and checks the manifest again every --poll (default 5 minutes), switching only to a snapshot it has
downloaded and verified; a mismatch is refused with a clear message and it keeps serving what it had.

Examples:
  vigil serve
  vigil serve --public --host 0.0.0.0 --port 8080
  vigil serve --public --from https://blog.example.org/vigil/data/latest.json --poll 5m
  curl -L 'http://127.0.0.1:8001/vigil/memorial.json?date=2020-12-01&_shape=array'
  vigil serve --print-metadata > metadata.yml   # for running datasette yourself`,
  options: {
    port: { type: "string", arg: "N", description: "port to listen on; 0 picks a free one (default 8001)" },
    host: { type: "string", arg: "HOST", description: "address to listen on (default 127.0.0.1; with --public, 0.0.0.0 for every interface)" },
    public: { type: "boolean", description: "serve the public record's latest snapshot instead of the private database" },
    ...PUBLIC_OPTIONS,
    from: { type: "string", arg: "URL", env: "VIGIL_FROM", description: "with --public: be a replica of the latest.json at URL (or a path): download, verify, serve" },
    poll: { type: "string", arg: "DURATION", env: "VIGIL_POLL", description: "with --public: how often to look for a newer snapshot (default 10s in --out, 5m with --from)" },
    cors: { type: "boolean", description: "send Access-Control-Allow-Origin: * so other sites can fetch the JSON" },
    "print-metadata": { type: "boolean", description: "print the complete datasette metadata (YAML) for this database and exit" },
  },
  async run(ctx) {
    const port = parsePort(ctx.values.port);
    const host = typeof ctx.values.host === "string" && ctx.values.host !== "" ? ctx.values.host : "127.0.0.1";
    const isPublic = ctx.values.public === true;
    if (ctx.values["print-metadata"]) {
      ctx.stdout.write(metadataYaml(ctx.config.db, isPublic ? publicDir(ctx) : undefined));
      return 0;
    }
    const from = typeof ctx.values.from === "string" && ctx.values.from !== "" ? ctx.values.from : undefined;
    if (!isPublic && ctx.values.from !== undefined) throw new UsageError("--from makes a replica of the public record: it needs --public");
    if (!isPublic && !LOOPBACK.test(host)) {
      throw new UsageError(`the private database is served on loopback only, not on ${host}`, {
        hint: "it holds street addresses and coordinates; serve the public record with --public",
      });
    }
    const { log, signal, stdout } = ctx;
    const served = { db: ctx.config.db, host, port, cors: ctx.values.cors === true, log, signal, stdout };
    if (!isPublic) return servePrivate(served);
    const pollMs = ctx.values.poll === undefined ? undefined : parseDuration(ctx.values.poll, "--poll");
    return servePublic({ ...served, pollMs, now: ctx.now, ...(from !== undefined ? { from } : { out: publicDir(ctx) }) });
  },
};
