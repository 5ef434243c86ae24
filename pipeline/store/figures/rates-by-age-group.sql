-- Crude deaths per 100,000 residents in each age group the age-adjusted rates are computed over (0-4,
-- 5-14, ..., 85+), over the deaths published after :run_id: all residents first (every death, Unknown
-- race included), then each rated race and ethnicity. Deaths of unknown age are in no age group. The
-- rate is text with 2 decimals, made here once; as in rates.sql, none on too few deaths, and
-- unreliable on few.
tallied AS (
  SELECT g.population_race_ethnicity, count(*) AS deaths,
         (SELECT s.rate_age_group FROM standard_population s
          WHERE d.age >= s.age_min AND (s.age_max IS NULL OR d.age <= s.age_max)) AS rate_age_group
  FROM deaths_then d JOIN population_groups g ON g.race_ethnicity = d.race_ethnicity
  WHERE d.age IS NOT NULL
  GROUP BY g.population_race_ethnicity, rate_age_group
),
residents AS (
  SELECT p.race_ethnicity, s.rate_age_group, min(p.age_min) AS age_min, sum(p.population) AS population
  FROM population p JOIN standard_population s
    ON p.age_min >= s.age_min AND (s.age_max IS NULL OR p.age_min <= s.age_max)
  GROUP BY p.race_ethnicity, s.rate_age_group
),
rows AS (
  SELECT 'All residents' AS race_ethnicity, r.rate_age_group AS age_group, min(r.age_min) AS age_min,
         (SELECT coalesce(sum(deaths), 0) FROM tallied t WHERE t.rate_age_group = r.rate_age_group) AS deaths,
         sum(r.population) AS population
  FROM residents r
  GROUP BY r.rate_age_group
  UNION ALL
  SELECT (SELECT min(rate_group) FROM population_groups g WHERE g.population_race_ethnicity = r.race_ethnicity),
         r.rate_age_group, r.age_min, coalesce(t.deaths, 0), r.population
  FROM residents r
    LEFT JOIN tallied t ON t.population_race_ethnicity = r.race_ethnicity AND t.rate_age_group = r.rate_age_group
)
SELECT race_ethnicity, age_group, deaths, population,
       iif(deaths < RATED_FROM, NULL, printf('%.2f', 100000.0 * deaths / population)) AS crude_per_100k,
       iif(deaths >= RELIABLE_FROM, 'true', 'false') AS reliable
FROM rows
ORDER BY race_ethnicity != 'All residents', race_ethnicity, age_min
