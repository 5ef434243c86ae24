/**
 * Plumbing for the datasette tests: installing datasette, fetching from the served database, and the expected answers
 * of the canned queries worked out in TypeScript, apart from the SQL under test.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { DATASETTE_BIN, type DatasetteServer } from "../pipeline/ops/datasette.ts";
import type { RawRow } from "../schemas/source-columns.ts";

/** Tests that need datasette are not skipped when .venv is missing: they install it, as CI's set-up would. */
export function ensureDatasette(root: string): void {
  if (existsSync(DATASETTE_BIN)) return;
  const install = spawnSync("bash", [join(root, "datasette", "install.sh")], { encoding: "utf8" });
  assert.equal(install.status, 0, `datasette/install.sh failed: ${install.stderr}`);
}

/** A row as datasette's JSON gives it; answers are checked by value, so it stays loosely typed. */
export type Row = Record<string, any>;

/** The canned queries users and the site rely on (design.md names the first and the last three). */
export const CANNED_QUERIES = [
  "memorial",
  "daily_deaths",
  "daily_deaths_as_of",
  "by_age_group",
  "by_race_ethnicity",
  "rates",
  "rates_by_age_group",
  "provisional",
  "by_residence_city",
  "by_month",
  "revisions",
  "rejects",
  "last_run",
] as const;

export async function fetchJson(server: DatasetteServer, path: string): Promise<{ status: number; body: Row; text: string }> {
  const response = await fetch(`${server.url}${path}`);
  const text = await response.text();
  let body: Row;
  try {
    body = JSON.parse(text) as Row;
  } catch {
    body = {};
  }
  return { status: response.status, body, text };
}

export interface Day {
  date: string;
  deaths: number;
  deaths_7day_avg: number | null;
  cumulative_deaths: number;
}

/** Deaths per day from the first death to the last, zero-filled, with 7-day average (none before the seventh day) and running total. */
export function expectedDaily(deathDates: string[]): Day[] {
  const counts = new Map<string, number>();
  for (const date of deathDates) counts.set(date, (counts.get(date) ?? 0) + 1);
  const sorted = [...counts.keys()].sort();
  const days: Day[] = [];
  let total = 0;
  for (let t = Date.parse(`${sorted[0]}T00:00:00Z`); t <= Date.parse(`${sorted.at(-1)}T00:00:00Z`); t += 86_400_000) {
    const date = new Date(t).toISOString().slice(0, 10);
    const deaths = counts.get(date) ?? 0;
    total += deaths;
    const week = [...days.slice(-6).map((d) => d.deaths), deaths];
    const avg = week.length < 7 ? null : Math.round((week.reduce((a, b) => a + b, 0) / 7) * 100) / 100;
    days.push({ date, deaths, deaths_7day_avg: avg, cumulative_deaths: total });
  }
  return days;
}

/** Every table and view with its columns, leaving out SQLite's own tables and FTS5's shadow tables. */
export function tableColumns(db: Database.Database): Map<string, string[]> {
  const objects = db.prepare("SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{
    name: string;
    sql: string | null;
  }>;
  const fts = objects.filter((o) => /USING\s+fts\d/i.test(o.sql ?? "")).map((o) => o.name);
  const shadow = new Set(fts.flatMap((name) => ["data", "idx", "docsize", "config", "content"].map((suffix) => `${name}_${suffix}`)));
  const result = new Map<string, string[]>();
  for (const { name } of objects) {
    if (shadow.has(name)) continue;
    result.set(name, db.prepare("SELECT name FROM pragma_table_info(?)").pluck().all(name) as string[]);
  }
  return result;
}

/**
 * The source as a later night sees it: one case on `day` corrected (age 47), one withdrawn, four
 * backdated COVID cases and one non-COVID case added on `day`, and one row that cannot be loaded.
 */
