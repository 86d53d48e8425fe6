-- Capture sets (`/api/v2/captures/collections/`; Antenna 731cc2a2: SourceImageCollectionViewSet
-- of ami/main/api/views.py, SourceImageCollectionQuerySet of ami/main/models.py). Named
-- fragments: src/api/endpoints/collections.rs binds them.

-- name: collections.rows
-- The queryset's annotations: with_source_images_count (distinct images),
-- with_source_images_with_detections_count (images with a detection whose bbox is not NULL:
-- `~null_detections_q`), with_source_images_processed_count (images with any detection);
-- ${counts}: occurrences_count and taxa_count (with_counts) or NULLs. ${scope}: the project
-- and the requester's visible projects; ${filter}: the filterset and the detail's id.
SELECT c.id, c.name, c.project_id, c.method, c.kwargs, c.description,
       iso_dt(wall_clock(c.created_at)) AS created_at,
       iso_dt(wall_clock(c.updated_at)) AS updated_at,
       coalesce(n.images, 0) AS source_images_count,
       coalesce(n.with_detections, 0) AS source_images_with_detections_count,
       coalesce(n.processed, 0) AS source_images_processed_count,
       ${counts}
FROM main_sourceimagecollection c
LEFT JOIN (
  SELECT ci.sourceimagecollection_id AS id,
         count(DISTINCT ci.sourceimage_id) AS images,
         count(DISTINCT CASE WHEN d.bbox IS NOT NULL THEN ci.sourceimage_id END) AS with_detections,
         count(DISTINCT CASE WHEN d.id IS NOT NULL THEN ci.sourceimage_id END) AS processed
  FROM main_sourceimagecollection_images ci
  LEFT JOIN main_detection d ON d.source_image_id = ci.sourceimage_id
  GROUP BY ci.sourceimagecollection_id
) n ON n.id = c.id
${counts_join}
WHERE (${scope}) AND (${filter})
ORDER BY ${order}

-- name: collections.counts
-- with_occurrences_count / with_taxa_count: the distinct occurrences (and their distinct
-- determinations) of the detections on the set's images, under the project's default
-- filters (${defaults}: build_occurrence_default_filters_q; none without a project or with
-- apply_defaults=false). Occurrences are not restricted to valid ones.
LEFT JOIN (
  SELECT ci.sourceimagecollection_id AS id,
         count(DISTINCT o.id) AS occurrences,
         count(DISTINCT o.determination_id) AS taxa
  FROM main_sourceimagecollection_images ci
  JOIN main_detection d ON d.source_image_id = ci.sourceimage_id
  JOIN main_occurrence o ON o.id = d.occurrence_id
  WHERE ${defaults}
  GROUP BY ci.sourceimagecollection_id
) oc ON oc.id = c.id

-- name: collections.counts_values
coalesce(oc.occurrences, 0) AS occurrences_count, coalesce(oc.taxa, 0) AS taxa_count

-- name: collections.no_counts
CAST(NULL AS BIGINT) AS occurrences_count, CAST(NULL AS BIGINT) AS taxa_count

-- name: collections.method
-- filterset_fields "method": exact.
c.method = ${value}
