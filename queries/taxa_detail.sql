-- Taxa detail and suggest: GET /api/v2/taxa/<id>/ and /api/v2/taxa/suggest/ (Antenna 731cc2a2
-- ami/main/api/views.py TaxonViewSet.retrieve / .suggest / .get_occurrence_filters /
-- .get_taxa_observed; ami/main/models.py TaxonQuerySet, Taxon.summary_data; ami/main/charts.py
-- average_occurrences_per_day / _per_month; ami/main/api/serializers.py TaxonSerializer,
-- TaxonOccurrenceNestedSerializer, TaxonSearchResultSerializer). Taxon conditions are over
-- `main_taxon t` with its parent `main_taxon p`; occurrence conditions over `occurrence_facts o` (every occurrence, queries/11_facts.sql).

-- name: taxa_detail.taxon
-- The taxon row (TaxonSerializer fields) and its parent (TaxonNoParentNestedSerializer).
-- ${conditions}: visibility and the filter backends' taxon conditions, AND-ed (TRUE when none).
SELECT t.id, t.name, t.rank, t.parents_json, t.gbif_taxon_key, t.fieldguide_id, t.inat_taxon_id,
       t.cover_image_url, t.cover_image_credit, t.common_name_en,
       p.id AS parent_id, p.name AS parent_name, p.rank AS parent_rank,
       p.gbif_taxon_key AS parent_gbif_taxon_key, p.fieldguide_id AS parent_fieldguide_id,
       p.inat_taxon_id AS parent_inat_taxon_id, p.cover_image_url AS parent_cover_image_url,
       p.cover_image_credit AS parent_cover_image_credit
FROM main_taxon t LEFT JOIN main_taxon p ON p.id = t.parent_id
WHERE t.id = ${taxon} AND ${conditions}

-- name: taxa_detail.visible
-- TaxonQuerySet.visible_for_user (not bound for a superuser): linked to a visible project
-- (main_taxon_projects) or the determination of an occurrence of one. ${projects}: the
-- `visible_projects` SELECT.
(t.id IN (SELECT taxon_id FROM main_taxon_projects WHERE project_id IN (${projects}))
 OR t.id IN (SELECT determination_id FROM occurrence_facts
             WHERE determination_id IS NOT NULL AND project_id IN (${projects})))

-- name: taxa_detail.exists
-- `Model.objects.get(id=v)` / a ModelChoiceField's `queryset.get(pk=v)`: no visibility check.
SELECT id FROM ${table} WHERE id = ${id}

-- name: taxa_detail.name
-- DjangoFilterBackend `name` (CharFilter, exact).
t.name = ${value}

-- name: taxa_detail.rank
-- DjangoFilterBackend `rank` (ChoiceFilter, exact).
t.rank = ${value}

-- name: taxa_detail.parent
-- DjangoFilterBackend `parent` (ModelChoiceFilter on the FK column).
t.parent_id = ${id}

