-- The deaths of lens :lens (empty: covid; schemas/lenses.ts) the record published after run :run_id
-- (empty: the record as it stands), the
-- one definition of "as it stood after a run" that every published figure and `vigil widgets --as-of`
-- read. A CTE list, not a query: pipeline/store/figures.ts puts it in front of each figure's own.
--
-- A case stood as it is now, less every change a later run made to it: each field takes the old value
-- of its first revision after the run (`undo`, a JSON object of field -> old value; the case writer
-- stores values as text, numbers in their decimal form, flags as 0 and 1). It was in the record when
-- the run that first saw it came at or before the run, and it was withdrawn then when its first removal
-- or restoration after the run is a restoration; with neither after the run, its tombstone says.
asked (run) AS (
  SELECT coalesce(CAST(nullif(trim(:run_id), '') AS INTEGER), 9223372036854775807)
),
LENS_CTE,
stood AS (
  SELECT
    c.casenumber,
    -- the record as it stands (no run asked) has nothing to undo: no revision to look up per case
    iif(asked.run < 9223372036854775807,
        (SELECT json_group_object(field, old_value) FROM (
           SELECT r.field, r.old_value, min(r.id) FROM case_revisions r
           WHERE r.casenumber = c.casenumber AND r.run_id > asked.run AND r.change = 'changed'
           GROUP BY r.field)),
        '{}') AS undo,
    iif(asked.run < 9223372036854775807,
        coalesce((SELECT r.change = 'removed' FROM case_revisions r
                  WHERE r.casenumber = c.casenumber AND r.run_id > asked.run AND r.change IN ('removed', 'restored')
                  ORDER BY r.id LIMIT 1), c.removed_run_id IS NULL),
        c.removed_run_id IS NULL) AS published,
    LENS_FLAG(c) AS in_lens, c.death_date, c.age, c.race_ethnicity, c.first_run_id
  FROM cases c, asked, lens
  WHERE c.first_run_id <= asked.run
    -- only a record as of an earlier run looks for deaths that left the lens since
    AND (LENS_FLAG(c) = 1 OR (asked.run < 9223372036854775807 AND EXISTS (
          SELECT 1 FROM case_revisions r WHERE r.casenumber = c.casenumber AND r.run_id > asked.run AND r.field = lens.field)))
),
deaths_then AS MATERIALIZED (
  SELECT
    casenumber,
    undo,
    iif(json_type(undo, '$.death_date') IS NULL, death_date, json_extract(undo, '$.death_date')) AS death_date,
    iif(json_type(undo, '$.age') IS NULL, age, CAST(json_extract(undo, '$.age') AS INTEGER)) AS age,
    iif(json_type(undo, '$.race_ethnicity') IS NULL, race_ethnicity, json_extract(undo, '$.race_ethnicity')) AS race_ethnicity,
    first_run_id
  FROM stood, lens
  WHERE published
    AND iif(json_type(undo, '$.' || lens.field) IS NULL, in_lens, CAST(json_extract(undo, '$.' || lens.field) AS INTEGER)) = 1
)
