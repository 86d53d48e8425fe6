-- Machine predictions (spec §3.3). Candidates of occurrence O: every classification of any of
-- O's detections, null markers included.
CREATE VIEW classification_candidate AS
SELECT d.occurrence_id, c.id, c.created_at, c.score, c.terminal, c.algorithm_id, c.taxon_id,
       c.detection_id, c.applied_to_id
FROM main_classification c
JOIN main_detection d ON d.id = c.detection_id
WHERE d.occurrence_id IS NOT NULL;

-- Variant P (the API's best_machine_prediction and determination_details.prediction):
-- drop NULL scores; keep rows equal to their own algorithm's max (NULL algorithm is its own
-- group); then terminal first, score descending, id descending.
-- Computed in one aggregation per occurrence with no sort: `arg_max_of_maxima(value, part,
-- k1, …, kn, o1, …, on)` (src/functions/maxima.rs) takes each part's (algorithm's) winner,
-- its row with the greatest (k1, …, kn), and returns the value of the winner whose (o1, …, on)
-- is greatest. Each algorithm's winner is its max score, ties broken by terminal then id —
-- the row the final order would pick among that algorithm's rows at its max — and the winner
-- of those winners by (terminal, score, id) is the first row of the order. (Written as two
-- `arg_max` aggregations, by (occurrence, algorithm) and then by occurrence, the first one
-- hashed every (occurrence, algorithm) pair: SF10, 30M groups, most of the list view's time.)
-- Each column of the winner is a call of its own with the same keys: a consumer reads the
-- ones it needs, DataFusion drops the others, and those left share one comparison of the key
-- tuples per row (src/engine/shared_keys.rs merges them into one call). The list view's
-- checksums read the winner's id only; the list view's cache reads every column of
-- classification_detail (they were read from main_classification by the winner's id, a
-- lookup whose cost did not shrink with a project).
-- The NULL and NaN scores (`scored` false) are dropped by the aggregates' FILTER, not by a
-- WHERE. A WHERE would sit on the classification scan, below its join with the detections,
-- where the planner cannot estimate what it keeps (it assumes 20%). On some layouts'
-- statistics (DuckDB's) it then built the join's hash table from the 7.4M classifications
-- instead of the 2.5M detections (SF1: 277 MB instead of 49 MB), and a project's filter could
-- not reach the classification scan. An algorithm whose every score is dropped has no winner;
-- an occurrence without winners (its `score` NULL: a winner's never is) has no best
-- prediction.
CREATE VIEW best_prediction AS
SELECT *
FROM (
  SELECT occurrence_id,
         arg_max_of_maxima(id, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS classification_id,
         arg_max_of_maxima(taxon_id, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS taxon_id,
         arg_max_of_maxima(algorithm_id, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS algorithm_id,
         arg_max_of_maxima(score, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS score,
         arg_max_of_maxima(terminal, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS terminal,
         arg_max_of_maxima(created_at, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS created_at,
         arg_max_of_maxima(detection_id, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS detection_id,
         arg_max_of_maxima(applied_to_id, algorithm_id, score, terminal, id, terminal, score, id)
           FILTER (WHERE scored) AS applied_to_id
  FROM (SELECT *, score IS NOT NULL AND NOT isnan(score) AS scored
        FROM classification_candidate) AS c
  GROUP BY occurrence_id
) AS best
WHERE score IS NOT NULL;

-- Variant M candidate set (detail `predictions`, spec §3.4): rows whose score is IN the set of
-- per-algorithm maxima of O (membership across algorithms). A NaN score counts as NULL (spec
-- §9.18), as in variant P: it is no algorithm's max and matches none. Ordered created_at DESC;
-- id ASC is occlens's tiebreaker.
-- The maxima of an occurrence (and its project) are one list, and the candidates join it by
-- occurrence alone:
-- the join's filter on the occurrence ids (a project's) then reaches the maxima's scans. Joined
-- on (occurrence, score), the maxima were computed for every occurrence of the snapshot
-- whatever the project (SF1, project 1's detail export: 7.3M rows aggregated instead of 1.5M).
-- The maxima carry their occurrence's project, and a row's `project_id` is the maxima's (the
-- same value: both are the occurrence's; where a snapshot repeats an occurrence's row, which
-- `occlens check` reports, a candidate is listed once per project, not once per repeated
-- row as the candidates' own join gave), so that a filter on the project reaches the maxima's
-- scans too; the candidates are then cut to the maxima's occurrences by the join's dynamic
-- filter. With the project taken from the candidates, an export's range of occurrence ids
-- computed the maxima of every project's occurrences in the range (SF1: 1.49M classifications
-- aggregated for project 1's 298k). Joined on (occurrence, project), an occurrence without a
-- project would lose its candidates (NULL matches nothing).
-- `+ 0.0` makes -0.0 the 0.0 it equals: the list's membership test compares bits, where the
-- join compared numbers.
CREATE VIEW prediction_candidates AS
WITH maxima AS (
  SELECT occurrence_id, project_id, array_agg(DISTINCT algorithm_max + 0.0) AS maxima
  FROM (SELECT c.occurrence_id, o.project_id, c.algorithm_id,
               max(CASE WHEN isnan(c.score) THEN NULL ELSE c.score END) AS algorithm_max
        FROM classification_candidate c
        LEFT JOIN main_occurrence o ON o.id = c.occurrence_id
        GROUP BY c.occurrence_id, o.project_id, c.algorithm_id)
  WHERE algorithm_max IS NOT NULL
  GROUP BY occurrence_id, project_id
)
SELECT c.occurrence_id, c.id, c.created_at, c.score, c.terminal, c.algorithm_id, c.taxon_id,
       c.detection_id, c.applied_to_id, m.project_id,
       row_number() OVER (PARTITION BY m.project_id, c.occurrence_id
                          ORDER BY c.created_at DESC, c.id ASC) AS position
FROM classification_candidate c
JOIN maxima m ON m.occurrence_id = c.occurrence_id
WHERE array_has(m.maxima, c.score + 0.0);

-- Variant S (the CSV export's best_machine_prediction, spec §3.3) is `best_prediction_s` in
-- queries/08_exports.sql: it shares one pass with the CSV best detection.

-- A detection's classifications in detail (spec §4.4): created_at DESC, score DESC NULLS FIRST;
-- id ASC is occlens's tiebreaker. With the detection's occurrence (a detail reads them by
-- occurrence id; the partition by occurrence too, so a filter on it reaches the scans) and
-- the columns of classification_detail.
CREATE VIEW detection_classifications AS
SELECT d.occurrence_id, c.detection_id, c.id, c.created_at, c.score, c.terminal,
       c.algorithm_id, c.taxon_id, c.applied_to_id,
       row_number() OVER (PARTITION BY o.project_id, d.occurrence_id, c.detection_id
                          ORDER BY c.created_at DESC, c.score DESC NULLS FIRST, c.id ASC) AS position,
       o.project_id
FROM main_classification c
JOIN main_detection d ON d.id = c.detection_id
LEFT JOIN main_occurrence o ON o.id = d.occurrence_id
WHERE d.occurrence_id IS NOT NULL;
