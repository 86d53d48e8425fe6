-- Best identification (spec §3.5): among non-withdrawn identifications, the greatest by
-- (created_at, id). The winner may have a NULL taxon or a NULL user.
CREATE VIEW best_identification AS
SELECT occurrence_id,
       arg_max(id, created_at, id) AS identification_id,
       arg_max(taxon_id, created_at, id) AS taxon_id,
       arg_max(user_id, created_at, id) AS user_id,
       max(created_at) AS created_at
FROM main_identification
WHERE NOT withdrawn
GROUP BY occurrence_id;

-- The `identifications` array (spec §4.2 #15): all identifications, withdrawn included,
-- ordered created_at DESC; id ASC is occlens's tiebreaker.
CREATE VIEW occurrence_identifications AS
SELECT i.id, i.created_at, i.occurrence_id, i.taxon_id, i.user_id, i.withdrawn,
       i.agreed_with_identification_id, i.agreed_with_prediction_id, i.comment,
       row_number() OVER (PARTITION BY o.project_id, i.occurrence_id
                          ORDER BY i.created_at DESC, i.id ASC) AS position,
       o.project_id
FROM main_identification i
LEFT JOIN main_occurrence o ON o.id = i.occurrence_id;

-- Verification summary (spec §3.9): V_any, V_active and V_participants.
CREATE VIEW identification_summary AS
SELECT occurrence_id,
       count(*) AS identifications_count,
       count(*) FILTER (WHERE NOT withdrawn) AS active_count,
       count(DISTINCT CASE WHEN NOT withdrawn THEN user_id END) AS participant_count
FROM main_identification
GROUP BY occurrence_id;
