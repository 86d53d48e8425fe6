-- Exports (spec §6). Base set: valid occurrences of the export's project; no visibility, no
-- default filters, no query filters; only a collection filter (bound in queries/request.sql).

-- The CSV export's two per-occurrence choices, in one pass over its detections LEFT JOIN their
-- classifications (arg_max: the value of the row whose key tuple is greatest, no sort):
-- * Variant S (spec §3.3), over the occurrence's classifications only (FILTER): no
--   per-algorithm condition; terminal DESC, score DESC NULLS FIRST (`score IS NULL` as a key
--   puts NULL scores first), id DESC.
-- * Best detection (spec §3.13): score DESC NULLS FIRST — a detection without classifications,
--   or with a NULL score, wins — then the smaller detection id (`-d.id`).
-- Variant S's columns are the winner's, carried in one struct by one arg_max (one comparison of
-- the key tuple per row for the four), not read from the winner's main_classification row (as
-- occurrence_list and the audit do): an export is one project's, whose occurrence ids cut the
-- aggregate's input, while a join by id scans the whole table (SF1, project 1's
-- occurrences_simple_csv: 1.64 s with four arg_max, 1.80 s with the join).
CREATE VIEW export_csv_choice AS
WITH choice AS (
  SELECT d.occurrence_id,
         arg_max(named_struct('id', c.id, 'taxon_id', c.taxon_id,
                              'algorithm_id', c.algorithm_id, 'score', c.score),
                 c.terminal, c.score IS NULL, c.score, c.id) FILTER (WHERE c.id IS NOT NULL) AS s,
         bool_or(c.terminal) AS terminal,  -- the first key: the winner's is the greatest
         arg_max(d.id, c.score IS NULL, c.score, -d.id) AS detection_id
  FROM main_detection d
  LEFT JOIN main_classification c ON c.detection_id = d.id
  WHERE d.occurrence_id IS NOT NULL
  GROUP BY d.occurrence_id
)
SELECT occurrence_id,
       s['id'] AS classification_id,
       s['taxon_id'] AS taxon_id,
       s['algorithm_id'] AS algorithm_id,
       s['score'] AS score,
       terminal,
       detection_id
FROM choice;

-- Variant S alone, for `occlens sql`.
CREATE VIEW best_prediction_s AS
SELECT occurrence_id, classification_id, taxon_id, algorithm_id, score, terminal
FROM export_csv_choice
WHERE classification_id IS NOT NULL;

-- `occurrences_simple_csv` (spec §6.3): one row per valid occurrence with every value of the
-- 28 columns; the output layer only renders them as Python would.
CREATE VIEW export_simple_csv AS
SELECT
  o.id,
  o.event_id,
  e.start AS event_start,
  e."end" AS event_end,
  o.deployment_id,
  dep.name AS deployment_name,
  o.project_id,
  p.name AS project_name,
  o.determination_id,
  o.determination_name,
  o.determination_score,
  coalesce(s.participant_count, 0) > 0 AS verification_status,
  bt.name AS best_machine_prediction_name,
  ba.name AS best_machine_prediction_algorithm,
  bs.score AS best_machine_prediction_score,
  u.name AS verified_by,
  coalesce(s.participant_count, 0) AS participant_count,
  aa.name AS agreed_with_algorithm,
  au.email AS agreed_with_user,
  CASE WHEN bs.taxon_id IS NULL OR o.determination_id IS NULL THEN NULL
       ELSE o.determination_id = bs.taxon_id END AS determination_matches_machine_prediction,
  o.detections_count,
  o.first_appearance_timestamp,
  o.last_appearance_timestamp,
  o.duration,
  bdd.path AS best_detection_path,
  bdd.bbox AS best_detection_bbox,
  bds.path AS best_detection_capture_path,
  bds.public_base_url AS best_detection_capture_base_url
