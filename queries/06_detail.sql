-- A classification with what its nested JSON needs (spec §4.4). Its `applied_to` (the
-- post-processing source: id, created_at, algorithm) is this same view's row for
-- applied_to_id, read by id in a second statement only when some row has one: a self-join
-- here would scan every classification for the usual all-NULL applied_to_id.
CREATE VIEW classification_detail AS
SELECT c.id, c.created_at, c.score, c.terminal, c.algorithm_id, c.taxon_id, c.detection_id,
       c.applied_to_id
FROM main_classification c;
