-- Valid occurrences (spec §3.1): a stored determination and at least one real (non-null-marker)
-- detection. Null markers still count in the aggregates, which ride along (computed once).
-- "At least one" is a count compared with 0, not a bool_or. DataFusion estimates that a
-- comparison on a column without statistics keeps every row, but assumes 20% for a boolean
-- column. At 20% a project's valid occurrences looked fewer than its occurrences, so the join
-- built its hash table from every occurrence's aggregates and the project's ids never reached
-- the detection scan (SF1, pyarrow's and Spark-like layouts: a project's list view 1.4–1.5 s
-- instead of 1.25 s).
CREATE VIEW valid_occurrence AS
SELECT o.*,
       a.detections_count,
       a.first_appearance_timestamp,
       a.last_appearance_timestamp,
       a.first_appearance_time,
       a.duration,
       a.cover_image_path
FROM main_occurrence o
JOIN detection_aggregates a ON a.occurrence_id = o.id
WHERE o.determination_id IS NOT NULL AND a.real_detections > 0;

-- The columns requests filter and order on (spec §5.4, §5.5), for every valid occurrence:
-- stored columns, detection aggregates, event start and determination name/rank. Pages choose
-- their ids here (count, WHERE, ORDER BY, LIMIT), then read occurrence_list for those ids only.
-- The cover image path rides along for occurrence_list (computed with the detection
-- aggregates; a statement that does not read it does not compute it).
CREATE VIEW occurrence_keys AS
SELECT
  o.id,
  o.project_id,
  o.deployment_id,
  o.event_id,
  e.start AS event_start,
  o.determination_id,
  t.name AS determination_name,
  t.rank AS determination_rank,
  o.determination_score,
  o.detections_count,
  o.first_appearance_timestamp,
  o.last_appearance_timestamp,
  o.first_appearance_time,
  o.duration,
  o.created_at,
  o.updated_at,
  o.cover_image_path
FROM valid_occurrence o
LEFT JOIN main_event e ON e.id = o.event_id
LEFT JOIN main_taxon t ON t.id = o.determination_id;

-- One row per valid occurrence with every list field the API and the orderings need
-- (spec §4.2, §5.5). Determination and score are the STORED columns (spec §3.6). The best
-- prediction's classification columns (those of classification_detail) ride along
-- (best_prediction_*): a list page reads them here, never main_classification, whatever that
-- table's layout.
CREATE VIEW occurrence_list AS
SELECT
  o.id,
  o.project_id,
  o.deployment_id,
  o.event_id,
  o.event_start,
  o.determination_id,
  o.determination_name,
  o.determination_rank,
  o.determination_score,
  o.detections_count,
  o.first_appearance_timestamp,
  o.last_appearance_timestamp,
  o.first_appearance_time,
  o.duration,
  o.cover_image_path,
  bp.classification_id AS best_prediction_id,
  bi.identification_id AS best_identification_id,
  o.created_at,
  o.updated_at,
  bp.created_at AS best_prediction_created_at,
  bp.score AS best_prediction_score,
  bp.terminal AS best_prediction_terminal,
  bp.algorithm_id AS best_prediction_algorithm_id,
  bp.taxon_id AS best_prediction_taxon_id,
  bp.detection_id AS best_prediction_detection_id,
  bp.applied_to_id AS best_prediction_applied_to_id
FROM occurrence_keys o
LEFT JOIN best_prediction bp ON bp.occurrence_id = o.id
LEFT JOIN best_identification bi ON bi.occurrence_id = o.id;
