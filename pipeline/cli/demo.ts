/** `vigil demo`: the whole flow offline against the bundled fixture portal, then serves it. */
import { parsePort, type Command } from "./command.ts";
import { runDemo } from "../ops/demo.ts";

export const command: Command = {
  help: `
Runs the whole flow offline, against the fixture portal bundled with vigil (40,000 generated cases
shaped like the Medical Examiner's case archive: every cause of death, its COVID-19 deaths on the
published curve, the recent cases still pending): ingest into DIR/vigil.db, then ten nights (August
2026) in which open cases close and new deaths arrive, widgets for every lens
(COVID-19, heat, cold, opioid, gun) into DIR/site (a fresh copy of fixtures/hugo-site, so the
repository stays clean, with a post "Every lens"), the public record
published into DIR/public (and the site's static/vigil/data/), the site served by \`hugo server\`
when Hugo is installed, and the database by datasette. Each start begins afresh in DIR, whose
database is always DIR/vigil.db (VIGIL_DB is not used): give it to other commands with --db.

The ports are checked first: one another program holds is refused, naming it, before anything
starts (choose another with --port or --site-port; 0 picks a free one). The URLs are printed once
each server answers; Ctrl-C stops everything.

Examples:
  vigil demo
  vigil demo --port 8002 --site-port 1314
  vigil status --db data/demo/vigil.db
  vigil serve --public --out data/demo/public --port 8002`,
  options: {
    dir: { type: "string", arg: "DIR", description: "folder for the demo's database and site (default data/demo)" },
    port: { type: "string", arg: "N", description: "datasette's port; 0 picks a free one (default 8001)" },
    "site-port": { type: "string", arg: "N", description: "the Hugo site's port; 0 picks a free one (default 1313)" },
  },
  withoutCommon: ["db"],
  async run(ctx) {
    await runDemo({
      dir: typeof ctx.values.dir === "string" ? ctx.values.dir : "data/demo",
      port: parsePort(ctx.values.port),
      sitePort: parsePort(ctx.values["site-port"], 1313),
      log: ctx.log,
      now: ctx.now,
      signal: ctx.signal,
      stdout: ctx.stdout,
    });
    return 0;
  },
};
