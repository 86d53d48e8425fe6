-- Projects: list, detail and charts (src/api/endpoints/projects.rs, projects_charts.rs).
-- Antenna 731cc2a2: ami/main/api/views.py ProjectViewSet, ami/main/api/serializers.py
-- ProjectListSerializer / ProjectSerializer, ami/main/models.py Project, ami/main/charts.py.
-- Timestamps are rendered as Antenna's naive America/New_York wall clock (USE_TZ=False).

-- name: projects.list
-- ProjectViewSet.get_queryset: Project.objects.filter(active=True).visible_for_user(user)
-- [.filter_by_user(user) for ?user_id]; ProjectListSerializer / ProjectSerializer fields.
-- ${visible}: the visibility condition on p.id; ${filter}: user_id membership and/or a pk;
-- ${joins}: the "recent activity" annotations the ordering asks for (get_queryset annotates
-- them on demand); ${order}: NullsLastOrderingFilter terms, then occlens's tiebreak.
-- deployments_count: Project.deployments_count() = self.deployments.count() (live).
SELECT p.id, p.name, p.description, p.image, p.draft,
       iso_dt(wall_clock(p.created_at)) AS created,
       iso_dt(wall_clock(p.updated_at)) AS updated,
       COALESCE(dc.n, 0) AS deployments_count,
       p.owner_id, u.name AS owner_name, u.image AS owner_image, p.feature_flags,
       p.default_filters_score_threshold, p.session_time_gap_seconds,
       p.default_processing_pipeline_id
FROM main_project p
LEFT JOIN (SELECT project_id, count(*) AS n FROM main_deployment GROUP BY project_id) dc
  ON dc.project_id = p.id
LEFT JOIN users_user u ON u.id = p.owner_id
${joins}
WHERE p.active AND (${visible}) AND (${filter})
ORDER BY ${order}

-- name: projects.join.last_capture_timestamp
-- get_queryset: Subquery(SourceImage.filter(project=OuterRef("pk"), timestamp__isnull=False)
-- .order_by("-timestamp").values("timestamp")[:1]) = the latest capture time (NULL: none).
LEFT JOIN (SELECT project_id, max("timestamp") AS v FROM main_sourceimage
           WHERE "timestamp" IS NOT NULL GROUP BY project_id) last_capture_timestamp
  ON last_capture_timestamp.project_id = p.id

-- name: projects.join.last_occurrence_updated_at
-- get_queryset: Subquery(Occurrence.filter(project=OuterRef("pk")).order_by("-updated_at")
-- .values("updated_at")[:1]) over every occurrence of the project (no validity, no defaults).
LEFT JOIN (SELECT project_id, max(updated_at) AS v FROM main_occurrence
           GROUP BY project_id) last_occurrence_updated_at
  ON last_occurrence_updated_at.project_id = p.id

-- name: projects.join.last_job_updated_at
-- get_queryset: Subquery(Job.filter(project=OuterRef("pk")).order_by("-updated_at")
-- .values("updated_at")[:1]) = the latest job update (the optional jobs_job; NULL: none).
LEFT JOIN (SELECT project_id, max(updated_at) AS v FROM jobs_job
           GROUP BY project_id) last_job_updated_at
  ON last_job_updated_at.project_id = p.id

-- name: projects.member_of
-- ProjectQuerySet.filter_by_user(user): filter(members=user) (membership rows).
p.id IN (SELECT project_id FROM main_userprojectmembership WHERE user_id = ${user})

-- name: projects.visible
-- BaseQuerySet.visible_for_user for Project: non-draft, owned or member projects
-- (${projects}: the visible_projects fragment of queries/endpoints.sql).
p.id IN (${projects})

-- name: projects.is_member
-- ProjectSerializer.get_is_member for a signed-in non-superuser: Role.user_has_any_role(user,
-- project). Roles follow membership and ownership (the oracle's BasicMember / ProjectManager
-- assumption, tests/fixtures/antenna-oracle2/README.md): n > 0 when the user has either.
SELECT count(*) AS n FROM (
  SELECT project_id FROM main_userprojectmembership WHERE user_id = ${user} AND project_id = ${project}
  UNION ALL
  SELECT id AS project_id FROM main_project WHERE id = ${project} AND owner_id = ${user}
) roles

-- name: projects.user_exists
-- ProjectViewSet.get_queryset: User.objects.filter(pk=user_id).first().
SELECT id FROM users_user WHERE id = ${user}

