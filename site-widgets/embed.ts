/**
 * Embeds any newsroom can paste: for every chart, a page of its own under static/vigil/embed/ID/
 * (the chart alone with its headline, notes, data table and data link, light and dark) that any
 * site may frame, its oEmbed 1.0 description beside it, and the embed code: an iframe plus
 * static/vigil/embed.js, which sizes each vigil iframe from the height its page posts.
 */
import { oembedSchema, type ChartsManifest } from "../schemas/widgets.ts";
import type { BuiltChart } from "./chart.ts";
import { escapeXml as escape } from "./render-svg.ts";
import { PATHS } from "./site-paths.ts";
import { DEFAULT_LENS, type LensName } from "../schemas/lenses.ts";

/**
 * Where a chart's embed page lives, relative to the site's root: static/vigil/embed/ID/ for COVID-19,
 * static/vigil/embed/LENS/ID/ for another lens, so that one place may be framed anywhere.
 */
export const embedDir = (id: string, lens: LensName = DEFAULT_LENS) => `${PATHS.static}/embed/${embedPath(id, lens)}`;

const embedPath = (id: string, lens: LensName) => (lens === DEFAULT_LENS ? id : `${lens}/${id}`);

/** The height an embed starts at, before its page has said how tall it is. */
const INITIAL_HEIGHT = 520;
/** oEmbed's width: the chart fills what it is given, this is what it was drawn for. */
const WIDTH = 600;

/** How long an oEmbed consumer may keep the description: the site's rebuilt nightly. */
const CACHE_AGE = 86_400;

export interface EmbedContext {
  /**
   * The site's base URL (Hugo's baseURL), ending in "/": the embed code names absolute URLs, so
   * another site can paste it. Without one, "/" (the code then works on the site itself only).
   */
  baseUrl: string;
  manifest: ChartsManifest;
  lens: LensName;
}

/** The HTML to paste: the chart's iframe and the script that sizes it. */
export function embedCode(baseUrl: string, id: string, title: string, lens: LensName = DEFAULT_LENS): string {
  const page = `${baseUrl}vigil/embed/${embedPath(id, lens)}/`;
  const script = `${baseUrl}vigil/embed.js`;
  return (
    `<iframe src="${page}" title="${escape(title)}" data-vigil-embed="${id}" width="100%" height="${INITIAL_HEIGHT}" ` +
    `style="border:0;width:100%;max-width:100%" loading="lazy"></iframe>` +
    `<script src="${script}" async></script>`
  );
}

/** The files of every chart's embed: its page and its oEmbed description. */
export function embedFiles(charts: readonly BuiltChart[], context: EmbedContext, table: (chart: BuiltChart) => string): Array<{ path: string; content: string }> {
  return charts.flatMap((chart) => {
    const { id } = chart.draft;
    const entry = context.manifest.charts[id];
    const oembed = oembedSchema.parse({
      version: "1.0",
      type: "rich",
      html: embedCode(context.baseUrl, id, entry.title, context.lens),
      width: WIDTH,
      height: INITIAL_HEIGHT,
      title: entry.title,
      provider_name: "vigil",
      provider_url: context.baseUrl,
      cache_age: CACHE_AGE,
    });
    return [
      { path: `${embedDir(id, context.lens)}/index.html`, content: embedPage(chart, context, table(chart)) },
      { path: `${embedDir(id, context.lens)}/oembed.json`, content: JSON.stringify(oembed, null, 2) + "\n" },
    ];
  });
}

function embedPage(chart: BuiltChart, { baseUrl, manifest, lens }: EmbedContext, table: string): string {
  const { id } = chart.draft;
  const entry = manifest.charts[id];
  // from the page up to static/vigil/, and from there to the lens's charts
  const up = lens === DEFAULT_LENS ? "../../" : "../../../";
  const files = lens === DEFAULT_LENS ? up : `${up}${lens}/`;
  const oembed = `${baseUrl}vigil/embed/${embedPath(id, lens)}/oembed.json`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escape(entry.title)}</title>
<link rel="icon" href="data:,">
<link rel="alternate" type="application/json+oembed" href="${oembed}" title="${escape(entry.title)}">
<link rel="stylesheet" href="${up}vigil.css">
</head>
<body class="vigil-embed">
<main>
<figure class="vigil-chart" data-vigil-chart="${id}" data-vigil-spec="${files}${entry.spec}" data-vigil-csv="${files}${entry.csv}">
<p class="vigil-chart__headline">${escape(entry.headline)}</p>
<div class="vigil-chart__static"><div class="vigil-chart__wide">${chart.svg}</div><div class="vigil-chart__narrow" hidden>${chart.narrowSvg}</div></div>
<figcaption><span class="vigil-chart__title">${escape(entry.title)}.</span> <span class="vigil-chart__notes">${escape(entry.notes)}</span> Source: <a href="${escape(manifest.source_url)}" target="_blank" rel="noopener">${escape(manifest.source_name)}</a>. ${escape(manifest.data_as_of_text)} <a class="vigil-chart__data" href="${files}${entry.csv}" download>Get the data (CSV)</a>
${table}</figcaption>
</figure>
</main>
<script src="${up}vega.min.js"></script>
<script src="${up}vega-lite.min.js"></script>
<script src="${up}vega-embed.min.js"></script>
<script src="${up}upgrade.js"></script>
<script src="${up}embed-frame.js"></script>
</body>
</html>
`;
}
