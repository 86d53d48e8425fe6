-- GET /api/v2/occurrences/algorithms/?project_id=P (spec §5.8): every algorithm that produced
-- output in a project — detectors through detections, classifiers and post-processors through
-- classifications — where the capture belongs to the project. NULL algorithms are dropped.
CREATE VIEW project_algorithms AS
SELECT DISTINCT s.project_id, x.algorithm_id
FROM (
  SELECT d.source_image_id, d.detection_algorithm_id AS algorithm_id FROM main_detection d
  UNION ALL
  SELECT d.source_image_id, c.algorithm_id
  FROM main_classification c JOIN main_detection d ON d.id = c.detection_id
) x
JOIN main_sourceimage s ON s.id = x.source_image_id
WHERE x.algorithm_id IS NOT NULL AND s.project_id IS NOT NULL;
