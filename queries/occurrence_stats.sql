-- Occurrence stats (`/api/v2/occurrences/stats/<kind>/`): Antenna's OccurrenceStatsViewSet
-- (ami/main/api/views.py) and its aggregates in ami/main/models_future/occurrence.py.

-- name: occurrence_stats.project
-- The stats' project (OccurrenceStatsViewSet.top_identifiers / model_agreement, first lines):
-- whether it exists (get_active_project, ami/base/views.py) and whether the requester sees it
-- (`Project.objects.visible_for_user(request.user).filter(pk=project.pk).exists()`).
-- ${visible} is `SELECT id …` of the visible projects.
SELECT (SELECT count(*) FROM main_project WHERE id = ${project}) AS found,
       (SELECT count(*) FROM (${visible}) v WHERE v.id = ${project}) AS visible

-- name: occurrence_stats.top_identifiers
-- top_identifiers_for_project (models_future/occurrence.py): users with an identification
-- (withdrawn included) of an occurrence of the project (any validity, no default filters),
-- counting distinct occurrences; `.order_by("-identification_count")[:limit]`. Antenna has no
-- tiebreaker (PostgreSQL's sort decides among equal counts); occlens's is the user id.
SELECT u.id, u.name, u.image, count(DISTINCT i.occurrence_id) AS identification_count
FROM users_user u
JOIN main_identification i ON i.user_id = u.id
JOIN occurrence_facts o ON o.id = i.occurrence_id
WHERE o.project_id = ${project}
GROUP BY u.id, u.name, u.image
ORDER BY identification_count DESC, u.id ASC
LIMIT ${limit}

-- name: occurrence_stats.verified
-- model_agreement_for_project, steps 1–2: the filtered set (the occurrence list's WHERE:
-- `.valid().apply_default_filters(...)` + the list's filter backends, `.distinct()`), and its
-- verified rows (`filter(identifications__withdrawn=False)`: a non-withdrawn identification)
-- with m = `best_machine_prediction_taxon_id` (with_best_machine_prediction:
-- BEST_MACHINE_PREDICTION_ORDER over every classification of the occurrence's detections =
-- variant S, `best_prediction_s`; NULL without one) and u = `best_user_taxon_id` (the best
-- non-withdrawn identification's taxon, BEST_IDENTIFICATION_ORDER, `best_identification`),
-- both read from occurrence_facts (queries/11_facts.sql, cached per project).
-- Used as a CTE prefix by the two statements below. ${keys}: occurrence_keys or its cache.
-- ${where} holds `project_id = ${project}`; repeating it on the facts lets their scan read
-- that project's rows only (no row changes).
WITH base AS (SELECT o.id FROM ${keys} o WHERE ${where}),
verified AS (
  SELECT b.id, f.best_machine_taxon_id AS m, f.best_user_taxon_id AS u
  FROM base b
  JOIN occurrence_facts f ON f.id = b.id
  WHERE f.identified AND f.project_id = ${project}
)

-- name: occurrence_stats.agreement
-- model_agreement_for_project, steps 3–4 (counts over the verified rows):
-- * no_prediction: m NULL; without_taxon: m set, u NULL; exact: u = m (both set);
-- * a disagreeing pair (u, m both set, u ≠ m) agrees at its LCA rank (lca_rank_between): the
--   deepest REAL rank (UNKNOWN excluded; rank_depth has no UNKNOWN) among the entries of u's
--   chain (its parents_json entries with their rank, then u itself with its rank) whose id is
--   in m's chain (m's parents_json ids and m). No such entry: no LCA, not counted.
-- * at_rank: pairs whose LCA depth is ${coarsest} or deeper (`lca >= coarsest_rank`).
-- * pairs: rows with u and m both set (cohens_kappa's n).
${verified},
rank_depth AS (
  SELECT * FROM (VALUES ('KINGDOM', 0), ('PHYLUM', 1), ('CLASS', 2), ('ORDER', 3),
                        ('SUPERFAMILY', 4), ('FAMILY', 5), ('SUBFAMILY', 6), ('TRIBE', 7),
                        ('SUBTRIBE', 8), ('GENUS', 9), ('SPECIES', 10)) AS r(rank, depth)
),
chain AS (
  SELECT taxon_id, parent_id AS id, rank FROM taxon_parent
  UNION ALL
  SELECT id AS taxon_id, id, rank FROM main_taxon
),
disagreeing AS (
  SELECT DISTINCT u, m FROM verified WHERE u IS NOT NULL AND m IS NOT NULL AND u <> m
),
lca AS (
  SELECT p.u, p.m, max(r.depth) AS depth
  FROM disagreeing p
  JOIN chain a ON a.taxon_id = p.u
  JOIN chain b ON b.taxon_id = p.m AND b.id = a.id
  JOIN rank_depth r ON r.rank = a.rank
  GROUP BY p.u, p.m
),
scored AS (
  SELECT v.u, v.m, l.depth
  FROM verified v
  LEFT JOIN lca l ON l.u = v.u AND l.m = v.m
)
SELECT t.total, s.*
FROM (SELECT count(*) AS total FROM base) t
CROSS JOIN (
  SELECT count(*) AS verified,
         count(*) FILTER (WHERE m IS NULL) AS no_prediction,
         count(*) FILTER (WHERE m IS NOT NULL AND u IS NULL) AS without_taxon,
         count(*) FILTER (WHERE u = m) AS exact,
         count(*) FILTER (WHERE depth IS NOT NULL) AS with_lca,
         count(*) FILTER (WHERE depth >= ${coarsest}) AS at_rank,
         count(*) FILTER (WHERE u IS NOT NULL AND m IS NOT NULL) AS pairs
  FROM scored
) s

-- name: occurrence_stats.marginals
-- cohens_kappa (ami/utils/stats.py) over the (u, m) pairs with both set: per taxon k, a = pairs
-- with u = k and b = pairs with m = k; the expected agreement Σ (a/n)(b/n) is summed in
-- ascending k (CPython's set order for these small ids) by the caller.
${verified}
SELECT k, sum(a) AS a, sum(b) AS b
FROM (SELECT u AS k, 1 AS a, 0 AS b FROM verified WHERE u IS NOT NULL AND m IS NOT NULL
      UNION ALL
      SELECT m AS k, 0 AS a, 1 AS b FROM verified WHERE u IS NOT NULL AND m IS NOT NULL)
GROUP BY k
ORDER BY k
