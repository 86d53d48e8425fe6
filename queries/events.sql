-- Events: GET /api/v2/events/ and /api/v2/events/<id>/ (Antenna 731cc2a2
-- ami/main/api/views.py EventViewSet; ami/main/api/serializers.py EventListSerializer,
-- EventSerializer; ami/main/models.py Event, EventQuerySet.with_taxa_count; ami/main/charts.py
-- event_detections_per_hour, event_top_taxa). Conditions are over `main_event e`; occlens ANDs
-- the ones a request needs into ${scope}.

-- name: events.scope
-- EventViewSet.get_queryset: qs.filter(deployment__isnull=False).
e.deployment_id IS NOT NULL

-- name: events.in_project
-- EventViewSet.get_queryset: qs.filter(project=project) when get_active_project() resolved one.
e.project_id = ${project}

-- name: events.visible
-- BaseQuerySet.visible_for_user on the event's own project (a NULL project is invisible to all
-- but the superuser, for whom occlens binds no condition). ${visible}: SELECT of project ids.
e.project_id IN (${visible})

-- name: events.of_deployment
-- django-filter filterset_fields = ["deployment"] (ModelChoiceFilter): deployment_id = v.
e.deployment_id = ${deployment}

-- name: events.id
-- The detail lookup (get_object: filter_queryset(get_queryset()).get(pk=id)).
e.id = ${id}

-- name: events.deployment_exists
-- ModelChoiceFilter's queryset is Deployment.objects.all(): any deployment, no visibility check.
SELECT count(*) AS n FROM main_deployment WHERE id = ${deployment}

-- name: events.member_projects
-- The projects a user holds a role in, for the capture actions of user_permissions
-- (BasicMember's star / run_single_image_ml_job): member or owner (roles follow membership,
-- tests/fixtures/antenna-oracle2/README.md step 3).
SELECT project_id AS id FROM main_userprojectmembership WHERE user_id = ${user}
UNION
SELECT id FROM main_project WHERE owner_id = ${user}

-- name: events.count
-- LimitOffsetPagination's count of the filtered queryset.
SELECT count(*) AS count FROM main_event e WHERE ${scope}

-- name: events.rows
-- The fields of EventListSerializer / EventSerializer from the event row (counts are the STORED
-- columns), the nested deployment (DeploymentNestedSerializer), the `duration` annotation
-- (F("end") - F("start"): elapsed time between the instants, NULL without an end) and the
-- sort keys of EventViewSet.ordering_fields as o_<field> (NullsLastOrderingFilter).
-- ${taxa_count}: the with_taxa_count annotation (`events.taxa_count` joined as tc) or 0 (the
-- Event.taxa_count() stub, without a project). ${order}: o_<field> ASC|DESC NULLS LAST terms.
SELECT * FROM (
  SELECT e.id, e.project_id, e.deployment_id,
    d.id AS deployment_row, d.name AS deployment_name, d.project_id AS deployment_project_id,
    e.start, e."end", e."end" - e.start AS duration,
    e.captures_count, e.detections_count, e.occurrences_count,
    ${taxa_count} AS taxa_count,
    e.created_at, e.updated_at,
    e.created_at AS o_created_at,
    e.updated_at AS o_updated_at,
    e.deployment_id AS o_deployment,
    e.start AS o_start,
    CAST(wall_clock(e.start) AS TIME) AS o_start__time,
    e.captures_count AS o_captures_count,
    e.detections_count AS o_detections_count,
    e.occurrences_count AS o_occurrences_count,
    ${taxa_count} AS o_taxa_count,
    e."end" - e.start AS o_duration
  FROM main_event e
  LEFT JOIN main_deployment d ON d.id = e.deployment_id
  ${taxa_join}
  WHERE ${scope}
)
ORDER BY ${order}
LIMIT ${limit} OFFSET ${offset}

