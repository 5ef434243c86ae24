/**
 * The Socrata source: view metadata, then rows (every one, or those a `$where` picks) or just the
 * list of row ids, paged with a fixed size and always ordered by `:id` (unordered paging
 * duplicates and drops rows).
 */
import { isComputedRegion, KNOWN_FIELDS, OPTIONAL_SOURCE_COLUMNS, SOURCE_COLUMNS, type Drift, type RawRow } from "../../schemas/source-columns.ts";
import { viewMetadataSchema, type ViewMetadata } from "../../schemas/view-metadata.ts";
import { SourceFormatError } from "../errors.ts";
import type { Advice, HttpClient } from "./http.ts";

/** Rows per page: the SODA 2.0 ceiling, so the same code works against either endpoint version. */
export const PAGE_SIZE = 50_000;

/** What to do when the portal fails a request: every URL here is built from --portal and --dataset. */
export const PORTAL_ADVICE: Advice = {
  status(status) {
    if (status === 401 || status === 403) return "check SOCRATA_APP_TOKEN, or unset it to use the shared pool";
    if (status === 404) return "check --dataset and --portal";
    if (status === 429) return "the portal is throttling; set SOCRATA_APP_TOKEN for a pool of your own";
    return undefined;
  },
  unreachable: "check --portal and the network",
};

export class SocrataSource {
  constructor(
    private readonly http: HttpClient,
    readonly portal: string,
    readonly dataset: string,
    private readonly pageSize = PAGE_SIZE,
  ) {}

  async metadata(): Promise<ViewMetadata> {
    const url = `${this.portal}/api/views/${this.dataset}.json`;
    const { body } = await this.http.getJson(url, PORTAL_ADVICE);
    const parsed = viewMetadataSchema.safeParse(body);
    if (!parsed.success) {
      throw new SourceFormatError(`${url} is not Socrata view metadata: ${parsed.error.issues[0].path.join(".")} ${parsed.error.issues[0].message}`);
    }
    return parsed.data;
  }

  resourceUrl(params: Record<string, string>, format: "json" | "csv" = "json"): string {
    return `${this.portal}/resource/${this.dataset}.${format}?${new URLSearchParams(params)}`;
  }

  async count(): Promise<number> {
    const { body } = await this.http.getJson<Array<Record<string, string>>>(this.resourceUrl({ $select: "count(*) AS n" }), PORTAL_ADVICE);
    const n = Number(body?.[0]?.n);
    if (!Number.isInteger(n)) throw new SourceFormatError(`the portal's row count is unreadable: ${JSON.stringify(body).slice(0, 100)}`);
    return n;
  }

  /** Every row, a page at a time; with `where`, only the rows it matches. */
  pages(where?: string): AsyncGenerator<RawRow[]> {
    return this.paged(where === undefined ? { $select: ":*,*" } : { $select: ":*,*", $where: where });
  }

  /**
   * How many rows the source holds by month of death, from one grouped query: "YYYY-MM" keys, and
   * null for the rows without a death date (the portal leaves the month out of their group). With
   * `objectids`, each month's sum of `objectid` besides (null when no row of it has one).
   */
  async monthCounts(options: { objectids: boolean }): Promise<Map<string | null, MonthCount>> {
    const select = `count(*) AS n, ${options.objectids ? "sum(objectid) AS objectids, " : ""}date_trunc_ym(death_date) AS month`;
    const url = this.resourceUrl({ $select: select, $group: "date_trunc_ym(death_date)", $limit: String(this.pageSize) });
    const { body } = await this.http.getJson<Array<Record<string, unknown>>>(url, PORTAL_ADVICE);
    if (!Array.isArray(body) || body.length >= this.pageSize) throw new SourceFormatError(`the portal's counts by month are unreadable: ${JSON.stringify(body).slice(0, 100)}`);
    const counts = new Map<string | null, MonthCount>();
    for (const row of body) {
      const n = Number(row?.n);
      const objectids = row?.objectids === undefined || row.objectids === null ? null : Number(row.objectids);
      if (!Number.isInteger(n) || n < 0 || (objectids !== null && !Number.isFinite(objectids))) {
        throw new SourceFormatError(`the portal's counts by month are unreadable: ${JSON.stringify(row).slice(0, 100)}`);
      }
      // "2020-07-01T00:00:00.000" as "2020-07"; a key of another shape is left for the caller to distrust
      const month = row.month === undefined || row.month === null ? null : String(row.month).slice(0, 7);
      const earlier = counts.get(month);
      counts.set(month, earlier ? { n: earlier.n + n, objectids: (earlier.objectids ?? 0) + (objectids ?? 0) } : { n, objectids });
    }
    return counts;
  }

