-- `occlens audit` (spec §3.6, §3.1): named fragments over the views of queries/10_audit.sql,
-- with ${scope} bound to a project condition (or TRUE).

-- name: audit.differences
-- Every valid occurrence whose stored determination differs from the expected one.
SELECT id, project_id, class, stored_taxon_id, stored_score, expected_taxon_id, expected_score,
       best_identification_id, best_prediction_id
FROM audit_difference
WHERE ${scope}
ORDER BY id

-- name: audit.invalid
-- Every occurrence the API hides, with its reason.
SELECT id, project_id, reason
FROM audit_invalid
WHERE ${scope}
ORDER BY id

-- name: audit.occurrences
-- How many occurrences there are: the valid ones audited are these minus audit.invalid (its
-- complement by definition).
SELECT count(*) AS occurrences FROM main_occurrence WHERE ${scope}