-- name: events.taxa_count
-- EventQuerySet.with_taxa_count(project, request): Count("occurrences__determination",
-- distinct=True, filter=build_occurrence_default_filters_q(P, request, "occurrences")) over
-- EVERY occurrence of the event (any project, valid or not). ${defaults}: the `defaults`
-- fragment of request.sql bound to P, or TRUE with apply_defaults=false. Only with a project.
LEFT JOIN (
  SELECT o.event_id, count(DISTINCT o.determination_id) AS taxa_count
  FROM main_occurrence o
  WHERE o.event_id IS NOT NULL AND ${defaults}
  GROUP BY o.event_id
) tc ON tc.event_id = e.id

-- name: events.taxa_count_value
-- The annotation's value: Count(...) is 0, never NULL, for an event without qualifying rows.
coalesce(tc.taxa_count, 0)

-- name: events.example_captures
-- EventViewSet.get_queryset (list): Prefetch("captures", SourceImage.objects.order_by("-size")[:1])
-- = per event the capture with the largest size, PostgreSQL's DESC putting NULL sizes first
-- (ties undefined in Antenna; id is occlens's stand-in). Fields of
-- ExampleSourceImageNestedSerializer; the project's draft flag decides `thumbnails`.
SELECT * FROM (
  SELECT s.event_id, s.id, capture_url(s.public_base_url, s.path) AS url, s.width, s.height,
    s."timestamp", s.project_id, p.draft AS project_draft,
    row_number() OVER (PARTITION BY s.event_id ORDER BY s.size DESC NULLS FIRST, s.id) AS rn
  FROM main_sourceimage s
  LEFT JOIN main_project p ON p.id = s.project_id
  WHERE s.event_id IN (${events})
)
WHERE rn = 1

-- name: events.stats
-- Event.stats(): SourceImage.filter(event).annotate(count=Count("detections")) then Max/Min of
-- the counts (every detection, null markers included; 0 for a capture without any; NULL when
-- the event has no captures).
SELECT max(n) AS detections_max_count, min(n) AS detections_min_count
FROM (
  SELECT s.id, count(d.id) AS n
  FROM main_sourceimage s
  LEFT JOIN main_detection d ON d.source_image_id = s.id
  WHERE s.event_id = ${event}
  GROUP BY s.id
)

-- name: events.first_capture
-- Event.first_capture(): SourceImage.filter(event).order_by("timestamp").first() (ASC puts NULL
-- last; ties undefined, id is occlens's stand-in). Fields of EventCaptureNestedSerializer
-- (detections_count is the STORED column).
SELECT s.id, capture_url(s.public_base_url, s.path) AS url, s.width, s.height, s."timestamp",
  s.detections_count, s.project_id, p.draft AS project_draft
FROM main_sourceimage s
LEFT JOIN main_project p ON p.id = s.project_id
WHERE s.event_id = ${event}
ORDER BY s."timestamp" ASC NULLS LAST, s.id
LIMIT 1

-- name: events.capture_detections
-- first_capture.detections (CaptureDetectionsSerializer over SourceImage.detections): every
-- detection of the capture, null markers and detections of any occurrence included, with the
-- nested occurrence (CaptureOccurrenceSerializer) and its determination. Detection.Meta.ordering
-- is frame_num, timestamp: occlens sorts these rows (read in id order, PostgreSQL's scan order)
-- as PostgreSQL's quicksort does on those keys (events_pgsort.rs), which orders their ties.
SELECT d.id, d.path, d.bbox, d.frame_num, d."timestamp",
  o.id AS occurrence_id, o.determination_score,
  t.id AS taxon_id, t.name AS taxon_name, t.rank AS taxon_rank, t.gbif_taxon_key,
  t.fieldguide_id, t.inat_taxon_id, t.cover_image_url, t.cover_image_credit
FROM main_detection d
LEFT JOIN main_occurrence o ON o.id = d.occurrence_id
LEFT JOIN main_taxon t ON t.id = o.determination_id
WHERE d.source_image_id = ${capture}
ORDER BY d.id

-- name: events.occurrence_project
-- charts: occurrence__project=<the event's project>.
o.project_id = ${project}

-- name: events.occurrence_no_project
-- charts when the event has no project: occurrence__project=None, and no default filters.
o.project_id IS NULL

-- name: events.detections_per_hour
-- charts.event_detections_per_hour (called by Event.summary_data() WITHOUT the request, so the
-- default filters of the event's project always apply: ${defaults}): detections whose
-- occurrence is in the event and in the event's project (${occurrence_project}), their capture
-- timestamp not NULL, counted per local hour of the capture, hours ascending (the rotation
-- shift_to_nighttime and the labels are rendering, in Rust).
SELECT CAST(date_part('hour', wall_clock(s."timestamp")) AS BIGINT) AS hour, count(d.id) AS n
FROM main_detection d
JOIN main_occurrence o ON o.id = d.occurrence_id
JOIN main_sourceimage s ON s.id = d.source_image_id
WHERE o.event_id = ${event} AND ${occurrence_project} AND s."timestamp" IS NOT NULL
  AND ${defaults}
GROUP BY 1
ORDER BY 1

-- name: events.top_taxa
-- charts.event_top_taxa: Taxon.filter(occurrences__project=P, occurrences__event=E)
-- .values("name").annotate(Count("occurrences", filter=defaults, distinct=True)): every taxon
-- NAME determined for an occurrence of the event in its project, with the number of those
-- occurrences passing the defaults (0 kept). Rows come in name order, the order of
-- PostgreSQL's GroupAggregate (COUNT(DISTINCT) sorts by the group key); the
-- ORDER BY count DESC LIMIT 10 is applied in Rust as PostgreSQL's bounded sort does
-- (events_pgsort.rs), which decides its ties and which of them make the cut.
SELECT t.name, count(DISTINCT ps.id) AS n
FROM main_occurrence o
JOIN main_taxon t ON t.id = o.determination_id
LEFT JOIN (
  SELECT o.id FROM main_occurrence o WHERE o.event_id = ${event} AND ${defaults}
) ps ON ps.id = o.id
WHERE o.event_id = ${event} AND ${occurrence_project}
GROUP BY t.name
ORDER BY lower(t.name), t.name

-- name: events.capture_subject
-- EventSerializer.get_capture_page_offset: ?capture= (SourceImage.objects.get(pk)) or
-- ?detection= (Detection.objects.get(pk).source_image): any capture, no visibility check.
SELECT s.id, s.event_id, s."timestamp" FROM main_sourceimage s WHERE s.id = ${capture}

-- name: events.detection_capture
-- ?detection= : Detection.objects.get(pk).source_image.
SELECT d.source_image_id AS capture_id FROM main_detection d WHERE d.id = ${detection}

-- name: events.occurrence_exists
-- ?occurrence= : Occurrence.objects.get(pk) (any occurrence; DoesNotExist is a 500).
SELECT count(*) AS n FROM main_occurrence WHERE id = ${occurrence}

-- name: events.occurrence_first_capture
-- ?occurrence= : Occurrence.first_appearance = the capture of the occurrence's first detection
-- by timestamp (ASC NULLS LAST; ties undefined, id is occlens's stand-in), null markers included.
SELECT s.id, s.event_id, s."timestamp"
FROM main_detection d
JOIN main_sourceimage s ON s.id = d.source_image_id
WHERE d.occurrence_id = ${occurrence}
ORDER BY d."timestamp" ASC NULLS LAST, d.id
LIMIT 1

-- name: events.capture_at
-- ?timestamp= : event.captures.filter(timestamp=ts).first(); ${ts}: the instant in µs, as a UTC
-- instant (a zone-less value would be compared as a wall-clock time of the column's zone).
SELECT s.id, s.event_id, s."timestamp"
FROM main_sourceimage s
WHERE s.event_id = ${event} AND s."timestamp" = to_timestamp_micros(${ts}) AT TIME ZONE 'UTC'
ORDER BY s.id
LIMIT 1

-- name: events.captures_before
-- The offset: SourceImage.filter(event=E, timestamp__lt=<the subject capture's timestamp>).count().
SELECT count(*) AS n
FROM main_sourceimage s
WHERE s.event_id = ${event} AND s."timestamp" < to_timestamp_micros(${ts}) AT TIME ZONE 'UTC'
