/** `vigil backfill`: bulk load from the portal's CSV export, or from a local export with --file. */
import { LIMIT_OPTIONS, parseLimits, SOURCE_OPTIONS, type Command } from "./command.ts";
import { summaryLine } from "./ingest.ts";
import { backfill } from "../backfill/backfill.ts";
import { progressBar, progressLog } from "../progress.ts";
import { DEFAULT_LENS, LENS_NAMES } from "../../schemas/lenses.ts";

export const command: Command = {
  help: `
Loads history in bulk from the portal's CSV export (/api/views/<id>/rows.csv), or from a CSV export
on disk with --file (display-name or field-name headers; a byte-order mark, CRLF line ends and
quoted commas or line breaks are fine). Rows go through the same validation as \`vigil ingest\`:
rejects are kept with their reasons and line, corrections become revisions, and the run is recorded.

A backfill commits as it goes. If it is stopped or killed, run the same command again: it resumes
where the last commit ended and finishes exactly as an uninterrupted run would have. --restart
starts over instead. A first load of a --file into a database that does not exist yet is the one
exception: it is written to a new file, faster, and put in place only once complete, so a stopped
or killed one leaves no database, and the same command loads the file again from the start.

Only a complete download of a dataset marks cases missing from it as removed; a file or a
--since/--until range never does.

The full Medical Examiner archive (--dataset cjeq-bs86, every cause of death) loads the same way;
COVID relatedness then comes from its COVID Related flag or, where that is empty, from "covid" in
a cause field. Charts show COVID-19 deaths unless \`vigil widgets --lens\` asks for another lens
(${LENS_NAMES.filter((lens) => lens !== DEFAULT_LENS).join(", ")}); datasette has a view for each lens, and its queries take a lens.

Examples:
  vigil backfill
  vigil backfill --file ~/Downloads/Medical_Examiner_Case_Archive.csv --dataset cjeq-bs86
  vigil backfill --since 2021-01-01 --until 2021-12-31`,
  options: {
    ...SOURCE_OPTIONS,
    file: { type: "string", arg: "PATH", description: "load this CSV export instead of downloading one" },
    since: { type: "string", arg: "DATE", description: "only deaths on or after DATE (YYYY-MM-DD, Chicago time)" },
    until: { type: "string", arg: "DATE", description: "only deaths on or before DATE (YYYY-MM-DD, Chicago time)" },
    restart: { type: "boolean", description: "start over instead of resuming an interrupted backfill" },
    ...LIMIT_OPTIONS,
  },
  async run(ctx) {
    const str = (key: string) => (typeof ctx.values[key] === "string" ? (ctx.values[key] as string) : undefined);
    const result = await backfill({
      config: ctx.config,
      log: ctx.log,
      now: ctx.now,
      signal: ctx.signal,
      file: str("file"),
      since: str("since"),
      until: str("until"),
      restart: ctx.values.restart === true,
      limits: parseLimits(ctx.values),
      progress: ctx.stderr.isTTY ? progressBar(ctx.stderr) : progressLog(ctx.log),
    });
    const extra = [result.outside ? `${result.outside} outside the dates` : "", result.resumedAt ? `resumed at line ${result.resumedAt}` : ""].filter(Boolean);
    ctx.stdout.write(`${summaryLine(result)}${extra.length ? `, ${extra.join(", ")}` : ""}\n`);
  },
};
