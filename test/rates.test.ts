/**
 * Death rates per 100,000 residents against a hand computation: a dozen cases, one edge each, and
 * the shipped population tables. The expected figures are written out below as arithmetic on the
 * fixture's counts and the population file's rows (pipeline/store/reference/population/), never
 * taken from the code under test. The rates are made once (pipeline/store/figures/rates.sql) as text
 * with 2 decimals: each must be the hand figure rounded to 2 decimals, and the chart's CSV, the
 * summary, its stats and datasette's `rates` query (run here in process, on the private database
 * and on its public projection) must print the very same strings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { loadMetadata } from "../datasette/metadata.ts";
import { openDatabase } from "../pipeline/store/db.ts";
import { writeProjection } from "../pipeline/publish/projection.ts";
import { parseHTML } from "linkedom";
import { CHARTS } from "../site-widgets/chart-registry.ts";
import { buildChart } from "../site-widgets/site-plan.ts";
import { buildSummary } from "../site-widgets/summary.ts";
import { memorialYears } from "../site-widgets/memorial.ts";
import { readWidgetData, type WidgetData } from "../site-widgets/read.ts";
import { tempDir } from "./helpers.ts";
import { covidRow, syncRows } from "./widgets-db.ts";
import type { RawRow } from "../schemas/source-columns.ts";

let serial = 0;
/** `count` people of one race and age (undefined: not recorded), each a case of their own. */
const people = (count: number, race: string | undefined, age: number | undefined, latino = false): RawRow[] =>
  Array.from({ length: count }, () =>
    covidRow(`ME2020-8${String(++serial).padStart(4, "0")}`, "2020-04-10", { ...(race && { race }), ...(age !== undefined && { age: String(age) }), latino }),
  );

/** Who died, and why each is here. */
const PEOPLE: RawRow[] = [
  ...people(120, "Black", 78), // 75-84
  ...people(80, "Black", 84), // 75-84, its oldest age
  ...people(50, "Black", 40), // 35-44
  ...people(7, "Black", undefined), // age unknown: crude rate only
  ...people(90, "White", 85), // 85+, its youngest age
  ...people(10, "White", 102), // 85+
  ...people(15, "White", 4, true), // Latino whatever the race; 1-4 is rated in 0-4
  ...people(5, "Black", 0, true), // Latino; under 1 is rated in 0-4 too
  ...people(60, "Asian", 60, true), // Latino, 55-64
  ...people(12, "Am. Indian", 70), // rated with Other, 65-74
  ...people(5, "Other", 15), // 15-24, its youngest age
  ...people(9, undefined, 50), // race unknown: counted, never rated; in all residents, 45-54
];
const WITHDRAWN = people(1, "Black", 60)[0];
const NOT_COVID: RawRow = { casenumber: "ME2020-79999", death_date: "2020-04-10T12:00:00.000", age: "60", race: "Black", latino: false, primarycause: "HEART DISEASE", covid_related: false };

// Weights of the 2000 U.S. standard population (NCHS), by the age groups of the county's estimates.
const W = {
  "0-4": 0.013818 + 0.055317, // under 1 + 1-4
  "15-24": 0.138646,
  "35-44": 0.162613,
  "45-54": 0.134834,
  "55-64": 0.087247,
  "65-74": 0.066037,
  "75-84": 0.044842,
  "85+": 0.015508,
};

