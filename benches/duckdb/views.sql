-- The occurrence list semantics of queries/ written for DuckDB, over the same Parquet files.
-- `{dir}` is replaced by the snapshot directory. Two formulations of the best prediction
-- (window functions, and arg_max aggregates); the comparison script times both and keeps
-- the faster, as the issue asks.
SET TimeZone = 'UTC';
CREATE VIEW c AS SELECT * FROM read_parquet('{dir}/main_classification.parquet');
CREATE VIEW d AS SELECT * FROM read_parquet('{dir}/main_detection.parquet');
CREATE VIEW o AS SELECT * FROM read_parquet('{dir}/main_occurrence.parquet');
CREATE VIEW i AS SELECT * FROM read_parquet('{dir}/main_identification.parquet');
CREATE VIEW e AS SELECT * FROM read_parquet('{dir}/main_event.parquet');
CREATE VIEW t AS SELECT * FROM read_parquet('{dir}/main_taxon.parquet');

CREATE VIEW agg AS
SELECT occurrence_id,
       count(*) AS detections_count,
       min("timestamp") AS first_appearance_timestamp,
       max("timestamp") AS last_appearance_timestamp,
       min(CAST(timezone('America/New_York', "timestamp") AS TIME)) AS first_appearance_time,
       max("timestamp") - min("timestamp") AS duration,
       bool_or(NOT (bbox IS NULL OR bbox = 'null')) AS has_real_detection
FROM d WHERE occurrence_id IS NOT NULL GROUP BY occurrence_id;

CREATE VIEW cand AS
SELECT d.occurrence_id, c.id, c.score, c.terminal, c.algorithm_id, c.taxon_id
FROM c JOIN d ON d.id = c.detection_id
WHERE d.occurrence_id IS NOT NULL AND c.score IS NOT NULL AND NOT isnan(c.score);

-- best prediction, window formulation (the same SQL as queries/03_predictions.sql)
CREATE VIEW bp_window AS
SELECT occurrence_id, id AS classification_id FROM (
  SELECT *, row_number() OVER (PARTITION BY occurrence_id ORDER BY terminal DESC, score DESC, id DESC) AS rn
  FROM (SELECT *, max(score) OVER (PARTITION BY occurrence_id, algorithm_id) AS m FROM cand)
  WHERE score = m)
WHERE rn = 1;

-- best prediction, arg_max formulation: the per-algorithm winner, then the winner of winners
CREATE VIEW bp_argmax AS
SELECT occurrence_id, arg_max(id, (terminal, score, id)) AS classification_id
FROM (SELECT occurrence_id, arg_max(id, (score, terminal, id)) AS id,
             max(score) AS score, arg_max(terminal, (score, terminal, id)) AS terminal
      FROM cand GROUP BY occurrence_id, algorithm_id)
GROUP BY occurrence_id;

CREATE VIEW cover_window AS
SELECT occurrence_id, path FROM (
  SELECT occurrence_id, path, row_number() OVER (PARTITION BY occurrence_id
         ORDER BY frame_num ASC NULLS LAST, "timestamp" ASC NULLS LAST, id ASC) AS rn
  FROM d WHERE occurrence_id IS NOT NULL AND path IS NOT NULL AND path <> '')
WHERE rn = 1;

CREATE VIEW cover_argmax AS
SELECT occurrence_id,
       arg_min(path, (frame_num IS NULL, frame_num, "timestamp" IS NULL, "timestamp", id)) AS path
FROM d WHERE occurrence_id IS NOT NULL AND path IS NOT NULL AND path <> ''
GROUP BY occurrence_id;

CREATE VIEW bi_window AS
SELECT occurrence_id, id AS identification_id FROM (
  SELECT *, row_number() OVER (PARTITION BY occurrence_id ORDER BY created_at DESC, id DESC) AS rn
  FROM i WHERE NOT withdrawn)
WHERE rn = 1;

CREATE VIEW bi_argmax AS
SELECT occurrence_id, arg_max(id, (created_at, id)) AS identification_id
FROM i WHERE NOT withdrawn GROUP BY occurrence_id;