-- name: taxa_detail.occurrences_of
-- DjangoFilterBackend `occurrences__event` / `occurrences__deployment` / `occurrences__project`
-- (ModelChoiceFilter across the reverse relation; TagInverseFilter's .distinct() removes the
-- join's duplicates): some occurrence of any project determined as the taxon has ${column} = v.
t.id IN (SELECT determination_id FROM occurrence_facts WHERE ${column} = ${id} AND determination_id IS NOT NULL)

-- name: taxa_detail.projects
-- DjangoFilterBackend `projects` (ModelMultipleChoiceFilter over main_taxon_projects, OR).
t.id IN (SELECT taxon_id FROM main_taxon_projects WHERE project_id IN (${ids}))

-- name: taxa_detail.search_term
-- SearchFilter (search_fields name, parent__name): one term, icontains on either
-- (UPPER(x) LIKE UPPER('%term%'), the term literal).
(strpos(upper(t.name), upper(${term})) > 0 OR coalesce(strpos(upper(p.name), upper(${term})) > 0, false))

-- name: taxa_detail.subtree
-- CustomTaxonFilter `taxon`: the taxon itself or parents_json contains {"id": v}.
t.id IN (SELECT taxon_id FROM taxon_ancestry WHERE ancestor_id = ${id})

-- name: taxa_detail.in_taxa_list
-- TaxonTaxaListFilter: in the list (${members} = main_taxalist_taxa) or also below one of its
-- taxa (${members} = taxa_list_members, include_descendants).
t.id IN (SELECT taxon_id FROM ${members} WHERE taxalist_id = ${list})

-- name: taxa_detail.counts
-- with_observation_counts_subqueries + with_verification_counts (no `collection` key).
-- ${occ_filters}: get_occurrence_filters beyond project and event-not-null (TRUE when none);
-- ${score}: the project's default score threshold (build_occurrence_default_filters_q) or
-- TRUE with apply_defaults=false. No default taxa filter (apply_default_taxa_filter=False)
-- and no validity test. occurrences_count / best / last_detected: the exact determination;
-- verified_count: the subtree (determination or its parents_json), non-withdrawn
-- identifications of any user.
-- The occurrences are read from occurrence_facts (queries/11_facts.sql, cached per project):
-- last_detected is the latest of their own latest detections, verified their `identified`.
WITH occ AS (
  SELECT o.id, o.determination_id, o.determination_score, o.last_detected, o.identified
  FROM occurrence_facts o
  WHERE o.project_id = ${project} AND o.event_id IS NOT NULL AND ${occ_filters} AND ${score}
)
SELECT
  (SELECT count(*) FROM occ WHERE determination_id = ${taxon}) AS occurrences_count,
  (SELECT max(determination_score) FROM occ WHERE determination_id = ${taxon}) AS best_determination_score,
  (SELECT iso_dt(wall_clock(max(last_detected)))
     FROM occ WHERE determination_id = ${taxon}) AS last_detected,
  (SELECT count(DISTINCT occ.id)
     FROM occ JOIN taxon_ancestry a ON a.taxon_id = occ.determination_id
     WHERE a.ancestor_id = ${taxon} AND occ.identified) AS verified_count

-- name: taxa_detail.counts_collection
-- with_observation_counts_aggregated (`collection=C` given): every count over occurrences with
-- a detection on a capture of C; last_detected over only those detections (the aggregates
-- share the detections join that the collection condition filters).
WITH occ AS (
  SELECT o.id, o.determination_id, o.determination_score
  FROM occurrence_facts o
  WHERE o.project_id = ${project} AND o.event_id IS NOT NULL AND ${occ_filters} AND ${score}
), coll_det AS (
  SELECT d.occurrence_id, d."timestamp"
  FROM main_detection d
  JOIN main_sourceimagecollection_images ci ON ci.sourceimage_id = d.source_image_id
  WHERE ci.sourceimagecollection_id = ${collection}
)
SELECT
  (SELECT count(*) FROM occ WHERE determination_id = ${taxon}
     AND id IN (SELECT occurrence_id FROM coll_det)) AS occurrences_count,
  (SELECT max(determination_score) FROM occ WHERE determination_id = ${taxon}
     AND id IN (SELECT occurrence_id FROM coll_det)) AS best_determination_score,
  (SELECT iso_dt(wall_clock(max(cd."timestamp"))) FROM occ JOIN coll_det cd ON cd.occurrence_id = occ.id
     WHERE occ.determination_id = ${taxon}) AS last_detected,
  (SELECT count(DISTINCT occ.id)
     FROM occ JOIN taxon_ancestry a ON a.taxon_id = occ.determination_id
     WHERE a.ancestor_id = ${taxon}
       AND occ.id IN (SELECT occurrence_id FROM coll_det)
       AND occ.id IN (SELECT occurrence_id FROM main_identification WHERE NOT withdrawn)) AS verified_count

-- name: taxa_detail.example_candidates
-- The `example_occurrences` prefetch (Occurrence.filter(get_occurrence_filters(P))[:1]): NO
-- score filter, no apply_defaults, no validity. Django slices it with ROW_NUMBER() OVER
-- (ORDER BY determination_score DESC); occlens feeds these rows, in heap (id) order, to
-- PostgreSQL's quicksort (events_pgsort::pg_qsort) and shows the first.
SELECT o.id, o.determination_score
FROM occurrence_facts o
WHERE o.determination_id = ${taxon} AND o.project_id = ${project} AND o.event_id IS NOT NULL
  AND ${occ_filters}
ORDER BY o.id

-- name: taxa_detail.example_candidates_collection
-- The same with `collection=C`: the detections join repeats an occurrence once per detection
-- of it on a capture of C; the repeats take part in the sort (fed in occurrence, detection order).
SELECT o.id, o.determination_score
FROM main_occurrence o
JOIN main_detection d ON d.occurrence_id = o.id
JOIN main_sourceimagecollection_images ci
  ON ci.sourceimage_id = d.source_image_id AND ci.sourceimagecollection_id = ${collection}
WHERE o.determination_id = ${taxon} AND o.project_id = ${project} AND o.event_id IS NOT NULL
  AND ${occ_filters}
ORDER BY o.id, d.id

-- name: taxa_detail.example
-- TaxonOccurrenceNestedSerializer of the chosen occurrence. best_detection:
-- detections.order_by("-classifications__score").first() (LEFT JOIN, NULL scores first, then
-- the first row in detection, classification order). duration: Occurrence.duration(), the last
-- appearance's capture minus the first's as NAIVE local datetimes (first = timestamp ASC NULLS
-- LAST, last = timestamp DESC NULLS FIRST; may be negative). Scalar subqueries over an empty
-- CTE fail in DataFusion 55, hence the aggregates over the CTEs.
WITH d AS (
  SELECT d.id, d.path, d."timestamp", d.source_image_id
  FROM main_detection d WHERE d.occurrence_id = ${occurrence}
), bd AS (
  SELECT d.id, d.path, d."timestamp"
  FROM d LEFT JOIN main_classification c ON c.detection_id = d.id
  ORDER BY c.score DESC NULLS FIRST, d.id, c.id
  LIMIT 1
), first_si AS (
  SELECT si."timestamp" FROM d JOIN main_sourceimage si ON si.id = d.source_image_id
  ORDER BY d."timestamp" ASC NULLS LAST, d.id LIMIT 1
), last_si AS (
  SELECT si."timestamp" FROM d JOIN main_sourceimage si ON si.id = d.source_image_id
  ORDER BY d."timestamp" DESC NULLS FIRST, d.id LIMIT 1
)
SELECT o.id, o.determination_score,
       dep.id AS deployment_id, dep.name AS deployment_name, dep.project_id AS deployment_project_id,
       e.id AS event_id, e.start AS event_start, e."end" AS event_end,
       b.bd_id, b.bd_path, iso_dt(wall_clock(b.bd_ts)) AS bd_timestamp,
       n.detections_count,
       arrow_cast(wall_clock(l.ts), 'Int64') - arrow_cast(wall_clock(f.ts), 'Int64') AS duration_us
FROM main_occurrence o
LEFT JOIN main_deployment dep ON dep.id = o.deployment_id
LEFT JOIN main_event e ON e.id = o.event_id
CROSS JOIN (SELECT max(id) AS bd_id, max(path) AS bd_path, max("timestamp") AS bd_ts FROM bd) b
CROSS JOIN (SELECT count(*) AS detections_count FROM d) n
CROSS JOIN (SELECT max("timestamp") AS ts FROM first_si) f
CROSS JOIN (SELECT max("timestamp") AS ts FROM last_si) l
WHERE o.id = ${occurrence}

-- name: taxa_detail.summary_day
-- Taxon.summary_data → charts.average_occurrences_per_day(project, taxon, request=None): the
-- project's default score threshold always (request=None), no other filter, no validity;
-- grouped by the local date of the event start (`event__start__date`; NULL-event occurrences
-- form a NULL group, which makes the result non-empty), in date order.
SELECT CAST(date_part('month', day) AS BIGINT) AS month, CAST(date_part('day', day) AS BIGINT) AS dom,
       n
FROM (
  SELECT CAST(wall_clock(e.start) AS DATE) AS day, count(*) AS n
  FROM occurrence_facts o LEFT JOIN main_event e ON e.id = o.event_id
  WHERE o.project_id = ${project} AND o.determination_id = ${taxon}
    AND o.determination_score >= (SELECT default_filters_score_threshold FROM main_project WHERE id = ${project})
  GROUP BY 1
)
ORDER BY day ASC NULLS LAST

-- name: taxa_detail.summary_month
-- charts.average_occurrences_per_month: the same set by the local month of the event start.
SELECT o.event_month AS month, count(*) AS n
FROM occurrence_facts o
WHERE o.project_id = ${project} AND o.determination_id = ${taxon} AND o.event_month IS NOT NULL
  AND o.determination_score >= (SELECT default_filters_score_threshold FROM main_project WHERE id = ${project})
GROUP BY 1 ORDER BY 1

-- name: taxa_suggest.candidates
-- TaxonViewSet.suggest: Taxon.objects.filter(active=True) with the parent
-- (TaxonNoParentNestedSerializer), in the order PostgreSQL's plan feeds its Sort node (Hash
-- Right Join probe order: parent id ascending, siblings id descending, parent-less taxa last).
-- The icontains match on name / search_names::text, pg_trgm similarity and the top-N sort
-- (ORDER BY similarity DESC LIMIT n, no tiebreak) are computed by occlens (taxa_detail_suggest.rs).
SELECT * FROM (
  SELECT t.id, t.name, t.rank, t.search_names, t.parent_id AS parent_key,
         p.id AS parent_id, p.name AS parent_name, p.rank AS parent_rank,
         p.gbif_taxon_key AS parent_gbif_taxon_key, p.fieldguide_id AS parent_fieldguide_id,
         p.inat_taxon_id AS parent_inat_taxon_id, p.cover_image_url AS parent_cover_image_url,
         p.cover_image_credit AS parent_cover_image_credit
  FROM main_taxon t LEFT JOIN main_taxon p ON p.id = t.parent_id
  WHERE t.active
)
ORDER BY parent_key IS NULL, parent_key, id DESC