// Residents, from cook-county-2020.csv: female and male of each 5-year group, summed by hand.
const BLACK = 1_193_642;
const WHITE = 2_180_074;
const LATINO = 1_323_017; // hispanic
const OTHER = 84_757;
const ASIAN = 399_003;
const EVERYONE = 5_180_493;
const black75to84 = 19735 + 11932 + 14023 + 7656;
const black35to44 = 41412 + 32976 + 38352 + 30272;
const white85 = 45109 + 22293;
const latino0to4 = 51550 + 53599;
const latino55to64 = 29734 + 30912 + 24597 + 24613;
const other65to74 = 1037 + 841 + 731 + 562;
const other15to24 = 3512 + 3689 + 3563 + 3431;
const asian0to4 = 10350 + 10801;
// every resident of an age group: asian, black, hispanic, other, white
const all0to4 = 10350 + 10801 + (36024 + 37223) + (51550 + 53599) + (5266 + 5647) + (51958 + 54808);
const all15to24 = 9601 + 9648 + 13417 + 12782 + (39267 + 38914 + 43384 + 41152) + (54701 + 56004 + 51752 + 52437) + (3512 + 3689 + 3563 + 3431) + (46478 + 47574 + 56705 + 56141);
const all35to44 = 18228 + 17320 + 15781 + 14081 + (41412 + 32976 + 38352 + 30272) + (49000 + 53092 + 46915 + 50555) + (2596 + 2530 + 2080 + 1893) + (76329 + 79014 + 62666 + 66397);
const all45to54 = 14675 + 13033 + 11912 + 10715 + (43038 + 32953 + 42820 + 34030) + (42412 + 45646 + 34952 + 37857) + (1932 + 1705 + 1740 + 1527) + (65453 + 67781 + 72186 + 73215);
const all55to64 = 11303 + 9436 + 11696 + 9454 + (46499 + 37056 + 43172 + 32057) + (29734 + 30912 + 24597 + 24613) + (1538 + 1391 + 1276 + 1195) + (82790 + 81005 + 81722 + 77503);
const all65to74 = 10299 + 8504 + 7835 + 6493 + (34980 + 23594 + 25790 + 17096) + (17902 + 17087 + 12957 + 11235) + (1037 + 841 + 731 + 562) + (69836 + 63130 + 55728 + 46979);
const all75to84 = 5312 + 4234 + 3353 + 2596 + (19735 + 11932 + 14023 + 7656) + (8426 + 6513 + 5776 + 4191) + (551 + 368 + 345 + 229) + (42187 + 31393 + 31414 + 20951);
const all85 = 3474 + 1921 + (14671 + 6377) + (6060 + 3808) + (446 + 207) + (45109 + 22293);

const OTHER_LABEL = "Other (incl. American Indian)";

/** race_ethnicity → [deaths, population, crude, age-adjusted, deaths of unknown age], per 100,000. */
const EXPECTED: Record<string, [number, number | null, number | null, number | null, number]> = {
  Black: [257, BLACK, (257 / BLACK) * 1e5, ((120 + 80) / black75to84) * 1e5 * W["75-84"] + (50 / black35to44) * 1e5 * W["35-44"], 7],
  White: [100, WHITE, (100 / WHITE) * 1e5, ((90 + 10) / white85) * 1e5 * W["85+"], 0],
  Latino: [80, LATINO, (80 / LATINO) * 1e5, ((15 + 5) / latino0to4) * 1e5 * W["0-4"] + (60 / latino55to64) * 1e5 * W["55-64"], 0],
  [OTHER_LABEL]: [17, OTHER, (17 / OTHER) * 1e5, (12 / other65to74) * 1e5 * W["65-74"] + (5 / other15to24) * 1e5 * W["15-24"], 0],
  Asian: [0, ASIAN, 0, 0, 0],
  Unknown: [9, null, null, null, 0],
};
const ALL: [number, number, number, number, number] = [
  257 + 100 + 80 + 17 + 9,
  EVERYONE,
  ((257 + 100 + 80 + 17 + 9) / EVERYONE) * 1e5,
  ((15 + 5) / all0to4) * 1e5 * W["0-4"] +
    (5 / all15to24) * 1e5 * W["15-24"] +
    (50 / all35to44) * 1e5 * W["35-44"] +
    (9 / all45to54) * 1e5 * W["45-54"] +
    (60 / all55to64) * 1e5 * W["55-64"] +
    (12 / all65to74) * 1e5 * W["65-74"] +
    ((120 + 80) / all75to84) * 1e5 * W["75-84"] +
    ((90 + 10) / all85) * 1e5 * W["85+"],
  7,
];
/** Crude rates of some age groups: [race_ethnicity, age group, deaths, population]. */
const BY_AGE: Array<[string, string, number, number]> = [
  ["All residents", "75-84", 200, all75to84],
  ["All residents", "45-54", 9, all45to54],
  ["All residents", "5-14", 0, 9925 + 10453 + 9627 + 9904 + (36685 + 37723 + 37960 + 38146) + (54341 + 56490 + 57840 + 60305) + (4706 + 5006 + 4166 + 4544) + (46596 + 48451 + 45115 + 46982)],
  ["Black", "75-84", 200, black75to84],
  ["Latino", "0-4", 20, latino0to4],
  ["Latino", "55-64", 60, latino55to64],
  ["Asian", "0-4", 0, asian0to4],
];

type Figures = {
  race_ethnicity: string;
  deaths: number;
  population: number | null;
  crude_per_100k: string | null;
  age_adjusted_per_100k: string | null;
  reliable?: string | null;
  deaths_unknown_age?: number;
};

/** NCHS's rule: no rate under 10 deaths, an unreliable one under 20. */
const rated = (deaths: number) => deaths >= 10;
const reliability = (deaths: number, population: number | null) => (population === null ? null : deaths >= 20 ? "true" : "false");