export function nextNight(first: RawRow[], day: string) {
  const onDay = first.filter((row) => String(row.death_date).startsWith(day));
  const [corrected, withdrawn] = onDay;
  const added: RawRow[] = [
    { ":id": "row-test-0001", casenumber: "ME2022-05807", death_date: `${day}T08:10:00.000`, age: "8", gender: "Female", race: "White", latino: false, residence_city: " oak park ", primarycause: "COVID-19 PNEUMONIA", covid_related: true, manner: "NATURAL", incident_street: "100 TEST ST" },
    { ":id": "row-test-0002", casenumber: "ME2022-05808", death_date: `${day}T09:20:00.000`, primarycause: "COMPLICATIONS OF COVID-19", manner: "NATURAL" },
    { ":id": "row-test-0003", casenumber: "ME2022-05809", death_date: `${day}T10:30:00.000`, age: "0", gender: "Male", race: "Black", latino: false, residence_city: "LA GRANGE PARK", primarycause: "COVID-19", covid_related: true, manner: "NATURAL" },
    { ":id": "row-test-0004", casenumber: "ME2022-05810", death_date: `${day}T11:40:00.000`, age: "83", gender: "Male", race: "Asian", latino: false, residence_city: "Chicago", primarycause: "COVID-19 VIRAL PNEUMONIA", covid_related: true, manner: "NATURAL" },
    { ":id": "row-test-0005", casenumber: "ME2020-99001", death_date: `${day}T12:00:00.000`, age: "58", gender: "Male", race: "White", latino: false, residence_city: "EVANSTON", primarycause: "ATHEROSCLEROTIC CARDIOVASCULAR DISEASE", covid_related: false, manner: "NATURAL" },
    { ":id": "row-test-0006", casenumber: "ME2099-00001", death_date: "2099-01-01T00:00:00.000", age: "50", primarycause: "COVID-19", covid_related: true },
  ];
  const second: RawRow[] = [
    ...first.filter((row) => row !== withdrawn).map((row) => (row === corrected ? { ...row, age: "47", ":updated_at": "2026-11-01T00:00:00.000Z" } : row)),
    ...added,
  ];
  return { second, onDay, corrected, withdrawn };
}

export interface Feed {
  id: string;
  self: string;
  updated: string;
  entries: Array<{ id: string; title: string; updated: string; link: string; type: string; content: string }>;
}

/** A feed as a real XML parser reads it (Python's xml.etree, from the standard library). */
export function parseAtom(xml: string): Feed {
  const script = `
import json, sys, xml.etree.ElementTree as ET
ns = {"a": "http://www.w3.org/2005/Atom"}
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "{http://www.w3.org/2005/Atom}feed", root.tag
for required in ("a:id", "a:title", "a:updated"):
    assert root.find(required, ns) is not None, required
def link(e, rel):
    found = [l.get("href") for l in e.findall("a:link", ns) if l.get("rel", "alternate") == rel]
    return found[0] if found else ""
entries = []
for e in root.findall("a:entry", ns):
    content = e.find("a:content", ns)
    entries.append({"id": e.find("a:id", ns).text, "title": e.find("a:title", ns).text, "updated": e.find("a:updated", ns).text,
                    "link": link(e, "alternate"), "type": content.get("type"), "content": content.text or ""})
print(json.dumps({"id": root.find("a:id", ns).text, "self": link(root, "self"), "updated": root.find("a:updated", ns).text, "entries": entries}))
`;
  const parsed = spawnSync("python3", ["-c", script], { input: xml, encoding: "utf8" });
  assert.equal(parsed.status, 0, parsed.stderr);
  return JSON.parse(parsed.stdout) as Feed;
}

/** The items of an entry's HTML list as text, and every link in it. */
export function listItems(html: string): { items: string[]; links: string[] } {
  const items = [...html.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1].replace(/<[^>]+>/g, "").replace(/&amp;/g, "&"));
  const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, "&"));
  return { items, links };
}
