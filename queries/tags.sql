-- Tags (`/api/v2/tags/`; Antenna 731cc2a2: TagViewSet of ami/main/api/views.py with
-- TagSerializer). Named fragments: src/api/endpoints/tags.rs binds them. The tables are
-- optional in the snapshot contract: absent, there is no tag.

-- name: tags.rows
-- Tag.objects.all(), with a project P `filter(Q(project=P) | Q(project__isnull=True))`
-- (${scope}); ${filter}: the filterset's `taxa` and the detail's id. Each row with
-- TagSerializer's nested project (ProjectNestedSerializer: id, name, image).
SELECT g.id, g.name, g.project_id, p.id AS project_row, p.name AS project_name,
       nullif(p.image, '') AS project_image
FROM main_tag g
LEFT JOIN main_project p ON p.id = g.project_id
WHERE (${scope}) AND (${filter})
ORDER BY ${order}

-- name: tags.project
g.project_id = ${project} OR g.project_id IS NULL

-- name: tags.taxa
-- filterset_fields "taxa" (ModelMultipleChoiceFilter, OR over the values): the tags a taxon holds.
g.id IN (SELECT tag_id FROM main_taxon_tags WHERE taxon_id IN (${ids}))
