-- The daily series: every day from the first death to the last (America/Chicago), zero-filled, with
-- the 7-day average (2 decimals; NULL for the first six days, which have fewer than seven days to
-- average) and the running total, over the deaths published after :run_id.
-- The daily_deaths table holds it for the record as it stands, written when a run changes the record.
counts AS MATERIALIZED (
  SELECT death_date AS date, count(*) AS deaths FROM deaths_then GROUP BY death_date
),
span (date) AS (
  SELECT min(date) FROM counts
  UNION ALL
  SELECT date(date, '+1 day') FROM span WHERE date < (SELECT max(date) FROM counts)
),
filled AS (
  SELECT span.date AS date, coalesce(counts.deaths, 0) AS deaths
  FROM span LEFT JOIN counts ON counts.date = span.date
  WHERE span.date IS NOT NULL
)
SELECT
  date,
  deaths,
  iif(count(*) OVER week = 7, round(avg(deaths) OVER week, 2), NULL) AS deaths_7day_avg,
  sum(deaths) OVER (ORDER BY date ROWS UNBOUNDED PRECEDING) AS cumulative_deaths
FROM filled
WINDOW week AS (ORDER BY date ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
ORDER BY date