  /**
   * Each row's `:id` and case number and nothing else: what the source holds, at a fraction of the
   * bytes; with `where`, only the rows it matches; with `fields`, their month of death and objectid too.
   */
  async listed(where?: string, fields: ReadonlyArray<"death_date" | "objectid"> = []): Promise<ListedRow[]> {
    const rows: ListedRow[] = [];
    const select = [":id", "casenumber", ...fields].join(",");
    for await (const page of this.paged(where === undefined ? { $select: select } : { $select: select, $where: where })) {
      for (const row of page) {
        if (typeof row[":id"] !== "string") throw new SourceFormatError(`the portal listed a row without an :id: ${JSON.stringify(row).slice(0, 100)}`);
        const listed: ListedRow = { id: row[":id"], casenumber: typeof row.casenumber === "string" ? row.casenumber : null };
        if (fields.includes("death_date")) listed.month = typeof row.death_date === "string" ? row.death_date.slice(0, 7) : null;
        if (fields.includes("objectid")) listed.objectid = numberOrNull(row.objectid);
        rows.push(listed);
      }
    }
    return rows;
  }

  private async *paged(params: Record<string, string>): AsyncGenerator<RawRow[]> {
    for (let offset = 0; ; offset += this.pageSize) {
      const url = this.resourceUrl({ ...params, $order: ":id", $limit: String(this.pageSize), $offset: String(offset) });
      const { body } = await this.http.getJson(url, PORTAL_ADVICE);
      // Only the page's shape is checked here: each row is validated on its own later, and a
      // zod pass over 50,000 records just to see that they are objects costs more than the fetch.
      if (!Array.isArray(body) || !body.every(isRow)) throw new SourceFormatError(`${url} did not return an array of rows`);
      yield body as RawRow[];
      if (body.length < this.pageSize) return;
    }
  }
}

/**
 * Columns the portal describes or the rows carry that vigil does not know (computed regions
 * aside), and known columns the portal no longer describes.
 */
export function detectDrift(metadata: ViewMetadata, rowKeys: Iterable<string>): Drift {
  const described = new Set(metadata.columns.map((c) => c.fieldName));
  const unknown = new Set<string>();
  for (const name of [...described, ...rowKeys]) if (!KNOWN_FIELDS.has(name) && !isComputedRegion(name)) unknown.add(name);
  const optional = new Set(OPTIONAL_SOURCE_COLUMNS.map((c) => c.fieldName));
  const missing = SOURCE_COLUMNS.map((c) => c.fieldName).filter((f) => !described.has(f) && !optional.has(f));
  return { unknown: [...unknown].sort(), missing };
}

/** A month's rows as `monthCounts()` gives them. */
export interface MonthCount {
  n: number;
  /** The sum of the rows' `objectid`, null when none has one or it was not asked for. */
  objectids: number | null;
}

/** A row as `listed()` gives it. */
export interface ListedRow {
  id: string;
  casenumber: string | null;
  /** "YYYY-MM" of its death date (null without one), when asked for. */
  month?: string | null;
  /** Its objectid (null without one), when asked for. */
  objectid?: number | null;
}

/** A number column's value as a number, or null when absent or not a number. */
export function numberOrNull(value: unknown): number | null {
  if (value === undefined || value === null || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The view's columns (name and type, in name order) as one string, to tell whether they changed. */
export function columnsSignature(metadata: ViewMetadata): string {
  return JSON.stringify(metadata.columns.map((c) => [c.fieldName, c.dataTypeName]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `rowsUpdatedAt` (epoch seconds) as an ISO timestamp. */
export function rowsUpdatedAt(metadata: ViewMetadata): string | null {
  return metadata.rowsUpdatedAt === undefined ? null : new Date(metadata.rowsUpdatedAt * 1000).toISOString();
}

function isRow(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
