-- Which days of lens :lens are not final yet, after run :run_id (empty: the record as it stands): one
-- row. Recent counts rise as cases are closed: a death joins a lens when its case is first loaded with
-- the flag, or on a later night when the flag is set (toxicology back, a pending case ruled on).
--
-- as_of_date: the day (America/Chicago) of the last run that changed the record, up to the run read: the
-- record is as it was then, and the public record, which keeps only such runs, gives the same row.
-- lag_days: how many days after a death it is in the lens, for 95 of 100 deaths. vigil sees it for
-- every death a nightly ingest of the same dataset put in the lens after that dataset's first load of
-- the lens's deaths (which cannot tell when its deaths arrived; nor can a bulk load): the days from
-- the death to the day of the run that put it in the lens, its first run or the run whose revision set
-- the flag to 1; the 95th percentile, nearest rank. With fewer than MIN_LAG_OBSERVATIONS such deaths,
-- the lens's documented default (schemas/lenses.ts).
-- provisional_from: as_of_date less lag_days, plus one: the first day whose count may still rise, also
-- when no death of the lens is recorded since; NULL only before a run changed the record.
-- pending: cases in the record whose manner of death is still PENDING and that are not in the lens:
-- deaths that may yet join it.
today (as_of_date, dataset) AS (
  SELECT local_date, dataset FROM runs, asked WHERE status = 'success' AND changed = 1 AND id <= asked.run ORDER BY id DESC LIMIT 1
),
-- the runs whose revision set the lens's flag to 1, the last one of each case
flagged AS MATERIALIZED (
  SELECT r.casenumber, max(r.run_id) AS run FROM case_revisions r, asked, lens
  WHERE r.field = lens.field AND r.new_value = '1' AND r.run_id <= asked.run
  GROUP BY r.casenumber
),
arrivals AS MATERIALIZED (
  SELECT d.death_date, coalesce(f.run, d.first_run_id) AS run
  FROM deaths_then d LEFT JOIN flagged f USING (casenumber)
),
-- the first run of the dataset read that loaded deaths of the lens: when they arrived, it cannot tell
first_load (run) AS (
  SELECT min(a.run) FROM arrivals a JOIN runs r ON r.id = a.run, today WHERE r.dataset IS today.dataset
),
lags AS MATERIALIZED (
  SELECT max(0, CAST(julianday(r.local_date) - julianday(a.death_date) AS INTEGER)) AS days
  FROM arrivals a JOIN runs r ON r.id = a.run, first_load, today
  WHERE a.run > first_load.run AND r.kind = 'ingest' AND r.dataset IS today.dataset AND r.local_date IS NOT NULL
),
observed (n) AS (
  SELECT count(*) FROM lags
),
-- the 95th percentile, nearest rank: the ceil(0.95 n)-th smallest
p95 (days) AS (
  SELECT days FROM (SELECT days, row_number() OVER (ORDER BY days) AS k FROM lags), observed
  WHERE k = (95 * observed.n + 99) / 100
),
lag (days, source) AS MATERIALIZED (
  SELECT
    iif(observed.n >= MIN_LAG_OBSERVATIONS, (SELECT days FROM p95), lens.default_lag),
    iif(observed.n >= MIN_LAG_OBSERVATIONS, 'observed', 'default')
  FROM observed, lens
),
pending (n) AS (
  SELECT count(*) FROM cases c, asked, lens
  WHERE c.first_run_id <= asked.run
    AND (c.manner = 'PENDING' OR (asked.run < 9223372036854775807 AND EXISTS (
          SELECT 1 FROM case_revisions r WHERE r.casenumber = c.casenumber AND r.run_id > asked.run AND r.field = 'manner')))
    -- its manner as it stood then
    AND iif(asked.run < 9223372036854775807,
            coalesce((SELECT r.old_value FROM case_revisions r
                      WHERE r.casenumber = c.casenumber AND r.run_id > asked.run AND r.field = 'manner' AND r.change = 'changed'
                      ORDER BY r.id LIMIT 1), c.manner),
            c.manner) = 'PENDING'
    AND iif(asked.run < 9223372036854775807,
            coalesce((SELECT r.change = 'removed' FROM case_revisions r
                      WHERE r.casenumber = c.casenumber AND r.run_id > asked.run AND r.change IN ('removed', 'restored')
                      ORDER BY r.id LIMIT 1), c.removed_run_id IS NULL),
            c.removed_run_id IS NULL)
    AND c.casenumber NOT IN (SELECT casenumber FROM deaths_then)
)
SELECT
  lens.name AS lens,
  today.as_of_date,
  pending.n AS pending,
  observed.n AS lag_observed,
  lag.days AS lag_days,
  lag.source AS lag_source,
  date(today.as_of_date, printf('%+d days', 1 - lag.days)) AS provisional_from
FROM lens, lag, observed, pending LEFT JOIN today
