/**
 * Static SVGs, rendered in Node with Observable Plot on a linkedom document. Plot and linkedom
 * are imported here only, and only when rendering, so commands that never draw stay fast.
 *
 * Each SVG is made to stand alone and to be inlined in a page: `xmlns`, `role="img"`, an
 * `aria-label`, `<title>` and `<desc>` carrying the takeaway, a `viewBox` that scales, colors from
 * its own stylesheet (light and dark) and text in `currentColor`. It has no ids, so the same
 * chart can appear twice on a page.
 */
import type { ChartDraft, SvgSize } from "./chart.ts";
import { SVG_SIZE, svgStyle } from "./chart.ts";
import { InternalError } from "../pipeline/errors.ts";

let libraries: Promise<{ Plot: typeof import("@observablehq/plot"); document: Document }> | undefined;

function load() {
  libraries ??= (async () => {
    const [Plot, { parseHTML }] = await Promise.all([import("@observablehq/plot"), import("linkedom")]);
    const { document } = parseHTML("<!doctype html><html><head></head><body></body></html>");
    return { Plot, document: document as unknown as Document };
  })();
  return libraries;
}

/** The chart as a static SVG of `size`: the wide one by default, SVG_NARROW for phones. */
export async function renderSvg(chart: ChartDraft, size: SvgSize = SVG_SIZE): Promise<string> {
  const { Plot, document } = await load();
  const svg = Plot.plot({ ...chart.plot(Plot, size), document, className: `vigil-${chart.id}` }) as Element;
  if (svg.tagName.toLowerCase() !== "svg") throw new InternalError(`chart ${chart.id} rendered a <${svg.tagName.toLowerCase()}>, not an <svg>: Plot adds a figure for titles and legends`);
  roundAttributes(svg);
  svg.setAttribute("class", `vigil-svg vigil-${chart.id}`);
  svg.setAttribute("font-size", String(size.fontSize));
  const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
  title.textContent = chart.title;
  const desc = document.createElementNS("http://www.w3.org/2000/svg", "desc");
  desc.textContent = chart.description;
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = svgStyle();
  svg.prepend(title, desc, style);
  const attributes: Array<[string, string]> = [
    ["xmlns", "http://www.w3.org/2000/svg"],
    ["role", "img"],
    ["aria-label", chart.description],
    ...svg.getAttributeNames().map((name) => [name, svg.getAttribute(name)!] as [string, string]),
  ];
  return `<svg ${orderAttributes(attributes)}>${svg.innerHTML}</svg>\n`;
}

/**
 * Text and double-quoted attribute values escaped for XML and HTML: linkedom leaves `<` and `&`
 * unescaped in attribute values, which a standalone SVG forbids; the embed pages use it too.
 */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Coordinates to two decimals: smaller files, and output that does not shift with the last bits
 * of floating-point arithmetic between library versions.
 */
function roundAttributes(root: Element): void {
  const round = (text: string) => text.replace(/-?\d+\.\d{3,}/g, (n) => String(Math.round(Number(n) * 100) / 100));
  for (const el of [root, ...root.querySelectorAll("*")]) {
    for (const name of el.getAttributeNames()) {
      if (name.startsWith("aria-")) continue;
      const value = el.getAttribute(name)!;
      const rounded = round(value);
      if (rounded !== value) el.setAttribute(name, rounded);
    }
  }
}

/**
 * The root's attributes in a fixed order, the ones a reader of the file looks for first
 * (linkedom would write them newest first).
 */
function orderAttributes(attributes: Array<[string, string]>): string {
  const first = ["xmlns", "class", "role", "aria-label", "viewBox", "width", "height"];
  attributes.sort(([a], [b]) => rank(first, a) - rank(first, b) || a.localeCompare(b));
  return attributes.map(([k, v]) => `${k}="${escapeXml(v)}"`).join(" ");
}

function rank(order: string[], name: string): number {
  const i = order.indexOf(name);
  return i === -1 ? order.length : i;
}