FROM occurrence_keys o  -- the list's values without variant P (not columns here)
LEFT JOIN main_event e ON e.id = o.event_id
LEFT JOIN main_deployment dep ON dep.id = o.deployment_id
LEFT JOIN main_project p ON p.id = o.project_id
LEFT JOIN identification_summary s ON s.occurrence_id = o.id
LEFT JOIN export_csv_choice bs ON bs.occurrence_id = o.id
LEFT JOIN main_taxon bt ON bt.id = bs.taxon_id
LEFT JOIN ml_algorithm ba ON ba.id = bs.algorithm_id
LEFT JOIN best_identification bi ON bi.occurrence_id = o.id
LEFT JOIN main_identification i ON i.id = bi.identification_id
LEFT JOIN users_user u ON u.id = i.user_id
LEFT JOIN main_classification ac ON ac.id = i.agreed_with_prediction_id
LEFT JOIN ml_algorithm aa ON aa.id = ac.algorithm_id
LEFT JOIN main_identification ai ON ai.id = i.agreed_with_identification_id
LEFT JOIN users_user au ON au.id = ai.user_id
LEFT JOIN main_detection bdd ON bdd.id = bs.detection_id
LEFT JOIN main_sourceimage bds ON bds.id = bdd.source_image_id;

-- `occurrences_api_json` detection images (spec §3.11): every detection with a non-NULL path
-- (`""` kept), frame_num then timestamp ascending (NULLS LAST), no limit; id ASC breaks ties.
CREATE VIEW export_detection_images AS
SELECT d.occurrence_id, d.path,
       row_number() OVER (PARTITION BY o.project_id, d.occurrence_id
                          ORDER BY d.frame_num ASC NULLS LAST, d."timestamp" ASC NULLS LAST, d.id ASC) AS position,
       o.project_id
FROM main_detection d
LEFT JOIN main_occurrence o ON o.id = d.occurrence_id
WHERE d.occurrence_id IS NOT NULL AND d.path IS NOT NULL;

-- `csv` and `parquet` exports (occlens formats for data tools): one flat row per valid
-- occurrence with the list view's values, wall-clock times in the configured zone. The best
-- prediction's taxon, score and algorithm are occurrence_list's (the winning classification's
-- columns): joining best_prediction again would compute it a second time.
CREATE VIEW occurrence_flat AS
SELECT
  o.id,
  o.project_id,
  o.deployment_id,
  dep.name AS deployment_name,
  o.event_id,
  wall_clock(o.event_start) AS event_start,
  o.determination_id,
  o.determination_name,
  o.determination_rank,
  o.determination_score,
  o.detections_count,
  wall_clock(o.first_appearance_timestamp) AS first_appearance_timestamp,
  wall_clock(o.last_appearance_timestamp) AS last_appearance_timestamp,
  o.first_appearance_time,
  (arrow_cast(o.last_appearance_timestamp, 'Int64') - arrow_cast(o.first_appearance_timestamp, 'Int64')) / 1e6 AS duration_seconds,
  o.best_prediction_taxon_id,
  bt.name AS best_prediction_name,
  o.best_prediction_score,
  ba.name AS best_prediction_algorithm,
  bi.taxon_id AS best_identification_taxon_id,
  it.name AS best_identification_name,
  u.name AS best_identification_user,
  coalesce(s.identifications_count, 0) > 0 AS verified,
  wall_clock(o.created_at) AS created_at,
  wall_clock(o.updated_at) AS updated_at
FROM occurrence_list o
LEFT JOIN main_deployment dep ON dep.id = o.deployment_id
LEFT JOIN main_taxon bt ON bt.id = o.best_prediction_taxon_id
LEFT JOIN ml_algorithm ba ON ba.id = o.best_prediction_algorithm_id
LEFT JOIN best_identification bi ON bi.occurrence_id = o.id
LEFT JOIN main_taxon it ON it.id = bi.taxon_id
LEFT JOIN users_user u ON u.id = bi.user_id
LEFT JOIN identification_summary s ON s.occurrence_id = o.id;

-- `parquet`: the flat row with the best prediction and best identification as structs.
CREATE VIEW occurrence_nested AS
SELECT id, project_id, deployment_id, deployment_name, event_id, event_start, determination_id,
       determination_name, determination_rank, determination_score, detections_count,
       first_appearance_timestamp, last_appearance_timestamp, first_appearance_time, duration_seconds,
       CASE WHEN best_prediction_taxon_id IS NULL AND best_prediction_score IS NULL THEN NULL
            ELSE named_struct('taxon_id', best_prediction_taxon_id, 'name', best_prediction_name,
                              'score', best_prediction_score, 'algorithm', best_prediction_algorithm) END AS best_prediction,
       CASE WHEN best_identification_taxon_id IS NULL AND best_identification_user IS NULL THEN NULL
            ELSE named_struct('taxon_id', best_identification_taxon_id, 'name', best_identification_name,
                              'user', best_identification_user) END AS best_identification,
       verified, created_at, updated_at
FROM occurrence_flat;
