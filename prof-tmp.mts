import { openDatabase } from "./pipeline/store/db.ts";
import { dailySeries, provisional, rates, ratesByAgeGroup } from "./pipeline/store/figures.ts";
import { LENS_NAMES, LENSES } from "./schemas/lenses.ts";
const db = openDatabase(process.argv[2], { readonly: true });
const sums: Record<string, number> = {};
const t = (label: string, fn: () => unknown) => { const s = performance.now(); fn(); sums[label] = (sums[label] ?? 0) + performance.now() - s; };
for (const lens of LENS_NAMES) {
  t(`people`, () => db.prepare(`SELECT death_date, memorial_sentence, age, age_group, gender, race_ethnicity, residence_city, manner FROM ${LENSES[lens].view} ORDER BY death_date, death_datetime, casenumber`).all());
  if (lens !== "covid") t(`daily`, () => dailySeries(db, undefined, lens));
  t(`rates`, () => rates(db, undefined, lens));
  t(`ratesByAge`, () => ratesByAgeGroup(db, undefined, lens));
  t(`provisional`, () => provisional(db, undefined, lens));
}
for (const [k, v] of Object.entries(sums)) console.log(k.padEnd(14), v.toFixed(0), "ms");
