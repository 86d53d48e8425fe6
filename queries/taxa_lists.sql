-- Taxa lists: GET /api/v2/taxa/lists/ and /api/v2/taxa/lists/<id>/ (Antenna 731cc2a2
-- ami/main/api/views.py TaxaListViewSet.get_queryset; ami/main/api/serializers.py
-- TaxaListSerializer; ami/base/permissions.py add_m2m_object_permissions).

-- name: taxa_lists.rows
-- TaxaList.objects.all().visible_for_user(user).annotate(annotated_taxa_count=Count("taxa"))
-- .filter(projects=P): one row per list of P visible to the requester. Count("taxa") counts
-- over the visibility join too, so it is #taxa × ${mult}'s multiplier m (a list with m = 0 is
-- not visible). ${extra}: more conditions (the detail's id). ${order}: the ordering terms
-- (NullsLastOrderingFilter), then l.id (Antenna's order is undefined past them).
WITH mult AS (${mult}),
taxa AS (SELECT taxalist_id, count(*) AS n FROM main_taxalist_taxa GROUP BY taxalist_id)
SELECT l.id, l.name, l.description,
       iso_dt(wall_clock(l.created_at)) AS created_at_text,
       iso_dt(wall_clock(l.updated_at)) AS updated_at_text,
       coalesce(taxa.n, 0) * m.m AS taxa_count
FROM main_taxalist l
JOIN main_taxalist_projects lp ON lp.taxalist_id = l.id AND lp.project_id = ${project}
JOIN mult m ON m.taxalist_id = l.id
LEFT JOIN taxa ON taxa.taxalist_id = l.id
WHERE m.m > 0 AND ${extra}
ORDER BY ${order}

-- name: taxa_lists.mult_superuser
-- A superuser: no visibility filter, no extra join.
SELECT id AS taxalist_id, 1 AS m FROM main_taxalist

-- name: taxa_lists.mult_anonymous
-- BaseQuerySet.visible_for_user, anonymous: INNER JOIN projects WHERE NOT draft, one row per
-- non-draft project of the list.
SELECT lp.taxalist_id, count(*) AS m
FROM main_taxalist_projects lp JOIN main_project p ON p.id = lp.project_id
WHERE NOT p.draft
GROUP BY lp.taxalist_id

-- name: taxa_lists.mult_user
-- A logged-in user: Q(projects__draft=False) | Q(projects__owner=U) | Q(projects__members=U),
-- projects INNER JOIN, members LEFT JOIN (one row per member of the project, or one NULL row):
-- a project row passes when it is not draft or owned (every member row) or the row is U's.
SELECT lp.taxalist_id,
       sum(CASE WHEN NOT p.draft OR p.owner_id = ${user} THEN greatest(coalesce(mm.n, 0), 1)
                WHEN mm.has_user THEN 1 ELSE 0 END) AS m
FROM main_taxalist_projects lp
JOIN main_project p ON p.id = lp.project_id
LEFT JOIN (SELECT project_id, count(*) AS n, bool_or(user_id = ${user}) AS has_user
           FROM main_userprojectmembership GROUP BY project_id) mm ON mm.project_id = p.id
GROUP BY lp.taxalist_id

-- name: taxa_lists.id
-- The detail lookup (get_object: filter_queryset(get_queryset()).get(pk=id)).
l.id = ${id}

-- name: taxa_lists.projects
-- TaxaListSerializer.get_projects: every project of the list (no visibility), in
-- Project.Meta.ordering (-priority, created_at).
SELECT lp.taxalist_id, p.id
FROM main_taxalist_projects lp JOIN main_project p ON p.id = lp.project_id
WHERE lp.taxalist_id IN (${ids})
ORDER BY lp.taxalist_id, p.priority DESC, p.created_at ASC, p.id ASC
