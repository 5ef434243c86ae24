/**
 * The record as it stood after a run, rebuilt from today's cases and the correction log, so a
 * figure published then can be shown again exactly, whatever the county corrected since.
 *
 * A case stood as it is now, less every change a later run made to it: each field takes the old
 * value of its first revision after the run (the case writer stores values as text: numbers in
 * their decimal form, flags as 0 and 1, NULL as NULL). It was in the record when the run that
 * first saw it came at or before the run, and it was withdrawn then when its first removal or
 * restoration after the run is a restoration; with neither after the run, its tombstone says.
 * Nothing is stored twice: the log already holds what every correction replaced. The rule itself
 * is SQL (pipeline/store/figures/published.sql), read by the figures and by datasette as well.
 */
import type { Case, CaseField } from "../../schemas/case.ts";
import { VigilError } from "../errors.ts";
import { memorialSentence } from "../normalize/memorial.ts";
import type { DB } from "./db.ts";
import { publishedAsOf } from "./figures.ts";
import type { LastSuccess } from "./run-records.ts";
import type { LensName } from "../../schemas/lenses.ts";

/** What the memorial's words are made from (pipeline/normalize/memorial.ts). */
const SENTENCE_FIELDS: readonly CaseField[] = ["age", "gender", "residence_city"];

/**
 * The successful run `id`, which a record as of a run is read after; a clear error for a run
 * that does not exist or did not succeed (a failed run changed nothing: the record never stood
 * "after" it).
 */
export function asOfRun(db: DB, id: number): LastSuccess {
  const run = db.prepare("SELECT id, status, finished_at, portal, dataset, source_rows_updated_at FROM runs WHERE id = ?").get(id) as
    | (LastSuccess & { status: string })
    | undefined;
  const hint = "`vigil status` lists the runs; give the id of a successful one";
  if (!run) throw new VigilError(`there is no run ${id} in the database`, { hint });
  if (run.status !== "success") throw new VigilError(`run ${id} did not succeed (${run.status}), so no record stood after it`, { hint });
  const { status, ...success } = run;
  return success;
}

/**
 * The published deaths of a lens (COVID-19 by default) as they stood after run `runId` (the lens's
 * view as it was then), with `fields` of each, ordered by case number: deaths withdrawn, or no longer
 * in the lens, since that run are in; deaths added, published again or first counted since are
 * not (the rule is pipeline/store/figures/published.sql, which every published figure reads). The
 * memorial's words are made again when the person's age, gender or city was corrected since.
 */
export function deathsAsOf<F extends CaseField>(db: DB, runId: number, fields: readonly F[], lens?: LensName): Array<Pick<Case, F>> {
  const needed = [...new Set<CaseField>(["casenumber", ...fields, ...(fields.includes("memorial_sentence" as F) ? SENTENCE_FIELDS : [])])];
  const numeric = new Set(
    (db.prepare("SELECT name FROM pragma_table_info('cases') WHERE type IN ('INTEGER', 'REAL')").pluck().all() as string[]),
  );
  return publishedAsOf(db, runId, needed, lens).map(({ undo, ...stored }) => {
    const then: Record<string, unknown> = stored;
    for (const [field, old] of Object.entries(undo)) if (field in then) then[field] = old !== null && numeric.has(field) ? Number(old) : old;
    // The words follow the person as they stood; made by the one function that makes them.
    if (SENTENCE_FIELDS.some((field) => field in undo) && "memorial_sentence" in then) {
      then.memorial_sentence = memorialSentence(then as Pick<Case, "age" | "gender" | "residence_city">);
    }
    return Object.fromEntries(fields.map((field) => [field, then[field]])) as Pick<Case, F>;
  });
}
