-- The reference (window-function) formulation of the audit's expected determination (spec
-- §3.6; see reference/01_predictions.sql for what a reference view is).

-- The determination Antenna's write path should hold: the best identification outranks the
-- best prediction (variant P); of O's claims, the first by that rank wins.
CREATE VIEW expected_determination_window AS
SELECT occurrence_id, identification_id, classification_id, taxon_id, score
FROM (
  SELECT occurrence_id, 1 AS claim_rank, identification_id, CAST(NULL AS BIGINT) AS classification_id,
         taxon_id, 1.0 AS score
  FROM best_identification_window
  UNION ALL
  SELECT occurrence_id, 0 AS claim_rank, CAST(NULL AS BIGINT), classification_id, taxon_id, score
  FROM best_prediction_window
)
QUALIFY row_number() OVER (PARTITION BY occurrence_id ORDER BY claim_rank DESC) = 1;

-- Defines `audit_determination` (queries/10_audit.sql). An identification without a taxon
-- (a comment) changes nothing: the stored values are expected; no claim: NULL.
CREATE VIEW audit_determination_window AS
SELECT
  o.id,
  o.project_id,
  o.determination_id AS stored_taxon_id,
  o.determination_score AS stored_score,
  CASE WHEN e.identification_id IS NOT NULL AND e.taxon_id IS NULL THEN o.determination_id
       ELSE e.taxon_id END AS expected_taxon_id,
  CASE WHEN e.identification_id IS NOT NULL AND e.taxon_id IS NULL THEN o.determination_score
       ELSE e.score END AS expected_score,
  bi.identification_id AS best_identification_id,
  bp.classification_id AS best_prediction_id,
  bp.taxon_id AS best_prediction_taxon_id,
  bp.score AS best_prediction_score,
  bp.created_at AS best_prediction_created_at,
  o.updated_at
FROM valid_occurrence o
LEFT JOIN expected_determination_window e ON e.occurrence_id = o.id
LEFT JOIN best_identification_window bi ON bi.occurrence_id = o.id
LEFT JOIN best_prediction_window bp ON bp.occurrence_id = o.id;
