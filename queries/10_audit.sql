-- Audit (spec §3.6): the determination Antenna's write path should hold for each valid
-- occurrence, compared with the stored determination_id / determination_score.
-- Expected, in terms of the best identification B (§3.5) and the best prediction (§3.3,
-- variant P for determinism): B with a taxon → (B.taxon, 1.0); B without a taxon → the stored
-- values (Antenna changes nothing); no B → the best prediction's (taxon, score). The best
-- prediction gives its winner's id, taxon, score and creation time.
-- Read from main_classification by the winner's id instead (session 71), the audit held
-- 0.05-0.25 GB less at SF1, when the aggregate kept every column of its winners twice; since
-- it keeps a key's column once (session 72) the lookup's scan costs more than it saves at
-- SF1 (pyarrow's layout, every occurrence differing: 0.3 s of the audit's 2.5 s). At SF10 the
-- partitioned join below builds on the best prediction (src/engine/probe_preserved.rs): the
-- audit holds 2.44 GB, the lookup's 2.38 GB, the list view's 2.40-2.45 GB (session 76).
-- `class` says why a stored value can differ, first match wins:
--   identification_changed_after_save  B has a taxon, yet the stored pair is not (B.taxon, 1.0)
--   no_prediction                      no B and no scored classification (set outside the rule)
--   prediction_null_taxon              the best prediction has no taxon: Antenna writes nothing
--   zero_score_not_stored              same taxon, best score 0.0: a falsy score is never written
--   same_taxon_score_not_written       same taxon, another score: only a taxon change writes one
--   score_tie_broken_differently       another taxon at the stored score: a co-winner was kept
--   identification_withdrawn           stored score 1.0 from a now-withdrawn identification
--   classification_added_later         the best classification was created after the last save
--   other                              none of the above
CREATE VIEW audit_determination AS
SELECT
  o.id,
  o.project_id,
  o.determination_id AS stored_taxon_id,
  o.determination_score AS stored_score,
  CASE WHEN bi.taxon_id IS NOT NULL THEN bi.taxon_id
       WHEN bi.identification_id IS NOT NULL THEN o.determination_id
       ELSE bp.taxon_id END AS expected_taxon_id,
  CASE WHEN bi.taxon_id IS NOT NULL THEN 1.0
       WHEN bi.identification_id IS NOT NULL THEN o.determination_score
       ELSE bp.score END AS expected_score,
  bi.identification_id AS best_identification_id,
  bp.classification_id AS best_prediction_id,
  bp.taxon_id AS best_prediction_taxon_id,
  bp.score AS best_prediction_score,
  bp.created_at AS best_prediction_created_at,
  o.updated_at
FROM valid_occurrence o
LEFT JOIN best_identification bi ON bi.occurrence_id = o.id
LEFT JOIN best_prediction bp ON bp.occurrence_id = o.id;

-- The valid occurrences whose stored determination differs from the expected one, with the
-- class (computed for these rows only).
CREATE VIEW audit_difference AS
WITH withdrawn AS (
  SELECT DISTINCT occurrence_id, taxon_id FROM main_identification WHERE withdrawn AND taxon_id IS NOT NULL
)
SELECT
  d.id, d.project_id,
  CASE
    WHEN d.best_identification_id IS NOT NULL THEN 'identification_changed_after_save'
    WHEN d.best_prediction_id IS NULL THEN 'no_prediction'
    WHEN d.best_prediction_taxon_id IS NULL THEN 'prediction_null_taxon'
    WHEN d.best_prediction_taxon_id = d.stored_taxon_id AND d.best_prediction_score = 0 THEN 'zero_score_not_stored'
    WHEN d.best_prediction_taxon_id = d.stored_taxon_id THEN 'same_taxon_score_not_written'
    WHEN d.best_prediction_score = d.stored_score THEN 'score_tie_broken_differently'
    WHEN w.occurrence_id IS NOT NULL AND d.stored_score = 1.0 THEN 'identification_withdrawn'
    WHEN d.best_prediction_created_at > d.updated_at THEN 'classification_added_later'
    ELSE 'other'
  END AS class,
  d.stored_taxon_id, d.stored_score, d.expected_taxon_id, d.expected_score,
  d.best_identification_id, d.best_prediction_id
FROM audit_determination d
LEFT JOIN withdrawn w ON w.occurrence_id = d.id AND w.taxon_id = d.stored_taxon_id
WHERE (d.stored_taxon_id IS DISTINCT FROM d.expected_taxon_id)
   OR (d.stored_score IS DISTINCT FROM d.expected_score);

-- Occurrences the API hides (spec §3.1), with the reason: the complement of valid_occurrence.
CREATE VIEW audit_invalid AS
SELECT o.id, o.project_id,
       CASE WHEN o.determination_id IS NULL AND a.occurrence_id IS NULL THEN 'no_determination_and_no_detections'
            WHEN o.determination_id IS NULL AND a.real_detections = 0 THEN 'no_determination_and_only_null_markers'
            WHEN o.determination_id IS NULL THEN 'no_determination'
            WHEN a.occurrence_id IS NULL THEN 'no_detections'
            ELSE 'only_null_marker_detections' END AS reason
FROM main_occurrence o
LEFT JOIN detection_aggregates a ON a.occurrence_id = o.id
WHERE o.determination_id IS NULL OR a.occurrence_id IS NULL OR a.real_detections = 0;