/** `got` is `want` per 100,000 to 2 decimals: "312.40" for 312.4049, never "312.41" nor "312.4". */
function assertRate(got: string | null, want: number, what: string): void {
  assert.ok(got !== null && /^\d+\.\d{2}$/.test(got), `${what}: ${got} is not a rate with 2 decimals`);
  assert.ok(Math.abs(Number(got) - want) <= 0.005 + 1e-9, `${what}: ${got}, by hand ${want}`);
}

function assertFigures(actual: Figures, expected: (typeof EXPECTED)[string], where: string): void {
  const [deaths, population, crude, adjusted, unknownAge] = expected;
  const what = `${where}: ${actual.race_ethnicity}`;
  assert.equal(actual.deaths, deaths, `${what} deaths`);
  assert.equal(actual.population, population, `${what} population`);
  for (const [name, got, want] of [["crude", actual.crude_per_100k, crude], ["age-adjusted", actual.age_adjusted_per_100k, adjusted]] as const) {
    if (want === null || !rated(deaths)) assert.equal(got, null, `${what} ${name}: no rate`);
    else assertRate(got, want, `${what} ${name}`);
  }
  if (actual.reliable !== undefined) assert.equal(actual.reliable, reliability(deaths, population), `${what} reliable`);
  if (actual.deaths_unknown_age !== undefined) assert.equal(actual.deaths_unknown_age, unknownAge, `${what} deaths of unknown age`);
}

/** The published figures of a group, as one line to compare digit for digit. */
const printed = (r: Figures) => [r.race_ethnicity, r.deaths, r.population, r.crude_per_100k, r.age_adjusted_per_100k, r.reliable].join("|");

function fixture(t: Parameters<typeof tempDir>[0]): { path: string; data: WidgetData } {
  const path = join(tempDir(t), "vigil.db");
  syncRows(path, [...PEOPLE, WITHDRAWN, NOT_COVID], "2026-11-25T12:00:00.000Z");
  syncRows(path, [...PEOPLE, NOT_COVID], "2026-11-26T12:00:00.000Z");
  const db = openDatabase(path, { readonly: true });
  try {
    return { path, data: readWidgetData(db) };
  } finally {
    db.close();
  }
}

test("the shipped population tables hold the county's 2020 estimates and the 2000 standard", (t) => {
  const db = openDatabase(join(tempDir(t), "vigil.db"));
  t.after(() => db.close());
  assert.deepEqual(db.prepare("SELECT count(*) AS rows, sum(population) AS residents FROM population").get(), { rows: 180, residents: EVERYONE });
  const byGroup = Object.fromEntries(db.prepare("SELECT race_ethnicity, sum(population) FROM population GROUP BY 1").raw().all() as Array<[string, number]>);
  assert.deepEqual(byGroup, { Asian: ASIAN, Black: BLACK, Latino: LATINO, Other: OTHER, White: WHITE });
  const standard = db.prepare("SELECT age_group, rate_age_group FROM standard_population ORDER BY age_min").raw().all();
  assert.deepEqual(standard, [
    ["under 1", "0-4"], ["1-4", "0-4"], ["5-14", "5-14"], ["15-24", "15-24"], ["25-34", "25-34"], ["35-44", "35-44"],
    ["45-54", "45-54"], ["55-64", "55-64"], ["65-74", "65-74"], ["75-84", "75-84"], ["85+", "85+"],
  ]);
  assert.ok(Math.abs((db.prepare("SELECT sum(weight) FROM standard_population").pluck().get() as number) - 1) < 1e-9);
  const groups = db.prepare("SELECT race_ethnicity, rate_group, population_race_ethnicity FROM population_groups ORDER BY race_ethnicity").raw().all();
  assert.deepEqual(groups, [
    ["American Indian", OTHER_LABEL, "Other"], ["Asian", "Asian", "Asian"], ["Black", "Black", "Black"], ["Latino", "Latino", "Latino"],
    ["Other", OTHER_LABEL, "Other"], ["Unknown", "Unknown", null], ["White", "White", "White"],
  ]);
});

