-- Deployments: GET /api/v2/deployments/ and /api/v2/deployments/<id>/ (Antenna 731cc2a2
-- ami/main/api/views.py DeploymentViewSet; ami/main/api/serializers.py DeploymentListSerializer,
-- DeploymentSerializer; ami/main/models.py Deployment). Conditions are over `main_deployment d`;
-- occlens ANDs the ones a request needs into ${scope}.

-- name: deployments.in_project
-- DeploymentViewSet.get_queryset: qs.filter(project=project) when a project was resolved.
d.project_id = ${project}

-- name: deployments.visible
-- BaseQuerySet.visible_for_user on the deployment's project (NULL project: superuser only, for
-- whom occlens binds no condition). ${visible}: SELECT of project ids.
d.project_id IN (${visible})

-- name: deployments.id
-- The detail lookup (get_object: get_queryset().get(pk=id)).
d.id = ${id}

-- name: deployments.count
-- LimitOffsetPagination's count of the filtered queryset.
SELECT count(*) AS count FROM main_deployment d WHERE ${scope}

-- name: deployments.rows
-- The fields of DeploymentListSerializer / DeploymentSerializer from the row: the counts and
-- first/last capture timestamps are the STORED columns (occurrences_count is stale in the
-- fixture and read as stored), the nested project (ProjectNestedSerializer), device
-- (DeviceNestedSerializer) and research site (SiteNestedSerializer). ImageFields: NULL or ''
-- is no file. Sort keys of DeploymentViewSet.ordering_fields as o_<field>; ${order} holds
-- o_<field> ASC|DESC NULLS LAST terms (NullsLastOrderingFilter), default Meta ordering name.
SELECT * FROM (
  SELECT d.id, d.name, nullif(d.image, '') AS image,
    d.events_count, d.captures_count, d.occurrences_count, d.taxa_count,
    d.project_id, p.id AS project_row, p.name AS project_name, nullif(p.image, '') AS project_image,
    d.created_at, d.updated_at, d.latitude, d.longitude,
    d.first_capture_timestamp, d.last_capture_timestamp,
    d.device_id, dv.id AS device_row, dv.name AS device_name,
    d.research_site_id, rs.id AS site_row, rs.name AS site_name,
    d.data_source_id,
    d.data_source_total_files, d.data_source_total_size, d.data_source_last_checked,
    d.data_source_subdir, d.data_source_regex, d.description,
    d.created_at AS o_created_at,
    d.updated_at AS o_updated_at,
    d.captures_count AS o_captures_count,
    d.events_count AS o_events_count,
    d.occurrences_count AS o_occurrences_count,
    d.taxa_count AS o_taxa_count,
    d.first_capture_timestamp AS o_first_capture_timestamp,
    d.last_capture_timestamp AS o_last_capture_timestamp,
    d.name AS o_name
  FROM main_deployment d
  LEFT JOIN main_project p ON p.id = d.project_id
  LEFT JOIN main_device dv ON dv.id = d.device_id
  LEFT JOIN main_site rs ON rs.id = d.research_site_id
  WHERE ${scope}
)
ORDER BY ${order}
LIMIT ${limit} OFFSET ${offset}

-- name: deployments.events
-- DeploymentSerializer.events (DeploymentEventNestedSerializer over deployment.events): EVERY
-- event of the deployment (any project, no visibility filter), Event.Meta.ordering = start;
-- occurrences_count is the STORED column (taxa_count is the Event.taxa_count() stub: 0).
SELECT e.id, e.start, e."end", e.occurrences_count
FROM main_event e
WHERE e.deployment_id = ${deployment}
ORDER BY e.start, e.id

-- name: deployments.capture_sizes
-- DeploymentViewSet.get_queryset (retrieve): Prefetch("captures",
-- SourceImage.objects.order_by("-size")[:10]) = ROW_NUMBER() OVER (PARTITION BY deployment
-- ORDER BY size DESC) <= 10. Every capture of the deployment in id order (PostgreSQL's scan
-- order) with its size: occlens sorts them as PostgreSQL's quicksort does (size DESC, NULL
-- first; events_pgsort.rs), which decides the order of the heavily tied sizes and which ties
-- make the cut, then keeps the first 10.
SELECT s.id, s.size
FROM main_sourceimage s
WHERE s.deployment_id = ${deployment}
ORDER BY s.id

-- name: deployments.example_captures
-- The fields of DeploymentCaptureNestedSerializer for the chosen captures (${captures}); the
-- nested event is MinimalEventNestedSerializer (id, details).
SELECT s.id, capture_url(s.public_base_url, s.path) AS url, s.width, s.height, s."timestamp",
  s.event_id, s.project_id
FROM main_sourceimage s
WHERE s.id IN (${captures})

-- name: deployments.data_source
-- DeploymentSerializer.get_data_source: the storage source (StorageSourceNestedSerializer: id,
-- name) of ${source}, with what its uri is made of (S3StorageSource.uri: bucket, prefix) and
-- its project (permissions). Absent table or row: no data source.
SELECT s.id, s.name, s.bucket, s.prefix, s.project_id
FROM main_s3storagesource s
WHERE s.id = ${source}

-- name: deployments.jobs
-- DeploymentListSerializer.jobs (JobStatusSerializer) over deployment.jobs of each of
-- ${deployments} (the optional jobs_job table), in Job.Meta.ordering (-created_at; id
-- descending among equal times is occlens's tiebreak). type_name: the JobType.name of
-- job_type_key in VALID_JOB_TYPES (ami/jobs/models.py); NULL for a key Antenna cannot resolve
-- (Job.job_type() raises ValueError: the response is a 500).
WITH job_type(key, name) AS (
  VALUES ('ml', 'ML pipeline'), ('populate_captures_collection', 'Populate capture set'),
         ('data_storage_sync', 'Data storage sync'), ('regroup_events', 'Regroup sessions'),
         ('unknown', 'Unknown'), ('data_export', 'Data Export'),
         ('post_processing', 'Post Processing')
)
SELECT j.deployment_id, j.id, j.status, j.job_type_key, jt.name AS type_name, j.project_id,
       iso_dt(wall_clock(j.created_at)) AS created, iso_dt(wall_clock(j.updated_at)) AS updated
FROM jobs_job j
LEFT JOIN job_type jt ON jt.key = j.job_type_key
WHERE j.deployment_id IN (${deployments})
ORDER BY j.deployment_id, j.created_at DESC, j.id DESC
