/**
 * `vigil widgets --site DIR`: chart bundles, data files and shortcodes for a Hugo site; with
 * `--freeze content/posts/NAME`, a frozen copy of them inside one post.
 */
import { EVENTS_OPTIONS, eventsFlag, LENS_OPTIONS, lensesFlag, RECORDS_OPTIONS, recordsUrlFlag, SITE_OPTIONS, type Command } from "./command.ts";
import { UsageError } from "../errors.ts";
import { freezePost } from "../../site-widgets/freeze.ts";
import { writeWidgets } from "../../site-widgets/emit.ts";

export const command: Command = {
  help: `
Reads the database (read-only) and writes into the Hugo site at DIR:
  static/vigil/ID.svg, ID.vl.json, ID.csv   each chart: static SVG, Vega-Lite spec, the data
  static/vigil/events.csv                    the dated events marked on the time charts
  assets/vigil/ID.svg                        the SVG again, for the shortcode to inline
  static/vigil/*.js, vigil.css               vega bundles and the upgrade script, self-hosted
  data/vigil/summary.json, charts.json       figures, freshness, chart captions
  data/vigil/memorial/YYYY.json              the people who died, one sentence each, by day
  layouts/shortcodes/vigil-*.html            vigil-chart, vigil-memorial, vigil-stat
  layouts/partials/vigil-head.html           add {{ partial "vigil-head.html" . }} to your <head>
  layouts/partials/vigil-lens.html           which files a shortcode's lens="..." reads
Charts: daily-deaths, cumulative-deaths, deaths-by-age-group, deaths-by-race-ethnicity,
deaths-per-100k-by-race-ethnicity (age-adjusted rates against the county's 2020 population
estimates), deaths-by-month. Files are renamed into place; unchanged files are not touched.

With --lens NAME (repeatable, or a comma list; VIGIL_LENSES), the same files for other deaths of
the whole archive (--dataset archive): heat, cold, opioid or gun, the Medical Examiner's own flags.
covid, the default, writes where it always has; another lens writes the same names into
static/vigil/NAME/, assets/vigil/NAME/ and data/vigil/NAME/ (embeds in static/vigil/embed/NAME/),
and the shortcodes take lens="NAME". Each lens's summary.json says which recent days are not final
yet (provisional_from, pending); the time charts shade them. Deaths by suicide are counted in every
chart and never listed on a memorial.

The daily-deaths and cumulative-deaths charts mark dated events that fall within their days
with a dashed line and a label, and name them in their alt text: the built-in ones (the first
confirmed COVID-19 death in the county; 2022-04-01, when the Medical Examiner stopped taking
COVID-19 deaths in hospitals and nursing homes) and the site's own. With --events FILE, the
site's events are those of FILE, a CSV with the columns date,label,source_url (YYYY-MM-DD, a
label of at most 80 characters, an http(s) link; lines starting with # are skipped); without
it, those the last \`vigil run --events\` stored. An event with the date and label of a
built-in one is listed once. A bad file is refused, naming its line, before anything is written.

With --freeze, copies the current widgets into a post's page bundle (POST/vigil/); the
shortcodes on that post then use the copy, so the post never changes.

With --as-of RUN, writes the same files from the record as it stood after run RUN, a
successful run (\`vigil status\` lists them; so does the runs table in datasette): corrections
made since are undone from the correction log, cases added since are left out and cases
withdrawn since are counted again, so every chart, figure and memorial day shows what that run
published, "data as of" included. The dated events drawn on the time charts are today's list
(built-in, --events or the last run's), not the one of that night. The site then shows that
record until the next \`vigil widgets\` or \`vigil run\` writes the current one. --as-of does
not combine with --freeze: to freeze a post as it stood after a run, write the widgets --as-of
that run, --freeze the post, then write the widgets again without --as-of.

Examples:
  vigil widgets --site ~/blog
  vigil widgets --site ~/blog --events ~/blog/vigil-events.csv
  vigil widgets --site ~/blog --lens covid --lens opioid,heat
  vigil widgets --site ~/blog --freeze content/posts/one-year-on
  vigil widgets --site ~/blog --as-of 212`,
  options: {
    ...SITE_OPTIONS,
    ...EVENTS_OPTIONS,
    ...RECORDS_OPTIONS,
    ...LENS_OPTIONS,
    freeze: { type: "string", arg: "POST", description: "copy the current widgets into this post's page bundle (relative to --site)" },
    "source-url": { type: "string", arg: "URL", description: "link under each chart (default: the dataset's page on the portal)" },
    "as-of": { type: "string", arg: "RUN", description: "write the record as it stood after this successful run (runs.id)" },
  },
  async run(ctx) {
    const site = ctx.config.site;
    if (!site) throw new UsageError("--site is required (or set VIGIL_SITE)");
    const freeze = ctx.values.freeze;
    const asOf = parseRunId(ctx.values["as-of"]);
    if (asOf !== undefined && freeze !== undefined) {
      throw new UsageError("--as-of and --freeze go one after the other, not together", {
        hint: "write the widgets with --as-of RUN, then --freeze the post, then write them again without --as-of",
      });
    }
    if (typeof freeze === "string") {
      const result = await freezePost({ site, post: freeze, now: ctx.now, log: ctx.log });
      ctx.stdout.write(`froze ${result.files.length} files into ${result.dir}\n`);
      return;
    }
    const sourceUrl = ctx.values["source-url"];
    if (sourceUrl !== undefined && !(typeof sourceUrl === "string" && /^https?:\/\/\S+$/.test(sourceUrl))) {
      throw new UsageError(`--source-url must be an http(s) URL, got "${String(sourceUrl)}"`);
    }
    const events = eventsFlag(ctx.values)?.events;
    const lenses = lensesFlag(ctx.values);
    const result = await writeWidgets({ db: ctx.config.db, site, now: ctx.now, log: ctx.log, sourceUrl, asOf, events, recordsUrl: recordsUrlFlag(ctx.values), lenses });
    const stood = asOf === undefined ? "" : ` (the record as of run ${asOf})`;
    ctx.stdout.write(`widgets: ${result.written.length} files written, ${result.unchanged} unchanged in ${site}${stood}\n`);
  },
};

/** A --as-of value: a run id, a whole number from 1. */
function parseRunId(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[1-9]\d*$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--as-of must be a run id, a whole number such as 212, got "${String(value)}"`, { hint: "`vigil status` lists the runs" });
  }
  return Number(value);
}