test("rates by race and ethnicity, crude and age-adjusted, are the hand computation to 2 decimals", (t) => {
  const { data } = fixture(t);
  const { rates } = data;
  assert.deepEqual(rates.groups.map((g) => g.race_ethnicity).sort(), Object.keys(EXPECTED).sort());
  for (const group of rates.groups) assertFigures(group, EXPECTED[group.race_ethnicity], "rates");
  assertFigures(rates.all, ALL, "rates");
  const adjusted = rates.groups.map((g) => (g.age_adjusted_per_100k === null ? -1 : Number(g.age_adjusted_per_100k)));
  assert.deepEqual(adjusted, [...adjusted].sort((a, b) => b - a), "highest age-adjusted rate first, the unrated last");
  assert.deepEqual(rates.groups.slice(-2).map((g) => g.race_ethnicity), ["Asian", "Unknown"], "too few to rate, then never rated");
  for (const [race, age, deaths, population] of BY_AGE) {
    const row = rates.byAgeGroup.find((r) => r.race_ethnicity === race && r.age_group === age)!;
    assert.deepEqual([row.deaths, row.population], [deaths, population], `${race} ${age}`);
    if (rated(deaths)) assertRate(row.crude_per_100k, (deaths / population) * 1e5, `${race} ${age}`);
    else assert.equal(row.crude_per_100k, null, `${race} ${age}: no rate under 10 deaths`);
    assert.equal(row.reliable, reliability(deaths, population), `${race} ${age} reliable`);
  }
  const ageGroups = [...new Set(rates.byAgeGroup.map((r) => r.age_group))];
  assert.deepEqual(ageGroups, ["0-4", "5-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+"]);
});

