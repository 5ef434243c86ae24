/**
 * One test per quirk of the source, each from its own small file in fixtures/rows/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { normalizeRow, chicagoDate, type Normalized, type Rejected } from "../pipeline/normalize/row.ts";
import { validate } from "../pipeline/ingest/ingest.ts";
import { caseSchema } from "../schemas/case.ts";
import { isRealDate } from "../schemas/source-row.ts";
import type { RawRow } from "../schemas/source-columns.ts";
import { ROOT } from "./helpers.ts";

const DIR = join(ROOT, "fixtures", "rows");
const TODAY = "2026-11-26";

function load(name: string): RawRow[] {
  return JSON.parse(readFileSync(join(DIR, name), "utf8")) as RawRow[];
}

function cases(name: string): Normalized["case"][] {
  return load(name).map((raw) => {
    const result = normalizeRow(raw, { today: TODAY });
    assert.ok(result.ok, `${name}: expected a case, got ${JSON.stringify(result)}`);
    caseSchema.parse(result.case);
    return result.case;
  });
}

function rejects(name: string): Rejected[] {
  return load(name).map((raw) => {
    const result = normalizeRow(raw, { today: TODAY });
    assert.ok(!result.ok, `${name}: expected a reject`);
    return result;
  });
}

const expectations: Record<string, () => void> = {
  "number-as-string.json": () => {
    const [c] = cases("number-as-string.json");
    assert.equal(typeof c.age, "number");
    assert.equal(typeof c.commissioner_district, "number");
    assert.equal(typeof c.latitude, "number");
  },
  "omitted-nulls.json": () => {
    const [c] = cases("omitted-nulls.json");
    assert.equal(c.gun_related, null, "an omitted checkbox is 'not provided', not false");
    assert.equal(c.incident_date, null);
    assert.equal(c.latitude, null);
  },
  "no-milliseconds.json": () => {
    for (const c of cases("no-milliseconds.json")) assert.match(c.death_datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  },
  "midnight-time-unknown.json": () => {
    const [c] = cases("midnight-time-unknown.json");
    assert.equal(c.death_date, "2020-04-12", "00:00 stays on its own day");
    assert.equal(c.death_datetime, "2020-04-12T00:00:00");
  },
  "early-morning-0015.json": () => {
    const [c] = cases("early-morning-0015.json");
    assert.equal(c.death_date, "2021-01-01", "00:15 Chicago is not moved to the previous day (or year)");
    assert.equal(c.death_datetime, "2021-01-01T00:15:00");
  },
  "checkbox-omitted.json": () => {
    const all = cases("checkbox-omitted.json");
    assert.ok(all.some((c) => c.gun_related === null && c.opioid_related === null && c.covid_related === null));
    for (const c of all) assert.ok(c.gun_related === null || c.gun_related === 0 || c.gun_related === 1);
  },
  "incident-years-before-death.json": () => {
    const [c] = cases("incident-years-before-death.json");
    assert.equal(c.incident_date, "2001-06-25");
    assert.equal(c.death_date, "2020-07-01");
  },
  "late-evening-2345.json": () => {
    const [newYearsEve, summer] = cases("late-evening-2345.json");
    assert.equal(newYearsEve.death_date, "2020-12-31", "23:45 Chicago is not moved to the next (UTC) day, or year");
    assert.equal(summer.death_date, "2021-06-30", "nor in daylight-saving time");
  },
  "zip-plus-four.json": () => {
    const [c] = cases("zip-plus-four.json");
    assert.deepEqual([c.incident_zip, c.residence_zip], ["60639", "60628"], "ZIP+4 keeps its first five digits");
  },
  "zip-placeholder.json": () => {
    for (const c of cases("zip-placeholder.json")) {
      assert.equal(c.incident_zip, null);
      assert.equal(c.residence_zip, null);
    }
  },
  "zip-junk.json": () => {
    for (const c of cases("zip-junk.json")) {
      assert.ok(c.incident_zip === null || /^\d{5}$/.test(c.incident_zip));
      assert.ok(c.residence_zip === null || /^\d{5}$/.test(c.residence_zip));
    }
    assert.ok(cases("zip-junk.json").some((c) => /ZIP code, set to NULL/.test(c.notes ?? "")));
  },
  "city-casing-and-spaces.json": () => {
    for (const c of cases("city-casing-and-spaces.json")) {
      for (const city of [c.residence_city, c.incident_city]) {
        if (city !== null) assert.equal(city, city.trim().toUpperCase().replace(/\s+/g, " "));
      }
    }
  },
  "ward-float-string.json": () => {
    const [c] = cases("ward-float-string.json");
    assert.ok(Number.isInteger(c.chicago_ward));
  },
  "latino-overrides-race.json": () => {
    for (const c of cases("latino-overrides-race.json")) {
      assert.equal(c.latino, 1);
      assert.equal(c.race_ethnicity, "Latino");
    }
  },
  "latino-omitted.json": () => {
    for (const c of cases("latino-omitted.json")) {
      assert.equal(c.latino, null);
      assert.notEqual(c.race_ethnicity, "Latino");
    }
  },
  "location-human-address.json": () => {
    for (const c of cases("location-human-address.json")) assert.equal(c.latitude === null, c.longitude === null);
  },
  "latlon-out-of-bounds.json": () => {
    for (const c of cases("latlon-out-of-bounds.json")) {
      assert.equal(c.latitude, null);
      assert.equal(c.longitude, null);
      assert.match(c.notes ?? "", /outside Cook County/);
    }
  },
  "infant-age.json": () => {
    for (const c of cases("infant-age.json")) {
      assert.equal(c.age, 0);
      assert.equal(c.age_group, "0-17");
    }
  },
  "backdated-case.json": () => {
    const [c] = cases("backdated-case.json");
    assert.equal(c.casenumber, "ME2022-05807");
    assert.ok(c.death_date.startsWith("2021-"), "the case year is not the death year");
  },
  "unknown-columns.json": () => {
    assert.equal(cases("unknown-columns.json").length, load("unknown-columns.json").length);
  },
  "missing-casenumber.json": () => {
    for (const r of rejects("missing-casenumber.json")) assert.deepEqual(r.reasons, [{ code: "missing_casenumber", message: "casenumber is missing" }]);
  },
  "missing-death-date.json": () => {
    for (const r of rejects("missing-death-date.json")) assert.deepEqual(r.reasons, [{ code: "missing_death_date", message: "death_date is missing" }]);
  },
  "impossible-death-date.json": () => {
    for (const r of rejects("impossible-death-date.json")) {
      assert.ok(r.reasons.some((x) => x.code === "invalid_death_date" && /^death_date ".*" is not a real calendar date/.test(x.message)), JSON.stringify(r.reasons));
    }
  },
  "bad-optional-age.json": () => {
    const [c] = cases("bad-optional-age.json");
    assert.equal(c.age, null);
    assert.equal(c.age_group, null);
    assert.match(c.notes ?? "", /^age .* set to NULL/);
  },
  "markup-in-cause.json": () => {
    const [c] = cases("markup-in-cause.json");
    assert.match(c.primary_cause ?? "", /<script>/, "text is stored as written; escaping is the output's job");
  },
  "duplicate-casenumber.json": () => {
    const { valid, rejected } = validate(load("duplicate-casenumber.json"), TODAY);
    assert.equal(valid.length, 1);
    assert.equal(rejected.length, load("duplicate-casenumber.json").length - 1);
    assert.equal(rejected[0].result.reasons[0].code, "duplicate_casenumber");
    assert.match(rejected[0].result.reasons[0].message, /more than once/);
    assert.equal(valid[0].case.age, 83, "the row updated last wins");
    // The order the rows arrive in does not matter.
    const reversed = validate(load("duplicate-casenumber.json").reverse(), TODAY);
    assert.equal(reversed.valid[0].case.age, 83);
  },
};

test("every quirk file has an expectation, and every expectation a file", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();
  assert.deepEqual(files, Object.keys(expectations).sort());
});

for (const [name, check] of Object.entries(expectations)) {
  test(`quirk: ${name.replace(/\.json$/, "")}`, check);
}

test("a real date is one the calendar has, leap years included", () => {
  // the reference: what a JavaScript date makes of the same fields
  const reference = (y: number, m: number, d: number) => {
    const date = new Date(Date.UTC(y, m - 1, d));
    return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  };
  let checked = 0;
  for (const year of [1, 99, 100, 1899, 1900, 1996, 2000, 2019, 2020, 2021, 2100, 2400]) {
    for (let month = 0; month <= 13; month++) {
      for (let day = 0; day <= 32; day++) {
        const text = `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
        assert.equal(isRealDate(text), reference(year, month, day), text);
        checked++;
      }
    }
  }
  assert.equal(checked, 12 * 14 * 33);
  assert.equal(isRealDate("2020-02-29T23:59:59.999"), true);
  assert.equal(isRealDate("2020-02-29T24:00"), false);
  assert.equal(isRealDate("2020-02-29T23:60"), false);
  assert.equal(isRealDate("2020-02-29T23:59:60"), false);
  assert.equal(isRealDate("2021-02-29"), false);
  assert.equal(isRealDate("02/29/2020"), false);
});

test("a death date after the run's own day is refused", () => {
  const result = normalizeRow({ casenumber: "ME2026-00001", death_date: "2026-11-27T01:00:00.000" }, { today: TODAY });
  assert.ok(!result.ok);
  assert.deepEqual(result.reasons, [{ code: "death_date_after_today", message: `death_date 2026-11-27T01:00:00.000 is after today (${TODAY})` }]);
});

test("today is the Chicago date, not the UTC one", () => {
  // 03:00 UTC on Nov 27 is still Nov 26 in Chicago.
  assert.equal(chicagoDate(new Date("2026-11-27T03:00:00Z")), "2026-11-26");
  assert.equal(chicagoDate(new Date("2026-07-01T04:59:00Z")), "2026-06-30");
});

test("COVID relatedness: the flag when provided, otherwise 'covid' in any cause field", () => {
  const base = { casenumber: "ME2020-1", death_date: "2020-05-01T00:00:00" };
  const is = (extra: RawRow) => {
    const r = normalizeRow({ ...base, ...extra }, { today: TODAY });
    assert.ok(r.ok);
    return r.case.is_covid;
  };
  assert.equal(is({ covid_related: true, primarycause: "FALL" }), 1);
  assert.equal(is({ covid_related: false, primarycause: "COVID-19" }), 0);
  assert.equal(is({ secondarycause: "HYPERTENSION; COVID 19" }), 1);
  assert.equal(is({ primarycause_linec: "Covid19 infection" }), 1);
  assert.equal(is({ primarycause: "BLUNT FORCE INJURIES" }), 0);
});

test("coordinates: the latitude/longitude columns win; the location point fills in only where they are absent", () => {
  const base = { casenumber: "ME2020-1", death_date: "2020-05-01T00:00:00" };
  const point = { latitude: "41.9001", longitude: "-87.7002", needs_recoding: false };
  const coords = (extra: RawRow) => {
    const r = normalizeRow({ ...base, ...extra }, { today: TODAY });
    assert.ok(r.ok);
    return [r.case.latitude, r.case.longitude];
  };
  assert.deepEqual(coords({ latitude: "41.7802969", longitude: "-87.61213873", location: point }), [41.7802969, -87.61213873], "both: the columns");
  assert.deepEqual(coords({ location: point }), [41.9001, -87.7002], "location only: its point");
  assert.deepEqual(coords({ latitude: "41.7802969", longitude: "-87.61213873" }), [41.7802969, -87.61213873], "columns only");
  assert.deepEqual(coords({ latitude: "41.7802969", location: point }), [41.7802969, -87.7002], "each coordinate falls back on its own");
  assert.deepEqual(coords({ latitude: "0", longitude: "0", location: point }), [null, null], "a column out of bounds is not replaced by the point");
  assert.deepEqual(coords({ location: { human_address: '{"city":"CHICAGO"}' } }), [null, null], "an address is not geocoded");
});

test("the plain-row fast path gives exactly what the zod schema gives", async () => {
  const { generateArchive, generateCovidView } = await import("../fixtures/generate.ts");
  const { plainRow } = await import("../pipeline/normalize/row.ts");
  const { rawRowSchema } = await import("../schemas/source-row.ts");
  const fromFiles = readdirSync(DIR).filter((f) => f.endsWith(".json")).flatMap((f) => load(f));
  const rows: RawRow[] = [...fromFiles, ...generateCovidView({ seed: 11, count: 3000 }), ...generateArchive({ seed: 11, count: 3000 })];
  // values the fast path must hand to zod, or read exactly as zod does: wrong types, junk, odd spacing
  const odd: Array<[string, unknown]> = [
    ["age", "9 months"], ["age", " 47 "], ["age", Infinity], ["latino", "Y"], ["latino", "true"], ["latino", "False"], ["cold_related", "NO"], ["heat_related", "YES"], ["gunrelated", " yes"], ["opioids", "no "], ["latino", "1"], ["latitude", "41.8x"],
    ["latitude", 41.8], ["incident_zip", 60639], ["incident_zip", NaN], ["death_date", "2021-02-30T00:00:00"], ["death_date", " 2021-02-03 "],
    ["casenumber", "  "], ["casenumber", 7], ["gender", null], ["location", "POINT (1 2)"], ["location", { latitude: "x" }], ["chi_ward", "20.0"], ["age", "-.5"], ["age", "5."], ["age", "+3"], ["age", "1-2"], ["latitude", "..5"], ["longitude", "-"], ["objectid", "+"], ["commissioner_district", "4\u00a0"],
  ];
  odd.forEach(([field, value], i) => rows.push({ ...rows[i], [field]: value }));
  const notPlain: RawRow[] = [
    { casenumber: "ME2020-1", death_date: "2020-05-01T00:00:00", latino: "maybe" },
    { casenumber: "ME2020-2", death_date: "2020-05-01T00:00:00", chi_ward: "20.0.1" },
    { casenumber: "ME2020-3", death_date: "2020-05-01T00:00:00", location: { latitude: "north" } },
  ];
  rows.push(...notPlain);
  let plain = 0;
  for (const raw of rows) {
    const fast = plainRow(raw);
    const parsed = rawRowSchema.safeParse(raw);
    if (fast === undefined) continue;
    plain++;
    assert.ok(parsed.success, `the fast path accepted a row zod refuses: ${JSON.stringify(raw)}`);
    for (const key of Object.keys(rawRowSchema.shape)) {
      assert.deepEqual((fast as Record<string, unknown>)[key], (parsed.data as Record<string, unknown>)[key], `${key} of ${JSON.stringify(raw)}`);
    }
  }
  assert.ok(plain > 6000, `most rows take the fast path (${plain} of ${rows.length})`);
  for (const raw of notPlain) assert.equal(plainRow(raw), undefined);
});
