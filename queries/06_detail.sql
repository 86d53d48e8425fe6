-- A classification with what its nested JSON needs: the post-processing source it was
-- applied to (spec §4.4 applied-to shape: id, created_at, algorithm).
CREATE VIEW classification_detail AS
SELECT c.id, c.created_at, c.score, c.terminal, c.algorithm_id, c.taxon_id, c.detection_id,
       c.applied_to_id,
       p.created_at AS applied_to_created_at,
       p.algorithm_id AS applied_to_algorithm_id
FROM main_classification c
LEFT JOIN main_classification p ON p.id = c.applied_to_id;
