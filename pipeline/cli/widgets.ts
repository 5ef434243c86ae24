/**
 * `vigil widgets --site DIR`: chart bundles, data files and shortcodes for a Hugo site; with
 * `--freeze content/posts/NAME`, a frozen copy of them inside one post.
 */
import { SITE_OPTIONS, type Command } from "./command.ts";
import { UsageError } from "../errors.ts";
import { freezePost } from "../../site-widgets/freeze.ts";
import { writeWidgets } from "../../site-widgets/emit.ts";

export const command: Command = {
  help: `
Reads the database (read-only) and writes into the Hugo site at DIR:
  static/vigil/ID.svg, ID.vl.json, ID.csv   each chart: static SVG, Vega-Lite spec, the data
  assets/vigil/ID.svg                        the SVG again, for the shortcode to inline
  static/vigil/*.js, vigil.css               vega bundles and the upgrade script, self-hosted
  data/vigil/summary.json, charts.json       figures, freshness, chart captions
  data/vigil/memorial/YYYY.json              the people who died, one sentence each, by day
  layouts/shortcodes/vigil-*.html            vigil-chart, vigil-memorial, vigil-stat
  layouts/partials/vigil-head.html           add {{ partial "vigil-head.html" . }} to your <head>
Charts: daily-deaths, cumulative-deaths, deaths-by-age-group, deaths-by-race-ethnicity,
deaths-by-month. Files are renamed into place; unchanged files are not touched.

With --freeze, copies the current widgets into a post's page bundle (POST/vigil/); the
shortcodes on that post then use the copy, so the post never changes.

Examples:
  vigil widgets --site ~/blog
  vigil widgets --site ~/blog --freeze content/posts/one-year-on`,
  options: {
    ...SITE_OPTIONS,
    freeze: { type: "string", arg: "POST", description: "copy the current widgets into this post's page bundle (relative to --site)" },
    "source-url": { type: "string", arg: "URL", description: "link under each chart (default: the dataset's page on the portal)" },
  },
  async run(ctx) {
    const site = ctx.config.site;
    if (!site) throw new UsageError("--site is required (or set VIGIL_SITE)");
    const freeze = ctx.values.freeze;
    if (typeof freeze === "string") {
      const result = await freezePost({ site, post: freeze, now: ctx.now, log: ctx.log });
      ctx.stdout.write(`froze ${result.files.length} files into ${result.dir}\n`);
      return;
    }
    const sourceUrl = ctx.values["source-url"];
    if (sourceUrl !== undefined && !(typeof sourceUrl === "string" && /^https?:\/\/\S+$/.test(sourceUrl))) {
      throw new UsageError(`--source-url must be an http(s) URL, got "${String(sourceUrl)}"`);
    }
    const result = await writeWidgets({ db: ctx.config.db, site, now: ctx.now, log: ctx.log, sourceUrl });
    ctx.stdout.write(`widgets: ${result.written.length} files written, ${result.unchanged} unchanged in ${site}\n`);
  },
};
