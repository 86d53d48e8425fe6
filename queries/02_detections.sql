-- Detections, with null markers and local (project time zone) wall-clock values.
-- A null marker is a detection whose bbox is SQL NULL (spec §3.2); a JSON literal `null` is
-- treated the same way (spec §9.21).
CREATE VIEW detection_local AS
SELECT
  d.*,
  (d.bbox IS NULL OR d.bbox = 'null') AS is_null_marker,
  wall_clock(d."timestamp") AS local_timestamp
FROM main_detection d;

-- Aggregates over ALL detections of an occurrence, null markers included (spec §3.10).
-- first_appearance_time is the minimum time of day (local), not the time of the first appearance.
-- The list cover image (spec §3.11) is computed in the same pass over the detections (one scan
-- and one grouping instead of two; `cover_image` below reads it): the first detection with a
-- truthy path, ordered frame_num ASC NULLS LAST, timestamp ASC NULLS LAST; id ASC is occlens's
-- tiebreaker. arg_min picks the least key tuple; `x IS NULL` before x puts NULLs last.
CREATE VIEW detection_aggregates AS
SELECT
  occurrence_id,
  count(*) AS detections_count,
  min("timestamp") AS first_appearance_timestamp,
  max("timestamp") AS last_appearance_timestamp,
  min(arrow_cast(local_timestamp, 'Time64(Microsecond)')) AS first_appearance_time,
  max("timestamp") - min("timestamp") AS duration,
  count(*) FILTER (WHERE NOT is_null_marker) AS real_detections,
  arg_min(path, frame_num IS NULL, frame_num, "timestamp" IS NULL, "timestamp", id)
    FILTER (WHERE path IS NOT NULL AND path <> '') AS cover_image_path
FROM detection_local
WHERE occurrence_id IS NOT NULL
GROUP BY occurrence_id;

-- Every algorithm that touched an occurrence: detectors through detections, classifiers and
-- post-processors through classifications (spec §5.4 `algorithm` / `not_algorithm`).
CREATE VIEW occurrence_algorithms AS
SELECT occurrence_id, detection_algorithm_id AS algorithm_id
FROM main_detection
WHERE occurrence_id IS NOT NULL AND detection_algorithm_id IS NOT NULL
UNION
SELECT d.occurrence_id, c.algorithm_id
FROM main_classification c
JOIN main_detection d ON d.id = c.detection_id
WHERE d.occurrence_id IS NOT NULL AND c.algorithm_id IS NOT NULL;

-- The list cover image (spec §3.11) of each occurrence that has one (detection_aggregates).
CREATE VIEW cover_image AS
SELECT occurrence_id, cover_image_path AS path
FROM detection_aggregates
WHERE cover_image_path IS NOT NULL;

-- The detail images (spec §3.11): up to 100 detections with a truthy path, newest first
-- (timestamp DESC = NULLS FIRST); id ASC is occlens's tiebreaker.
CREATE VIEW detail_images AS
SELECT occurrence_id, path, position, project_id
FROM (
  SELECT d.occurrence_id, d.path, o.project_id,
         row_number() OVER (PARTITION BY o.project_id, d.occurrence_id
                            ORDER BY d."timestamp" DESC NULLS FIRST, d.id ASC) AS position
  FROM main_detection d
  LEFT JOIN main_occurrence o ON o.id = d.occurrence_id
  WHERE d.occurrence_id IS NOT NULL AND d.path IS NOT NULL AND d.path <> ''
)
WHERE position <= 100;

-- Detail `detections` (spec §4.3): all detections of the occurrence, null markers included,
-- ordered timestamp DESC (NULLS FIRST); id ASC is occlens's tiebreaker. Each carries its
-- capture's columns (capture_id is NULL when the capture is not in main_sourceimage), so a
-- detail reads its detections and their captures by occurrence id in one statement (and the
-- cache stores them sorted so).
CREATE VIEW detail_detections AS
SELECT d.id, d.occurrence_id, d.source_image_id, d."timestamp", d.path, d.bbox,
       row_number() OVER (PARTITION BY o.project_id, d.occurrence_id
                          ORDER BY d."timestamp" DESC NULLS FIRST, d.id ASC) AS position,
       s.id AS capture_id, s.path AS capture_path, s.public_base_url AS capture_public_base_url,
       s.width AS capture_width, s.height AS capture_height, o.project_id
FROM main_detection d
LEFT JOIN main_sourceimage s ON s.id = d.source_image_id
LEFT JOIN main_occurrence o ON o.id = d.occurrence_id
WHERE d.occurrence_id IS NOT NULL;