test("the chart's CSV, its takeaway, the summary, its stats and datasette print the same rates, digit for digit", (t) => {
  const { path, data } = fixture(t);
  const chart = CHARTS["deaths-per-100k-by-race-ethnicity"](data);
  assert.deepEqual(chart.columns, ["race_ethnicity", "deaths", "population", "crude_per_100k", "age_adjusted_per_100k", "reliable"]);
  for (const row of chart.rows) assertFigures(row as Figures, EXPECTED[String(row.race_ethnicity)], "CSV");
  assert.deepEqual(chart.rows.at(-1), { race_ethnicity: "Unknown", deaths: 9, population: null, crude_per_100k: null, age_adjusted_per_100k: null, reliable: null });
  const black = data.rates.groups.find((g) => g.race_ethnicity === "Black")!;
  assert.match(chart.description, new RegExp(`^From April 10, 2020 to April 10, 2020, the Cook County Medical Examiner recorded [\\d.]+ COVID-19 deaths per 100,000 `));
  assert.ok(chart.description.includes(`${black.age_adjusted_per_100k} per 100,000 Black residents`) || chart.description.includes(`${black.age_adjusted_per_100k} COVID-19 deaths per 100,000 Black residents`), chart.description);
  assert.match(chart.description, /The race or ethnicity of 9 people was not recorded: they are in no group's rate\./);
  assert.match(chart.description, /The age of 7 people was not recorded: they count in the crude rates but not in the age-adjusted ones\./);
  assert.match(chart.description, /population estimates for 2020 and count only the deaths the Medical Examiner investigated/);

  const summary = buildSummary(data, "https://datacatalog.cookcountyil.gov/d/3trz-enys", memorialYears(data.people));
  for (const group of summary.rates.groups) assertFigures(group, EXPECTED[group.race_ethnicity], "summary");
  assertFigures(summary.rates.all, ALL, "summary");
  assert.equal(summary.rates.population_as_of, "2020-07-01");
  const byAge = summary.rates.by_age_group.find((r) => r.age_group === "75-84")!;
  assert.deepEqual([byAge.deaths, byAge.population], [200, all75to84]);

  const { queries } = loadMetadata().databases.vigil;
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const served = db.prepare(queries.rates.sql).all({ run_id: "", lens: "" }) as Figures[];
  assert.deepEqual(served.map(printed), [summary.rates.all, ...summary.rates.groups].map(printed), "datasette = summary");
  assert.deepEqual(chart.rows.map((r) => printed(r as Figures)), summary.rates.groups.map(printed), "CSV = summary");
  const stat = (name: string) => summary.stats[name as keyof typeof summary.stats];
  for (const row of served) {
    const key = row.race_ethnicity === "All residents" ? "all" : row.race_ethnicity === OTHER_LABEL ? "other" : row.race_ethnicity.toLowerCase();
    if (row.population === null || row.crude_per_100k === null) continue;
    assert.equal(stat(`crude_per_100k_${key}`), row.crude_per_100k, `vigil-stat crude ${key}`);
    assert.equal(stat(`age_adjusted_per_100k_${key}`), row.age_adjusted_per_100k, `vigil-stat age-adjusted ${key}`);
  }
  assert.equal(summary.stats.age_adjusted_per_100k_asian, "not given (fewer than 10 deaths)");
  assert.match(chart.description, /No rate is given for Asian residents \(0 deaths\): fewer than 10 deaths are too few to rate\./);
  assert.match(chart.description, /The rates of residents of other races \(American Indian included\) rest on fewer than 20 deaths and are unreliable\./);
});

test("datasette's rates queries give the hand-computed figures, on the private database and on its public projection", (t) => {
  const { path } = fixture(t);
  const projection = join(tempDir(t), "public.db");
  writeProjection(path, projection);
  const { queries } = loadMetadata().databases.vigil;
  for (const file of [path, projection]) {
    const db = new Database(file, { readonly: true });
    t.after(() => db.close());
    const rows = db.prepare(queries.rates.sql).all({ run_id: "", lens: "" }) as Figures[];
    assert.deepEqual(rows.map((r) => r.race_ethnicity), ["All residents", ...rows.slice(1).map((r) => r.race_ethnicity)], file);
    assert.deepEqual(rows.slice(1).map((r) => r.race_ethnicity).sort(), Object.keys(EXPECTED).sort(), file);
    assertFigures(rows[0], ALL, file);
    for (const row of rows.slice(1)) assertFigures(row, EXPECTED[row.race_ethnicity], file);
    const byAge = db.prepare(queries.rates_by_age_group.sql).all({ run_id: "", lens: "" }) as Array<{ race_ethnicity: string; age_group: string; deaths: number; population: number; crude_per_100k: string | null; reliable: string }>;
    assert.equal(byAge.length, 6 * 10, "all residents and the five rated groups, ten age groups each");
    for (const [race, age, deaths, population] of BY_AGE) {
      const row = byAge.find((r) => r.race_ethnicity === race && r.age_group === age)!;
      assert.deepEqual([row.deaths, row.population], [deaths, population], `${race} ${age}`);
      if (rated(deaths)) assertRate(row.crude_per_100k, (deaths / population) * 1e5, `${race} ${age}`);
    else assert.equal(row.crude_per_100k, null, `${race} ${age}: no rate under 10 deaths`);
    assert.equal(row.reliable, reliability(deaths, population), `${race} ${age} reliable`);
    }
  }
});

test("rates are flagged as NCHS does: none at 9 deaths, unreliable at 10 and 19, reliable at 20; the chart draws no bar without a rate", async (t) => {
  const path = join(tempDir(t), "vigil.db");
  syncRows(path, [...people(9, "White", 50), ...people(10, "Black", 50), ...people(19, "Asian", 50), ...people(20, "Black", 50, true)], "2026-11-26T12:00:00.000Z");
  const db = openDatabase(path, { readonly: true });
  t.after(() => db.close());
  const data = readWidgetData(db);
  const by = (name: string) => data.rates.groups.find((g) => g.race_ethnicity === name)!;
  const flags = ["White", "Black", "Asian", "Latino"].map((name) => [name, by(name).deaths, by(name).age_adjusted_per_100k !== null, by(name).crude_per_100k !== null, by(name).reliable]);
  assert.deepEqual(flags, [
    ["White", 9, false, false, "false"],
    ["Black", 10, true, true, "false"],
    ["Asian", 19, true, true, "false"],
    ["Latino", 20, true, true, "true"],
  ]);
  const { queries } = loadMetadata().databases.vigil;
  const served = db.prepare(queries.rates.sql).all({ run_id: "", lens: "" }) as Figures[];
  assert.deepEqual(served.map(printed), [data.rates.all, ...data.rates.groups].map(printed), "datasette says the same");
  const chart = CHARTS["deaths-per-100k-by-race-ethnicity"](data);
  assert.equal(chart.rows.find((r) => r.race_ethnicity === "White")!.reliable, "false");
  const built = await buildChart(chart);
  for (const svg of [built.svg, built.narrowSvg]) {
    const texts = [...parseHTML(`<!doctype html><html><body>${svg}</body></html>`).document.querySelectorAll("text")].map((e) => e.textContent);
    assert.ok(!texts.includes("White"), "no bar, no label, for a group without a rate");
    assert.ok(texts.some((text) => /^\d+\.\d{2}\*$/.test(text ?? "")), "an unreliable rate is starred");
    assert.ok(texts.some((text) => /^\d+\.\d{2}$/.test(text ?? "")), "a reliable one is not");
  }
  assert.match(chart.description, /No rate is given for White residents \(9 deaths\)/);
  assert.match(chart.notes, /Fewer than 20 deaths: the rate is unreliable/);
  const summary = buildSummary(data, "https://datacatalog.cookcountyil.gov/d/3trz-enys", memorialYears(data.people));
  assert.equal(summary.stats.age_adjusted_per_100k_white, "not given (fewer than 10 deaths)");
  assert.equal(summary.rates.groups.find((g) => g.race_ethnicity === "Latino")!.reliable, "true");
});
