import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { SOURCE_COLUMNS, type RawRow } from "../schemas/source-columns.ts";
import { archiveRows, COVID_VIEW_SIZE, generateArchive, generateCovidView } from "../fixtures/generate.ts";
import { COVID_VIEW_ID, startPortal, type FixturePortal } from "../fixtures/portal.ts";

const VIEW = COVID_VIEW_ID;
const covidView = generateCovidView();

function endpoint(portal: FixturePortal, path: string, params: Record<string, string | number> = {}): string {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return `${portal.url}${path}${query ? `?${query}` : ""}`;
}

async function getJson(portal: FixturePortal, path: string, params: Record<string, string | number> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(endpoint(portal, path, params));
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function csvRecords(text: string): string[][] {
  return parse(text, { relax_column_count: false }) as string[][];
}

describe("fixture portal: metadata and rows", () => {
  let portal: FixturePortal;
  before(async () => (portal = await startPortal({ datasets: { [VIEW]: covidView } })));
  after(() => portal.close());

  it("serves view metadata with the source columns in position order", async () => {
    const { status, body } = await getJson(portal, `/api/views/${VIEW}.json`);
    assert.equal(status, 200);
    assert.equal(body.id, VIEW);
    assert.match(body.name, /COVID-19/);
    assert.ok(Number.isInteger(body.rowsUpdatedAt) && body.rowsUpdatedAt > 1_580_000_000 && body.rowsUpdatedAt < 2_000_000_000);
    assert.ok(Number.isInteger(body.viewLastModified));
    assert.deepEqual(body.columns.map((c: any) => c.fieldName), SOURCE_COLUMNS.map((c) => c.fieldName));
    assert.deepEqual(body.columns.map((c: any) => c.name), SOURCE_COLUMNS.map((c) => c.name));
    assert.deepEqual(body.columns.map((c: any) => c.position), SOURCE_COLUMNS.map((_, i) => i + 1));
    assert.equal(body.columns.find((c: any) => c.fieldName === "death_date").dataTypeName, "calendar_date");
  });

  it("answers an unknown dataset id with a 404 JSON error", async () => {
    for (const path of ["/api/views/abcd-1234.json", "/resource/abcd-1234.json"]) {
      const { status, body } = await getJson(portal, path);
      assert.equal(status, 404);
      assert.equal(body.error, true);
    }
  });

  it("pages ordered by :id cover every row exactly once", async () => {
    const seen: string[] = [];
    for (let offset = 0; ; offset += 5000) {
      const { body } = await getJson(portal, `/resource/${VIEW}.json`, { $select: ":*,*", $order: ":id", $limit: 5000, $offset: offset });
      seen.push(...body.map((row: RawRow) => row[":id"] as string));
      if (body.length < 5000) break;
    }
    assert.equal(seen.length, COVID_VIEW_SIZE);
    assert.equal(new Set(seen).size, COVID_VIEW_SIZE);
    assert.deepEqual(seen, [...seen].sort());
  });

  it("pages without $order see rows twice or never", async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < COVID_VIEW_SIZE; offset += 5000) {
      const { body } = await getJson(portal, `/resource/${VIEW}.json`, { $limit: 5000, $offset: offset });
      seen.push(...body.map((row: RawRow) => row.casenumber as string));
    }
    assert.equal(seen.length, COVID_VIEW_SIZE);
    assert.ok(new Set(seen).size < COVID_VIEW_SIZE, "an unordered pager should miss rows");
  });

  it("refuses $limit above 50000 like a SODA 2.0 endpoint, and defaults to 1000", async () => {
    const refused = await getJson(portal, `/resource/${VIEW}.json`, { $limit: 50_001 });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, true);
    assert.equal(refused.body.code, "query.execution.queryTooComplex");
    assert.match(refused.body.message, /length must be <= 50000/);
    assert.deepEqual(refused.body.data, {});
    assert.equal((await getJson(portal, `/resource/${VIEW}.json`, { $limit: 50_000, $order: ":id" })).body.length, COVID_VIEW_SIZE);
    assert.equal((await getJson(portal, `/resource/${VIEW}.json`)).body.length, 1000);
  });

  it("returns system fields only when $select asks for :*", async () => {
    const plain = await getJson(portal, `/resource/${VIEW}.json`, { $limit: 20 });
    assert.ok(plain.body.every((row: RawRow) => Object.keys(row).every((key) => !key.startsWith(":"))));
    const withSystem = await getJson(portal, `/resource/${VIEW}.json`, { $select: ":*,*", $limit: 20, $order: ":id" });
    for (const row of withSystem.body) {
      assert.match(row[":id"], /^row-[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}$/);
      assert.match(row[":created_at"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(row[":updated_at"], /Z$/);
    }
  });

  it("sends SODA 2.1 JSON: omitted nulls, numbers as strings, key order varying between rows", async () => {
    const { body } = await getJson(portal, `/resource/${VIEW}.json`, { $limit: 200, $order: ":id" });
    const orders = new Set<string>();
    for (const row of body as RawRow[]) {
      assert.ok(Object.values(row).every((value) => value !== null));
      assert.equal(typeof row.age, "string");
      assert.equal(typeof row.objectid, "string");
      if (row.covid_related !== undefined) assert.equal(typeof row.covid_related, "boolean");
      orders.add(Object.keys(row).filter((key) => key in body[0]).join());
    }
    assert.ok(orders.size > 1);
  });

  it("supports count(*), field lists, AS and a $where range on death_date", async () => {
    assert.deepEqual((await getJson(portal, `/resource/${VIEW}.json`, { $select: "count(*)" })).body, [{ count: String(COVID_VIEW_SIZE) }]);
    const where = "death_date >= '2021-01-01' AND death_date < '2022-01-01'";
    const expected = covidView.filter((row) => (row.death_date as string) >= "2021-01-01" && (row.death_date as string) < "2022-01-01").length;
    const counted = await getJson(portal, `/resource/${VIEW}.json`, { $select: "count(*) AS n", $where: where });
    assert.deepEqual(counted.body, [{ n: String(expected) }]);
    const listed = await getJson(portal, `/resource/${VIEW}.json`, { $select: "casenumber,death_date", $where: where, $order: "death_date DESC", $limit: 3 });
    assert.equal(listed.body.length, 3);
    assert.ok(listed.body.every((row: RawRow) => Object.keys(row).length === 2 && (row.death_date as string) < "2022-01-01"));
    assert.ok(listed.body[0].death_date >= listed.body[2].death_date);
  });

  it("groups by date_trunc_ym and date_trunc_y of death_date, and filters on them, as Socrata does", async () => {
    const byMonth = new Map<string, number>();
    for (const row of covidView) {
      const month = `${(row.death_date as string).slice(0, 7)}-01T00:00:00.000`;
      byMonth.set(month, (byMonth.get(month) ?? 0) + 1);
    }
    const grouped = await getJson(portal, `/resource/${VIEW}.json`, { $select: "date_trunc_ym(death_date) AS month, count(*) AS n", $group: "date_trunc_ym(death_date)", $order: "month", $limit: 50_000 });
    assert.equal(grouped.status, 200, JSON.stringify(grouped.body));
    assert.deepEqual(grouped.body, [...byMonth].sort(([a], [b]) => (a < b ? -1 : 1)).map(([month, n]) => ({ month, n: String(n) })));
    const alias = await getJson(portal, `/resource/${VIEW}.json`, { $select: "date_trunc_ym(death_date) AS month, count(*) AS n", $group: "month", $order: "month", $limit: 50_000 });
    assert.deepEqual(alias.body, grouped.body);
    const years = await getJson(portal, `/resource/${VIEW}.json`, { $select: "date_trunc_y(death_date), count(*)", $group: "date_trunc_y(death_date)" });
    const year2021 = (years.body as RawRow[]).find((row) => row.date_trunc_y_death_date === "2021-01-01T00:00:00.000");
    assert.equal(year2021?.count, String(covidView.filter((row) => (row.death_date as string).startsWith("2021-")).length));
    const [month, n] = [...byMonth].find(([, count]) => count > 1) as [string, number];
    const one = await getJson(portal, `/resource/${VIEW}.json`, { $select: ":id,death_date", $where: `date_trunc_ym(death_date) = '${month}'`, $limit: 50_000 });
    assert.equal(one.body.length, n);
    assert.ok((one.body as RawRow[]).every((row) => (row.death_date as string).startsWith(month.slice(0, 7))));
    const cut = await getJson(portal, `/resource/${VIEW}.json`, { $select: "casenumber, date_trunc_ym(death_date) AS month", $order: ":id", $limit: 1 });
    assert.equal(cut.body[0].month, `${(covidView.find((row) => row.casenumber === cut.body[0].casenumber)?.death_date as string).slice(0, 7)}-01T00:00:00.000`);
    const sums = await getJson(portal, `/resource/${VIEW}.json`, { $select: "count(*) AS n, sum(objectid) AS objectids, date_trunc_ym(death_date) AS month", $group: "date_trunc_ym(death_date)" });
    const summed = (sums.body as RawRow[]).find((row) => row.month === month);
    const inMonth = covidView.filter((row) => (row.death_date as string).startsWith(month.slice(0, 7)));
    assert.deepEqual(summed, { n: String(n), objectids: String(inMonth.reduce((sum, row) => sum + Number(row.objectid), 0)), month });
    assert.equal((await getJson(portal, `/resource/${VIEW}.json`, { $select: "sum(casenumber)" })).status, 400);
    const mismatch = await getJson(portal, `/resource/${VIEW}.json`, { $select: "date_trunc_ym(casenumber) AS m, count(*)", $group: "m" });
    assert.equal(mismatch.status, 400);
    const ungrouped = await getJson(portal, `/resource/${VIEW}.json`, { $select: "date_trunc_ym(death_date) AS m, count(*)", $group: "date_trunc_y(death_date)" });
    assert.equal(ungrouped.status, 400);
  });

  it("groups rows without a death date under an omitted month", async () => {
    const rows = covidView.slice(0, 5).map((row, i) => (i < 2 ? Object.fromEntries(Object.entries(row).filter(([key]) => key !== "death_date")) : row));
    const own = await startPortal({ datasets: { [VIEW]: rows } });
    try {
      const { body } = await getJson(own, `/resource/${VIEW}.json`, { $select: "date_trunc_ym(death_date) AS month, count(*) AS n", $group: "date_trunc_ym(death_date)" });
      const nulls = (body as RawRow[]).filter((row) => !("month" in row));
      assert.deepEqual(nulls, [{ n: "2" }]);
      const none = await getJson(own, `/resource/${VIEW}.json`, { $select: ":id", $where: "death_date IS NULL" });
      assert.equal(none.body.length, 2);
    } finally {
      await own.close();
    }
  });

  it("answers unknown $ parameters and unknown columns with a Socrata-shaped 400", async () => {
    const refused: Record<string, string>[] = [{ $bogus: "1" }, { $select: "nosuchcolumn" }, { $where: "nosuch > 1" }, { $order: "nosuch" }];
    for (const params of refused) {
      const { status, body } = await getJson(portal, `/resource/${VIEW}.json`, params);
      assert.equal(status, 400, JSON.stringify(params));
      assert.equal(body.error, true);
      assert.equal(typeof body.code, "string");
      assert.equal(typeof body.message, "string");
      assert.equal(typeof body.data, "object");
    }
  });

  it("sends Last-Modified, ETag and the X-SODA2 headers, and honours If-None-Match", async () => {
    const url = endpoint(portal, `/resource/${VIEW}.json`, { $select: ":*,*", $limit: 1, $order: ":id" });
    const res = await fetch(url);
    await res.arrayBuffer();
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    assert.ok(!Number.isNaN(Date.parse(res.headers.get("last-modified") ?? "")));
    const etag = res.headers.get("etag");
    assert.ok(etag);
    const fields = JSON.parse(res.headers.get("x-soda2-fields") ?? "null");
    const types = JSON.parse(res.headers.get("x-soda2-types") ?? "null");
    assert.deepEqual(fields.slice(0, 4), [":id", ":created_at", ":updated_at", "casenumber"]);
    assert.equal(fields.length, types.length);
    const again = await fetch(url, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
  });

  it("serves /resource CSV with quoted field-name headers", async () => {
    const res = await fetch(endpoint(portal, `/resource/${VIEW}.csv`, { $order: ":id", $limit: 10 }));
    const text = await res.text();
    assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
    assert.ok(text.startsWith('"casenumber","incident_date","death_date"'));
    const records = csvRecords(text);
    assert.deepEqual(records[0], SOURCE_COLUMNS.map((c) => c.fieldName));
    assert.equal(records.length, 11);
  });

  it("streams the bulk CSV with display-name headers, US dates and every row ordered by :id", async () => {
    const res = await fetch(endpoint(portal, `/api/views/${VIEW}/rows.csv`, { accessType: "DOWNLOAD" }));
    const records = csvRecords(await res.text());
    const [header, ...body] = records;
    assert.deepEqual(header, SOURCE_COLUMNS.map((c) => c.name));
    assert.equal(header.at(-1), "COVID Related");
    assert.equal(body.length, COVID_VIEW_SIZE);
    const byId = [...covidView].sort((a, b) => ((a[":id"] as string) < (b[":id"] as string) ? -1 : 1));
    assert.deepEqual(body.slice(0, 50).map((r) => r[0]), byId.slice(0, 50).map((r) => r.casenumber));
    const col = (name: string): number => header.indexOf(name);
    for (const record of body.slice(0, 500)) {
      assert.match(record[col("Date of Death")], /^(0[1-9]|1[0-2])\/\d\d\/\d{4} (0[1-9]|1[0-2]):[0-5]\d:[0-5]\d [AP]M$/);
      assert.match(record[col("Latino")], /^(true|false|)$/);
      assert.match(record[col("location")], /^(POINT \(-?[\d.]+ -?[\d.]+\))?$/);
    }
    const late = byId.findIndex((row) => /T2[0-3]:/.test(row.death_date as string));
    const [date, time] = (byId[late].death_date as string).split("T");
    const hour = Number(time.slice(0, 2));
    const expected = `${date.slice(5, 7)}/${date.slice(8, 10)}/${date.slice(0, 4)} ${String(hour - 12).padStart(2, "0")}:${time.slice(3, 8)} PM`;
    assert.equal(body[late][col("Date of Death")], expected);
  });

  it("logs requests with their decoded query and headers", async () => {
    const before = portal.requests.length;
    const res = await fetch(endpoint(portal, `/resource/${VIEW}.json`, { $order: ":id", $limit: 1 }), { headers: { "X-App-Token": "test-token" } });
    await res.arrayBuffer();
    const logged = portal.requests[before];
    assert.equal(logged.method, "GET");
    assert.equal(logged.path, `/resource/${VIEW}.json`);
    assert.equal(logged.query.$order, ":id");
    assert.equal(logged.query.$limit, "1");
    assert.equal(logged.headers["x-app-token"], "test-token");
  });
});

describe("fixture portal: data swaps and schema drift", () => {
  let portal: FixturePortal;
  before(async () => (portal = await startPortal({ datasets: { [VIEW]: covidView.slice(0, 100) } })));
  after(() => portal.close());

  it("swaps rows between runs and moves rowsUpdatedAt forward", async () => {
    const first = (await getJson(portal, `/api/views/${VIEW}.json`)).body.rowsUpdatedAt;
    portal.setRows(VIEW, covidView.slice(0, 40));
    const second = (await getJson(portal, `/api/views/${VIEW}.json`)).body.rowsUpdatedAt;
    assert.ok(second > first);
    assert.deepEqual((await getJson(portal, `/resource/${VIEW}.json`, { $select: "count(*)" })).body, [{ count: "40" }]);
    portal.setRows(VIEW, covidView.slice(0, 40), { rowsUpdatedAt: 1_700_000_000 });
    assert.equal((await getJson(portal, `/api/views/${VIEW}.json`)).body.rowsUpdatedAt, 1_700_000_000);
  });

  it("lists extra row keys as new columns and drops columns left out of the override", async () => {
    const drifted = covidView.slice(0, 5).map((row) => ({ ...row, ":@computed_region_abcd_efgh": "14", transportation_status: "DRIVER" }));
    portal.setRows(VIEW, drifted, { columns: SOURCE_COLUMNS.filter((c) => c.fieldName !== "latino") });
    const meta = (await getJson(portal, `/api/views/${VIEW}.json`)).body;
    const fields = meta.columns.map((c: any) => c.fieldName);
    assert.ok(!fields.includes("latino"));
    assert.deepEqual(fields.slice(-2), [":@computed_region_abcd_efgh", "transportation_status"]);
    assert.equal(meta.columns.find((c: any) => c.fieldName === "transportation_status").name, "Transportation Status");
    const rows = (await getJson(portal, `/resource/${VIEW}.json`)).body as RawRow[];
    assert.ok(rows.every((row) => row.latino === undefined && row[":@computed_region_abcd_efgh"] === "14"));
    assert.equal((await getJson(portal, `/resource/${VIEW}.json`, { $where: "latino = true" })).status, 400);
  });
});

describe("fixture portal: faults", () => {
  let portal: FixturePortal;
  const rowsPath = `/resource/${VIEW}.json`;
  before(async () => (portal = await startPortal({ datasets: { [VIEW]: covidView.slice(0, 60) } })));
  after(() => portal.close());

  it("returns a queued status once, with Retry-After, then answers normally", async () => {
    portal.faults.push({ kind: "status", status: 429, retryAfter: 7 });
    const throttled = await fetch(endpoint(portal, rowsPath));
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get("retry-after"), "7");
    assert.equal((await throttled.json()).error, true);
    assert.equal((await fetch(endpoint(portal, rowsPath))).status, 200);
  });

  it("uses queued faults in order", async () => {
    portal.faults.push({ kind: "status", status: 503 }, { kind: "status", status: 500, body: "oops" });
    assert.equal((await fetch(endpoint(portal, rowsPath))).status, 503);
    const second = await fetch(endpoint(portal, rowsPath));
    assert.deepEqual([second.status, await second.text()], [500, "oops"]);
    assert.equal(portal.faults.pending, 0);
  });

  it("answers 202 'Request processing' for a processing fault", async () => {
    portal.faults.push({ kind: "processing" });
    const res = await fetch(endpoint(portal, rowsPath));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { message: "Request processing, retry later" });
  });

  it("resets the connection without a response", async () => {
    portal.faults.push({ kind: "reset" });
    await assert.rejects(fetch(endpoint(portal, rowsPath)));
  });

  it("truncates the body below its Content-Length", async () => {
    portal.faults.push({ kind: "truncate" });
    const res = await fetch(endpoint(portal, rowsPath));
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers.get("content-length")) > 100);
    await assert.rejects(res.text());
  });

  it("serves an HTML error page with status 200", async () => {
    portal.faults.push({ kind: "html" });
    const res = await fetch(endpoint(portal, rowsPath));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await res.text(), /^<!DOCTYPE html>/);
  });

  it("serves unparsable JSON under a JSON content type", async () => {
    portal.faults.push({ kind: "garbage" });
    const res = await fetch(endpoint(portal, rowsPath));
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    await assert.rejects(res.json(), SyntaxError);
  });

  it("delays a slow answer", async () => {
    portal.faults.push({ kind: "slow", delayMs: 150 });
    const started = performance.now();
    const res = await fetch(endpoint(portal, rowsPath));
    assert.equal(res.status, 200);
    assert.ok(performance.now() - started >= 140);
  });

  it("applies a fault only to matching requests", async () => {
    portal.faults.push({ kind: "status", status: 503, path: /\$offset=20\b/ });
    portal.faults.push({ kind: "status", status: 500, match: (target) => target.startsWith("/api/views/") });
    assert.equal((await fetch(endpoint(portal, rowsPath, { $offset: 0 }))).status, 200);
    assert.equal((await fetch(endpoint(portal, rowsPath, { $offset: 20 }))).status, 503);
    assert.equal((await fetch(endpoint(portal, `/api/views/${VIEW}.json`))).status, 500);
    assert.equal(portal.faults.pending, 0);
  });

  it("fails every request with always() until clear()", async () => {
    portal.faults.always({ kind: "status", status: 503 });
    for (let i = 0; i < 3; i++) assert.equal((await fetch(endpoint(portal, rowsPath))).status, 503);
    portal.faults.clear();
    assert.equal((await fetch(endpoint(portal, rowsPath))).status, 200);
  });

  it("hangs until the client gives up, and close() still returns promptly", async () => {
    const own = await startPortal({ datasets: { [VIEW]: covidView.slice(0, 5) } });
    own.faults.push({ kind: "hang" }, { kind: "hang" });
    await assert.rejects(fetch(endpoint(own, rowsPath), { signal: AbortSignal.timeout(200) }));
    const pending = fetch(endpoint(own, rowsPath)).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    await own.close();
    assert.ok(performance.now() - started < 1000);
    assert.ok((await pending) instanceof Error);
  });
});

