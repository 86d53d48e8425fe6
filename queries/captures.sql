-- Captures: GET /api/v2/captures/ and /api/v2/captures/<id>/ (Antenna 731cc2a2
-- ami/main/api/views.py SourceImageViewSet; ami/main/api/serializers.py
-- SourceImageListSerializer, SourceImageSerializer, CaptureDetectionsSerializer; ami/main/models.py
-- SourceImage, SourceImageQuerySet). Conditions are over `main_sourceimage s` (and its
-- deployment `dep`); occlens ANDs the ones a request needs into ${scope}.

-- name: captures.rows
-- The fields of SourceImageListSerializer / SourceImageSerializer from the capture row:
-- detections_count is the STORED column; `last_processed` the annotation of
-- annotate_last_processed (the newest detection's created_at, null markers included:
-- `ORDER BY created_at DESC LIMIT 1`, where PostgreSQL puts a NULL created_at first); the
-- nested deployment and event; the sort keys of ordering_fields (NullsLastOrderingFilter).
-- ${counts}: with_occurrences_count / with_taxa_count (`captures.counts` joined as oc) or NULLs
-- (SourceImage.occurrences_count() and taxa_count() return None without the annotation).
SELECT s.id, s.path, capture_url(s.public_base_url, s.path) AS url, s."timestamp",
  s.width, s.height, s.size, s.detections_count, s.project_id, p.draft AS project_draft,
  s.uploaded_by_id, s.test_image, s.created_at, s.updated_at,
  dep.id AS deployment_row, dep.name AS deployment_name, dep.project_id AS deployment_project_id,
  ev.id AS event_row, ev.start AS event_start, ev."end" AS event_end,
  lp.last_processed,
  ${counts}
FROM main_sourceimage s
LEFT JOIN main_project p ON p.id = s.project_id
LEFT JOIN main_deployment dep ON dep.id = s.deployment_id
LEFT JOIN main_event ev ON ev.id = s.event_id
LEFT JOIN (
  SELECT source_image_id,
    CASE WHEN count(*) > count(created_at) THEN NULL ELSE max(created_at) END AS last_processed
  FROM main_detection
  GROUP BY source_image_id
) lp ON lp.source_image_id = s.id
${counts_join}
WHERE ${scope}
ORDER BY ${order}

-- name: captures.counts
-- with_occurrences_count / with_taxa_count: the distinct occurrences (and their distinct
-- determinations) of the capture's detections under the project's default filters
-- (${defaults}: build_occurrence_default_filters_q; TRUE with apply_defaults=false).
-- Occurrences and detections are not restricted to valid ones.
LEFT JOIN (
  SELECT d.source_image_id AS id,
    count(DISTINCT o.id) AS occurrences,
    count(DISTINCT o.determination_id) AS taxa
  FROM main_detection d
  JOIN main_occurrence o ON o.id = d.occurrence_id
  WHERE ${defaults}
  GROUP BY d.source_image_id
) oc ON oc.id = s.id

-- name: captures.counts_values
coalesce(oc.occurrences, 0) AS occurrences_count, coalesce(oc.taxa, 0) AS taxa_count

-- name: captures.no_counts
CAST(NULL AS BIGINT) AS occurrences_count, CAST(NULL AS BIGINT) AS taxa_count

-- name: captures.visible
-- BaseQuerySet.visible_for_user on the capture's own project (a capture without a project is
-- invisible to all but the superuser, for whom occlens binds no condition).
s.project_id IN (${visible})

-- name: captures.id
-- The detail lookup (get_object: filter_queryset(get_queryset()).get(pk=id)).
s.id = ${id}

-- name: captures.event
-- filterset_fields "event" (ModelChoiceFilter).
s.event_id = ${value}

-- name: captures.deployment
-- filterset_fields "deployment" (ModelChoiceFilter).
s.deployment_id = ${value}

-- name: captures.deployment_project
-- filterset_fields "deployment__project" (ModelChoiceFilter): the deployment's project.
dep.project_id = ${value}

