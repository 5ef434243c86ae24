/**
 * The floor under a nightly run: download every page of a view the way `vigil ingest` does
 * (undici, ordered by :id, 50,000 rows a page, system fields) and parse the JSON. No validation,
 * no database. Usage: node --import tsx bench/download-floor.ts PORTAL DATASET
 */
import { request } from "undici";

const [portal, dataset] = process.argv.slice(2);
if (!portal || !dataset) {
  process.stderr.write("usage: node --import tsx bench/download-floor.ts PORTAL DATASET\n");
  process.exit(2);
}
const PAGE = 50_000;
let rows = 0;
for (let offset = 0; ; offset += PAGE) {
  const query = new URLSearchParams({ $select: ":*,*", $order: ":id", $limit: String(PAGE), $offset: String(offset) });
  const response = await request(`${portal}/resource/${dataset}.json?${query}`);
  if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
  const page = (await response.body.json()) as unknown[];
  rows += page.length;
  if (page.length < PAGE) break;
}
process.stdout.write(`${rows} rows\n`);
