-- The reference (window-function) formulation of the machine-prediction rules: the definitions
-- as spec §3.3, §3.4 and §7 state them. queries/03_predictions.sql and 08_exports.sql compute the
-- same rows with one-pass arg_max aggregates, for speed; tests/differential.rs checks, on
-- hundreds of random edge-case snapshots, that both give identical rows, and
-- `occlens --semantics window` answers every request through these views instead.
-- A view named X_window is the reference of the fast view X.

-- Variant P (spec §3.3; the API's best_machine_prediction and determination_details.prediction).
-- Defines `best_prediction` (queries/03_predictions.sql). NULL scores are dropped and NaN is
-- treated as NULL (spec §9.18); a row survives when its score is its own algorithm's max (a
-- NULL algorithm is its own group); the first by terminal DESC, score DESC, id DESC wins.
CREATE VIEW best_prediction_window AS
SELECT occurrence_id, id AS classification_id, taxon_id, algorithm_id, score, terminal,
       created_at, detection_id, applied_to_id
FROM (
  SELECT c.*, max(score) OVER (PARTITION BY occurrence_id, algorithm_id) AS algorithm_max
  FROM classification_candidate c
  WHERE score IS NOT NULL AND NOT isnan(score)
)
WHERE score = algorithm_max
QUALIFY row_number() OVER (PARTITION BY occurrence_id
                           ORDER BY terminal DESC, score DESC, id DESC) = 1;

-- Variant M's candidate set (spec §3.4; the detail `predictions` list). Defines
-- `prediction_candidates` (queries/03_predictions.sql). A row survives when its score is IN the
-- set of O's per-algorithm maxima (membership across algorithms; a NaN score counts as NULL,
-- spec §9.18); ordered created_at DESC, id ASC (occlens's tiebreaker: Antenna leaves ties
-- unspecified).
CREATE VIEW prediction_candidates_window AS
WITH per_algorithm AS (
  SELECT c.*, max(CASE WHEN isnan(score) THEN NULL ELSE score END)
                OVER (PARTITION BY occurrence_id, algorithm_id) AS algorithm_max
  FROM classification_candidate c
)
SELECT c.occurrence_id, c.id, c.created_at, c.score, c.terminal, c.algorithm_id, c.taxon_id,
       c.detection_id, c.applied_to_id, o.project_id,
       row_number() OVER (PARTITION BY c.occurrence_id ORDER BY c.created_at DESC, c.id ASC) AS position
FROM per_algorithm c
LEFT JOIN main_occurrence o ON o.id = c.occurrence_id
WHERE EXISTS (SELECT 1 FROM per_algorithm m
              WHERE m.occurrence_id = c.occurrence_id AND m.algorithm_max = c.score);

-- Variant S (spec §3.3; the CSV export's best_machine_prediction_*). Defines
-- `best_prediction_s` (queries/08_exports.sql): every candidate, no per-algorithm condition;
-- the first by terminal DESC, score DESC NULLS FIRST (a NULL score wins its tier), id DESC.
CREATE VIEW best_prediction_s_window AS
SELECT occurrence_id, id AS classification_id, taxon_id, algorithm_id, score, terminal
FROM classification_candidate
QUALIFY row_number() OVER (PARTITION BY occurrence_id
                           ORDER BY terminal DESC, score DESC NULLS FIRST, id DESC) = 1;

-- The CSV export's best detection (spec §3.13): O's detections LEFT JOIN their
-- classifications, the first by score DESC NULLS FIRST (a detection without classifications,
-- or with a NULL score, wins), then detection id ASC. Null markers are eligible.
CREATE VIEW best_detection_window AS
SELECT d.occurrence_id, d.id AS detection_id
FROM main_detection d
LEFT JOIN main_classification c ON c.detection_id = d.id
WHERE d.occurrence_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY d.occurrence_id
                           ORDER BY c.score DESC NULLS FIRST, d.id ASC) = 1;

-- Defines `export_csv_choice` (queries/08_exports.sql): the CSV export's two per-occurrence
-- choices side by side, for every occurrence with a detection.
CREATE VIEW export_csv_choice_window AS
SELECT b.occurrence_id, s.classification_id, s.taxon_id, s.algorithm_id, s.score, s.terminal,
       b.detection_id
FROM best_detection_window b
LEFT JOIN best_prediction_s_window s ON s.occurrence_id = b.occurrence_id;
