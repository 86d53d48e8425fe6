-- Machine predictions (spec §3.3). Candidates of occurrence O: every classification of any of
-- O's detections, null markers included.
CREATE VIEW classification_candidate AS
SELECT d.occurrence_id, c.id, c.created_at, c.score, c.terminal, c.algorithm_id, c.taxon_id
FROM main_classification c
JOIN main_detection d ON d.id = c.detection_id
WHERE d.occurrence_id IS NOT NULL;

-- Variant P (the API's best_machine_prediction and determination_details.prediction):
-- drop NULL scores; keep rows equal to their own algorithm's max (NULL algorithm is its own
-- group); then terminal first, score descending, id descending.
CREATE VIEW best_prediction AS
SELECT occurrence_id, id AS classification_id, taxon_id, algorithm_id, score, terminal
FROM (
  SELECT *, row_number() OVER (PARTITION BY occurrence_id
                               ORDER BY terminal DESC, score DESC, id DESC) AS rn
  FROM (
    SELECT *, max(score) OVER (PARTITION BY occurrence_id, algorithm_id) AS algorithm_max
    FROM classification_candidate
    WHERE score IS NOT NULL AND NOT isnan(score)
  )
  WHERE score = algorithm_max
)
WHERE rn = 1;

-- Variant M candidate set (detail `predictions`, spec §3.4): rows whose score is IN the set of
-- per-algorithm maxima of O (membership across algorithms). Ordered created_at DESC; id ASC is
-- occlens's tiebreaker.
CREATE VIEW prediction_candidates AS
WITH maxima AS (
  SELECT DISTINCT occurrence_id, algorithm_max
  FROM (SELECT occurrence_id, algorithm_id, max(score) AS algorithm_max
        FROM classification_candidate GROUP BY occurrence_id, algorithm_id)
  WHERE algorithm_max IS NOT NULL
)
SELECT c.*,
       row_number() OVER (PARTITION BY c.occurrence_id ORDER BY c.created_at DESC, c.id ASC) AS position
FROM classification_candidate c
JOIN maxima m ON m.occurrence_id = c.occurrence_id AND m.algorithm_max = c.score;

-- Variant S (CSV export): no per-algorithm filter; terminal DESC, score DESC NULLS FIRST, id DESC.
CREATE VIEW best_prediction_s AS
SELECT occurrence_id, id AS classification_id, taxon_id, algorithm_id, score, terminal
FROM (
  SELECT *, row_number() OVER (PARTITION BY occurrence_id
                               ORDER BY terminal DESC, score DESC NULLS FIRST, id DESC) AS rn
  FROM classification_candidate
)
WHERE rn = 1;

-- A detection's classifications in detail (spec §4.4): created_at DESC, score DESC NULLS FIRST;
-- id ASC is occlens's tiebreaker.
CREATE VIEW detection_classifications AS
SELECT c.*,
       row_number() OVER (PARTITION BY c.detection_id
                          ORDER BY c.created_at DESC, c.score DESC NULLS FIRST, c.id ASC) AS position
FROM main_classification c
WHERE c.detection_id IS NOT NULL;