describe("generator", () => {
  const dates = covidView.map((row) => (row.death_date as string).slice(0, 10));
  const through = (date: string): number => dates.filter((d) => d <= date).length;
  const share = (test: (row: RawRow) => boolean): number => (100 * covidView.filter(test).length) / covidView.length;

  it("is deterministic for a seed", () => {
    assert.deepEqual(generateCovidView({ seed: 7, count: 2000 }), generateCovidView({ seed: 7, count: 2000 }));
    assert.notDeepEqual(generateCovidView({ seed: 7, count: 200 }), generateCovidView({ seed: 8, count: 200 }));
  });

  it("produces raw rows ordered by :id with unique case numbers", () => {
    assert.equal(covidView.length, COVID_VIEW_SIZE);
    const ids = covidView.map((row) => row[":id"] as string);
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(new Set(covidView.map((row) => row.casenumber)).size, COVID_VIEW_SIZE);
    for (const row of covidView) {
      assert.match(row.casenumber as string, /^ME20(20|21|22|23)-\d{5}$/);
      assert.ok(Object.values(row).every((value) => value !== null && value !== undefined));
      const causes = ["primarycause", "primarycause_linea", "primarycause_lineb", "primarycause_linec", "secondarycause"].map((k) => row[k] ?? "").join(" ");
      assert.match(causes, /covid/i);
    }
    assert.equal(dates.reduce((a, b) => (a < b ? a : b)), "2020-03-16");
    assert.equal(dates.reduce((a, b) => (a > b ? a : b)) <= "2022-03-31", true);
  });

  it("keeps the source's quirks: backdated cases, midnight and 23:45 times, missing milliseconds", () => {
    assert.ok(covidView.some((row) => Number((row.casenumber as string).slice(2, 6)) > Number((row.death_date as string).slice(0, 4))));
    assert.ok(covidView.some((row) => (row.death_date as string).endsWith("T00:00:00.000")));
    assert.ok(covidView.some((row) => (row.death_date as string).includes("T23:45:")));
    assert.ok(covidView.some((row) => (row.death_date as string).includes("T00:15:")));
    assert.ok(covidView.some((row) => (row.death_date as string).length === 19));
    assert.ok(covidView.some((row) => (row.incident_zip as string | undefined)?.includes("-")));
    assert.equal(Math.max(...covidView.map((row) => Number(row.age))), 109);
    assert.ok(covidView.some((row) => row.age === "0"));
  });

  it("lands within 10% of the published cumulative counts", () => {
    for (const [date, published] of [["2020-05-01", 1733], ["2021-03-31", 10_000], ["2022-01-21", 14_000]] as const) {
      const actual = through(date);
      assert.ok(Math.abs(actual - published) / published <= 0.1, `${actual} deaths through ${date}, published ${published}`);
    }
  });

  it("matches the published demographic shares within a few points", () => {
    const near = (actual: number, expected: number, label: string): void => assert.ok(Math.abs(actual - expected) <= 3, `${label}: ${actual.toFixed(1)}% vs ${expected}%`);
    near(share((r) => r.latino === true), 20, "Latino");
    near(share((r) => r.latino !== true && r.race === "White"), 43.5, "White");
    near(share((r) => r.latino !== true && r.race === "Black"), 30, "Black");
    near(share((r) => r.latino !== true && r.race === "Asian"), 3.7, "Asian");
    near(share((r) => r.gender === "Male"), 57, "male");
    near(share((r) => Number(r.age) >= 80), 37, "80+");
    near(share((r) => Number(r.age) >= 70 && Number(r.age) < 80), 25, "70-79");
    near(share((r) => Number(r.age) >= 60 && Number(r.age) < 70), 20, "60-69");
    near(share((r) => Number(r.age) >= 50 && Number(r.age) < 60), 10, "50-59");
  });

  it("streams an archive of every cause, ordered by :id", () => {
    const archive = generateArchive({ seed: 3, count: 5000 });
    assert.equal(archive.length, 5000);
    const ids = archive.map((row) => row[":id"] as string);
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(new Set(archive.map((row) => row.casenumber)).size, 5000);
    assert.ok(archive.some((row) => row.opioids === true));
    assert.ok(archive.some((row) => row.gunrelated === true && row.manner === "HOMICIDE"));
    assert.ok(archive.some((row) => row.covid_related === true));
    assert.ok((archive[0].casenumber as string).startsWith("ME2014-"));
    let streamed = 0;
    for (const row of archiveRows({ seed: 3, count: 5000 })) assert.deepEqual(row, archive[streamed++]);
    assert.equal(streamed, 5000);
  });
});

describe("edge-case rows", () => {
  const dir = new URL("../fixtures/rows/", import.meta.url);
  const files = readdirSync(dir).filter((name) => name.endsWith(".json"));
  const readme = readFileSync(new URL("README.md", dir), "utf8");

  it("holds one to three raw rows per file, nulls omitted", () => {
    for (const name of files) {
      const rows = JSON.parse(readFileSync(new URL(name, dir), "utf8")) as RawRow[];
      assert.ok(Array.isArray(rows) && rows.length >= 1 && rows.length <= 3, name);
      for (const row of rows) assert.ok(Object.values(row).every((value) => value !== null), name);
    }
  });

  it("documents every file in the README, and only files that exist", () => {
    for (const name of files) assert.ok(readme.includes(`\`${name}\``), `${name} missing from fixtures/rows/README.md`);
    const listed = [...readme.matchAll(/`([\w-]+\.json)`/g)].map((m) => m[1]);
    for (const name of listed) assert.ok(files.includes(name), `README lists ${name}, which does not exist`);
  });
});
