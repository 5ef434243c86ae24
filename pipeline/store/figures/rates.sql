-- Deaths per 100,000 residents by race and ethnicity, crude and age-adjusted, over the deaths published
-- after :run_id: one row per rated group, Unknown (counted, never rated) and All residents (every death
-- against every resident). The rates are text with 2 decimals, made here once: the site's CSV, summary
-- and stats print these strings as they are. As NCHS does, a rate resting on too few deaths is
-- unreliable (reliable = 'false'), and on fewer still none is given: the two thresholds are written
-- in by figures.ts. Unknown has no population, so no rate and no reliability.
--
-- Age-adjusted rates use the direct method: a group's death rate in each age group, times the share of
-- that age group in the 2000 U.S. standard population, summed. The county's estimates come in 5-year
-- groups, so the standard's "under 1" and "1-4" share the 0-4 rate (rate_age_group). A death of unknown
-- age counts in the crude rate and is left out of the age-adjusted one (deaths_unknown_age).
tallied AS (
  SELECT g.rate_group, g.population_race_ethnicity, count(*) AS deaths,
         (SELECT s.rate_age_group FROM standard_population s
          WHERE d.age >= s.age_min AND (s.age_max IS NULL OR d.age <= s.age_max)) AS rate_age_group
  FROM deaths_then d JOIN population_groups g ON g.race_ethnicity = d.race_ethnicity
  GROUP BY g.rate_group, g.population_race_ethnicity, rate_age_group
),
weights AS (
  SELECT rate_age_group, sum(weight) AS weight FROM standard_population GROUP BY rate_age_group
),
residents AS (
  SELECT p.race_ethnicity, s.rate_age_group, sum(p.population) AS population
  FROM population p JOIN standard_population s
    ON p.age_min >= s.age_min AND (s.age_max IS NULL OR p.age_min <= s.age_max)
  GROUP BY p.race_ethnicity, s.rate_age_group
),
everyone AS (
  SELECT rate_age_group, sum(population) AS population FROM residents GROUP BY rate_age_group
),
adjusted AS (
  SELECT r.race_ethnicity, sum(r.population) AS population,
         sum(100000.0 * coalesce(d.deaths, 0) / r.population * w.weight) AS per_100k
  FROM residents r
    JOIN weights w ON w.rate_age_group = r.rate_age_group
    LEFT JOIN (SELECT population_race_ethnicity, rate_age_group, sum(deaths) AS deaths FROM tallied
               GROUP BY population_race_ethnicity, rate_age_group) d
      ON d.population_race_ethnicity = r.race_ethnicity AND d.rate_age_group = r.rate_age_group
  GROUP BY r.race_ethnicity
),
groups AS (
  SELECT g.rate_group AS race_ethnicity, max(g.population_race_ethnicity) AS population_race_ethnicity,
         coalesce((SELECT sum(deaths) FROM tallied t WHERE t.rate_group = g.rate_group), 0) AS deaths,
         coalesce((SELECT sum(deaths) FROM tallied t WHERE t.rate_group = g.rate_group AND t.rate_age_group IS NULL), 0)
           AS deaths_unknown_age,
         a.population, a.per_100k
  FROM population_groups g LEFT JOIN adjusted a ON a.race_ethnicity = g.population_race_ethnicity
  GROUP BY g.rate_group
),
everybody AS (
  SELECT 'All residents' AS race_ethnicity, 'all' AS population_race_ethnicity,
         coalesce((SELECT sum(deaths) FROM tallied), 0) AS deaths,
         coalesce((SELECT sum(deaths) FROM tallied WHERE rate_age_group IS NULL), 0) AS deaths_unknown_age,
         (SELECT sum(population) FROM everyone) AS population,
         (SELECT sum(100000.0 * coalesce((SELECT sum(deaths) FROM tallied t WHERE t.rate_age_group = e.rate_age_group), 0)
                     / e.population * w.weight)
          FROM everyone e JOIN weights w ON w.rate_age_group = e.rate_age_group) AS per_100k
),
rated AS (
  SELECT *, 100000.0 * deaths / population AS crude FROM groups
  UNION ALL
  SELECT *, 100000.0 * deaths / population AS crude FROM everybody
)
SELECT race_ethnicity,
       deaths,
       population,
       iif(population IS NULL OR deaths < RATED_FROM, NULL, printf('%.2f', crude)) AS crude_per_100k,
       iif(population IS NULL OR deaths < RATED_FROM, NULL, printf('%.2f', per_100k)) AS age_adjusted_per_100k,
       iif(population IS NULL, NULL, iif(deaths >= RELIABLE_FROM, 'true', 'false')) AS reliable,
       deaths_unknown_age
FROM rated
ORDER BY race_ethnicity != 'All residents', population IS NULL OR deaths < RATED_FROM, per_100k DESC, race_ethnicity
