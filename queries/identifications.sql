-- Identifications (`/api/v2/identifications/`; Antenna 731cc2a2: IdentificationViewSet of
-- ami/main/api/views.py with IdentificationSerializer). Named fragments:
-- src/api/endpoints/identifications.rs binds them.

-- name: identifications.rows
-- Identification.objects.all().visible_for_user(user) (${scope}: the occurrence's project is
-- one the requester sees, for non-superusers), the filterset (${filter}: occurrence, user,
-- taxon), Meta ordering "-created_at" or the `ordering` terms (${order}). With each, its
-- occurrence's determination and project.
SELECT i.id, i.user_id, i.taxon_id, i.withdrawn, i.agreed_with_identification_id,
       i.agreed_with_prediction_id, i.comment, i.created_at, i.updated_at,
       o.id AS occurrence_found, o.determination_id, o.project_id
FROM main_identification i
LEFT JOIN main_occurrence o ON o.id = i.occurrence_id
WHERE (${scope}) AND (${filter})
ORDER BY ${order}

-- name: identifications.visible
o.project_id IN (${visible})