-- name: captures.project
-- filterset_fields "project" and "project_id" (ModelChoiceFilter): the capture's own project.
s.project_id = ${value}

-- name: captures.collections
-- filterset_fields "collections" (ModelMultipleChoiceFilter over the M2M: any of the sets).
s.id IN (SELECT sourceimage_id FROM main_sourceimagecollection_images
         WHERE sourceimagecollection_id IN (${ids}))

-- name: captures.processed
-- filter_by_processed (with_was_processed): the capture has any detection, null markers
-- included. ${not}: empty for processed=true, NOT for false.
${not} EXISTS (SELECT 1 FROM main_detection d WHERE d.source_image_id = s.id)

-- name: captures.has_detections
-- filter_by_has_detections: the capture has a valid detection (bbox IS NOT NULL).
${not} EXISTS (SELECT 1 FROM main_detection d WHERE d.source_image_id = s.id AND d.bbox IS NOT NULL)

-- name: captures.detections
-- prefetch_detections: the VALID detections (Detection.objects.valid(): bbox IS NOT NULL) of
-- the captures ${captures}, with the nested occurrence (CaptureOccurrenceSerializer: its
-- STORED determination_score) and its determination, and `occurrence_meets_criteria`: the
-- occurrence is among Occurrence.objects.apply_default_filters(project, request) (${defaults};
-- TRUE with apply_defaults=false), false without an occurrence. The Max annotation groups the
-- query, so Django drops Detection.Meta.ordering: Antenna's order is the aggregate's, undefined;
-- occlens's is the id.
SELECT d.id, d.source_image_id, d.path, d.bbox, d.frame_num, d."timestamp",
  o.id AS occurrence_id, o.determination_score,
  t.id AS taxon_id, t.name AS taxon_name, t.rank AS taxon_rank, t.gbif_taxon_key,
  t.fieldguide_id, t.inat_taxon_id, t.cover_image_url, t.cover_image_credit,
  q.id IS NOT NULL AS occurrence_meets_criteria
FROM main_detection d
LEFT JOIN main_occurrence o ON o.id = d.occurrence_id
LEFT JOIN main_taxon t ON t.id = o.determination_id
LEFT JOIN (SELECT o.id FROM main_occurrence o WHERE ${defaults}) q ON q.id = d.occurrence_id
WHERE d.source_image_id IN (${captures}) AND d.bbox IS NOT NULL
ORDER BY d.id

-- name: captures.adjacent
-- add_adjacent_captures (the detail): among the captures of the same event, the next one
-- (`timestamp > mine ORDER BY timestamp LIMIT 1`), the previous one (`timestamp < mine ORDER BY
-- -timestamp LIMIT 1`; ties undefined in Antenna, id is occlens's stand-in), the count with
-- `timestamp <= mine` and the event's total, each a GROUP BY subquery: NULL, not 0, when no
-- capture matches (no event, or no timestamp).
SELECT
  first_value(p.id ORDER BY p."timestamp" ASC, p.id ASC)
    FILTER (WHERE p."timestamp" > me."timestamp") AS event_next_capture_id,
  first_value(p.id ORDER BY p."timestamp" DESC, p.id ASC)
    FILTER (WHERE p."timestamp" < me."timestamp") AS event_prev_capture_id,
  nullif(count(p.id) FILTER (WHERE p."timestamp" <= me."timestamp"), 0) AS event_current_capture_index,
  nullif(count(p.id), 0) AS event_total_captures
FROM main_sourceimage me
LEFT JOIN main_sourceimage p ON p.event_id = me.event_id
WHERE me.id = ${capture}

-- name: captures.sets
-- The detail's `collections` (SourceImageCollectionNestedSerializer over the M2M prefetch; no
-- Meta ordering: occlens orders by id).
SELECT ci.sourceimage_id AS capture_id, c.id, c.name, c.method, c.project_id
FROM main_sourceimagecollection_images ci
JOIN main_sourceimagecollection c ON c.id = ci.sourceimagecollection_id
WHERE ci.sourceimage_id = ${capture}
ORDER BY c.id
