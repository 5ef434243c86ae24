/** `vigil serve`: datasette on the database until Ctrl-C; `--print-metadata` prints its metadata. */
import { stringify } from "yaml";
import { parsePort, type Command } from "./command.ts";
import { DatasetteError } from "../errors.ts";
import { aborted } from "../ops/children.ts";
import { startDatasette } from "../ops/datasette.ts";
import { databaseName, loadMetadata } from "../../datasette/metadata.ts";

export const command: Command = {
  help: `
Serves the database with datasette (installed into .venv from datasette/requirements.txt on first
use) until Ctrl-C. The database appears under its file name: data/vigil.db is /vigil. Datasette
reads it live, so each run's changes show up as soon as the run commits.

--public turns arbitrary SQL off: only the canned queries (memorial, daily_deaths, by_age_group,
by_race_ethnicity, by_residence_city, by_month, revisions, rejects, last_run), table browsing,
facets and search remain. SQL is read-only in every mode.

Examples:
  vigil serve
  vigil serve --public --host 0.0.0.0 --port 8080
  curl 'http://127.0.0.1:8001/vigil/memorial.json?date=2020-12-01&_shape=array'
  vigil serve --print-metadata > metadata.yml   # for running datasette yourself`,
  options: {
    port: { type: "string", arg: "N", description: "port to listen on; 0 picks a free one (default 8001)" },
    host: { type: "string", arg: "HOST", description: "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)" },
    public: { type: "boolean", description: "canned queries only: no arbitrary SQL" },
    cors: { type: "boolean", description: "send Access-Control-Allow-Origin: * so other sites can fetch the JSON" },
    "print-metadata": { type: "boolean", description: "print the complete datasette metadata (YAML) for this database and exit" },
  },
  async run(ctx) {
    const port = parsePort(ctx.values.port);
    const host = typeof ctx.values.host === "string" && ctx.values.host !== "" ? ctx.values.host : "127.0.0.1";
    if (ctx.values["print-metadata"]) {
      ctx.stdout.write(stringify(loadMetadata({ database: databaseName(ctx.config.db) }), { lineWidth: 0 }));
      return 0;
    }
    const server = await startDatasette({
      db: ctx.config.db,
      port,
      host,
      public: ctx.values.public === true,
      cors: ctx.values.cors === true,
      log: ctx.log,
      signal: ctx.signal,
    });
    ctx.stdout.write(`serving ${ctx.config.db} at ${server.databaseUrl} (Ctrl-C stops it)\n`);
    const ended = await Promise.race([aborted(ctx.signal).then(() => undefined), server.exited]);
    await server.stop();
    // Ctrl-C reaches datasette too (same process group), so its own clean exit is a normal stop.
    if (ended === undefined || ctx.signal.aborted || ended.code === 0 || ended.signal === "SIGINT" || ended.signal === "SIGTERM") {
      ctx.log.info("serve", "datasette stopped");
      return 0;
    }
    throw new DatasetteError(`datasette exited unexpectedly (${ended.signal ?? `code ${ended.code}`})`, { hint: "run with --debug to see its output" });
  },
};
