-- The lens asked for as :lens (empty: covid; the lenses are schemas/lenses.ts, written in as
-- LENS_VALUES): its name, the cases column that is 1 for its deaths, its default lag in days
-- (provisional.sql), its deaths in words ("heat-related deaths") and its datasette view. A name that is no lens gives no row, so every query over it answers nothing.
-- LENS_FLAG(c) stands for the lens's flag of the case c.
lens (name, field, default_lag, deaths, view) AS (
  SELECT column1, column2, column3, column4, column5 FROM (VALUES LENS_VALUES)
  WHERE column1 = coalesce(nullif(lower(trim(:lens)), ''), 'covid')
)