-- name: projects.deployments
-- ProjectSerializer.deployments: DeploymentNestedSerializerWithLocationAndCounts over
-- project.deployments (prefetched, Deployment Meta ordering "name"; occlens breaks ties by
-- id). events_count is the STORED column. Names in the en_US collation, approximated as in
-- queries/taxa_list.sql: case-insensitive, then byte order.
SELECT id, name, image, latitude, longitude, events_count
FROM main_deployment
WHERE project_id = ${project}
ORDER BY lower(name), name, id

-- name: projects.default_taxa
-- ProjectSettingsSerializer.default_filters_{include,exclude}_taxa: TaxonNoParentNested
-- Serializer over the M2M (${table}), Taxon Meta ordering ("ordering", "name"), NULLs last.
SELECT t.id, t.name, t.rank, t.gbif_taxon_key, t.fieldguide_id, t.inat_taxon_id,
       t.cover_image_url, t.cover_image_credit
FROM ${table} x
JOIN main_taxon t ON t.id = x.taxon_id
WHERE x.project_id = ${project}
ORDER BY t.ordering ASC NULLS LAST, lower(t.name), t.name, t.id

-- name: projects.captures_per_hour
-- charts.captures_per_hour: SourceImage.filter(project=P).exclude(timestamp=None), counted per
-- (local date, local hour); per hour the total and the number of dates (averaged in Rust).
-- capture_hours (queries/11_facts.sql) holds one row per (deployment, date, hour).
SELECT s.hour, sum(s.captures) AS total, count(DISTINCT s.day) AS days
FROM capture_hours s
WHERE s.project_id = ${project} AND s.day IS NOT NULL
GROUP BY 1
ORDER BY 1

-- name: projects.captures_per_month
-- charts.captures_per_month: SourceImage.filter(project=P) per timestamp__month (local).
SELECT CAST(date_part('month', s.day) AS BIGINT) AS month, sum(s.captures) AS n
FROM capture_hours s
WHERE s.project_id = ${project} AND s.day IS NOT NULL
GROUP BY 1
ORDER BY 1

-- name: projects.detections_per_hour
-- charts.detections_per_hour: Detection.filter(build_occurrence_default_filters_q(project,
-- request=None, "occurrence")).filter(occurrence__project=P).exclude(source_image__timestamp
-- =None), per the capture's (local date, local hour). Null markers count; no .valid().
-- detection_hours (queries/11_facts.sql) holds one row per (project, passes its default
-- filters, date, hour).
SELECT d.hour, sum(d.detections) AS total, count(DISTINCT d.day) AS days
FROM detection_hours d
WHERE d.project_id = ${project} AND d.passes_defaults
GROUP BY 1
ORDER BY 1

-- name: projects.occurrences_per_month
-- charts.average_occurrences_per_month (occurrences) and charts.unique_species_per_month
-- (species: distinct determinations of any rank): Occurrence.apply_default_filters(P,
-- request=None).filter(project=P) per event__start__month (local); no .valid(). Occurrences
-- without an event have no month and are left out (Antenna drops the NULL month).
SELECT o.event_month AS month,
       count(*) AS occurrences,
       count(DISTINCT o.determination_id) AS species
FROM occurrence_facts o
WHERE o.project_id = ${project} AND o.event_month IS NOT NULL AND ${defaults}
GROUP BY 1
ORDER BY 1

-- name: projects.top_taxa
-- charts.project_top_taxa: Taxon.filter(occurrences__project=P).annotate(occurrence_count=
-- Count("occurrences", filter=<default filters>, distinct=True)): every taxon determining an
-- occurrence of P is a candidate, its count may be 0. Rows in taxon id order: the input order
-- of PostgreSQL's sort for .order_by("-occurrence_count")[:10], which projects_charts.rs
-- simulates (ties).
SELECT t.id, t.name,
       count(DISTINCT CASE WHEN o.passes_defaults THEN o.id END) AS occurrence_count
FROM occurrence_facts o
JOIN main_taxon t ON t.id = o.determination_id
WHERE o.project_id = ${project}
GROUP BY t.id, t.name
ORDER BY t.id

-- name: projects.pipeline
-- ProjectSettingsSerializer.default_processing_pipeline (PipelineNestedSerializer): the
-- project's pipeline ${pipeline}. Absent table or row: null.
SELECT pl.id, pl.name, pl.slug, pl.description, pl.version, pl.version_name,
       iso_dt(wall_clock(pl.created_at)) AS created, iso_dt(wall_clock(pl.updated_at)) AS updated
FROM ml_pipeline pl
WHERE pl.id = ${pipeline}
