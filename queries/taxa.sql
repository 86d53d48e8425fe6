-- Taxa list: GET /api/v2/taxa/ (src/api/endpoints/taxa.rs, taxa_list_params.rs).
-- Antenna 731cc2a2: ami/main/api/views.py TaxonViewSet (get_queryset, get_taxa_observed,
-- get_occurrence_filters), CustomTaxonFilter, TaxonTaxaListFilter, TaxonTagFilter,
-- TagInverseFilter; ami/main/models.py TaxonQuerySet (with_observation_counts_subqueries /
-- _aggregated, observed_in_project_subqueries, with_verification_counts,
-- filter_by_project_default_taxa, visible_for_user); ami/main/models_future/filters.py
-- build_occurrence_default_filters_q; ami/main/api/serializers.py TaxonListSerializer.
-- Timestamps are rendered as Antenna's naive America/New_York wall clock (USE_TZ=False).

-- name: taxa.list
-- With a project ${project}. occ = get_occurrence_filters(project) (project, event not null,
-- ?occurrence/?deployment/?event/?collection, each bound in ${occ_where}) AND
-- build_occurrence_default_filters_q (score threshold and default taxa unless
-- apply_defaults=false). No .valid(): occurrences without detections count too.
-- The occurrences are read from occurrence_facts (queries/11_facts.sql: every occurrence,
-- cached per project), never from their detections or identifications.
-- direct: occurrences_count (Coalesce(Count, 0)) and best_determination_score (Max score)
-- over occurrences determined exactly as t. last: last_detected (Max detection timestamp);
-- ${last} is taxa.last.all, or taxa.last.collection on the aggregated ?collection= path.
-- ver: with_verification_counts: distinct occurrences with a non-withdrawn identification
-- whose determination is t or below t (determination id and its parents_json ids).
-- ${taxon_where}: the row conditions (visibility, default taxa, observed, verified and the
-- taxon-level filters); ${order}: NullsLastOrderingFilter terms or Meta.ordering, then id.
-- Times stay timestamps: only the page's rows are rendered (naive local ISO, in taxa.rs).
WITH occ AS (
  SELECT o.id, o.determination_id, o.determination_score, o.last_detected, o.identified
  FROM occurrence_facts o
  WHERE o.project_id = ${project} AND o.event_id IS NOT NULL AND ${occ_where}
), direct AS (
  SELECT determination_id AS taxon_id, count(*) AS n, max(determination_score) AS best,
         max(last_detected) AS last_detected
  FROM occ WHERE determination_id IS NOT NULL GROUP BY determination_id
), last AS (
  ${last}
), ver AS (
  SELECT a.ancestor_id AS taxon_id, count(DISTINCT o.id) AS n
  FROM occ o JOIN taxon_ancestry a ON a.taxon_id = o.determination_id
  WHERE o.identified
  GROUP BY a.ancestor_id
)
SELECT t.id, t.name, t.rank, t.parent_id, t.parents_json,
       coalesce(direct.n, 0) AS occurrences_count,
       coalesce(ver.n, 0) AS verified_count,
       last.ts AS last_detected,
       direct.best AS best_determination_score,
       t.cover_image_url, t.created_at, t.updated_at
FROM main_taxon t
LEFT JOIN main_taxon par ON par.id = t.parent_id
LEFT JOIN direct ON direct.taxon_id = t.id
LEFT JOIN last ON last.taxon_id = t.id
LEFT JOIN ver ON ver.taxon_id = t.id
WHERE ${taxon_where}
ORDER BY ${order}

-- name: taxa.list_no_project
-- Without a project (absent, 0 or unknown): get_queryset annotates occurrences_count =
-- Value(None); verified_count, last_detected and best_determination_score are Taxon methods
-- that return None. The occurrence-scope parameters are not read.
SELECT t.id, t.name, t.rank, t.parent_id, t.parents_json,
       CAST(NULL AS BIGINT) AS occurrences_count,
       CAST(NULL AS BIGINT) AS verified_count,
       CAST(NULL AS TIMESTAMP) AS last_detected,
       CAST(NULL AS DOUBLE) AS best_determination_score,
       t.cover_image_url, t.created_at, t.updated_at
FROM main_taxon t
LEFT JOIN main_taxon par ON par.id = t.parent_id
WHERE ${taxon_where}
ORDER BY ${order}

-- name: taxa.exists
-- Model.objects.get(id=…) / ModelChoiceField / TaxaList.objects.filter(id=…).first():
-- whether a row with this id exists in ${table}.
SELECT id FROM ${table} WHERE id = ${id}

-- name: taxa.occ.occurrence
-- get_occurrence_filters: ?occurrence → Q(id=…).
o.id = ${id}

-- name: taxa.occ.deployment
-- get_occurrence_filters: ?deployment (else ?occurrences__deployment) → Q(deployment=…).
o.deployment_id = ${id}

-- name: taxa.occ.event
-- get_occurrence_filters: ?event (else ?occurrences__event) → Q(event=…).
o.event_id = ${id}

-- name: taxa.occ.collection
-- get_occurrence_filters: ?collection → Q(detections__source_image__collections=…).
o.id IN (SELECT d.occurrence_id FROM main_detection d
         JOIN main_sourceimagecollection_images ci ON ci.sourceimage_id = d.source_image_id
         WHERE ci.sourceimagecollection_id = ${id})

-- name: taxa.occ.defaults
-- build_occurrence_default_filters_q (apply_defaults): determination_score >= the project's
-- default_filters_score_threshold, determination in the include/exclude taxa trees.
o.determination_score >= (SELECT default_filters_score_threshold FROM main_project WHERE id = ${project})
AND o.determination_id IN (SELECT taxon_id FROM default_filter_taxa WHERE project_id = ${project})

-- name: taxa.last.all
-- with_observation_counts_subqueries: Max(detections__timestamp) of the occurrences determined
-- as t: the latest of their own latest detections (null markers included), taken in direct.
SELECT taxon_id, last_detected AS ts FROM direct

-- name: taxa.last.collection
-- with_observation_counts_aggregated with ?collection=<id>: Max(detections__timestamp) shares
-- the detections join of the collection filter, so only detections on its captures count.
SELECT o.determination_id AS taxon_id, max(d."timestamp") AS ts
FROM occ o JOIN main_detection d ON d.occurrence_id = o.id
WHERE d.source_image_id IN (SELECT sourceimage_id FROM main_sourceimagecollection_images
                            WHERE sourceimagecollection_id = ${id})
GROUP BY o.determination_id

-- name: taxa.visible
-- TaxonQuerySet.visible_for_user (non-superusers): linked to a visible project
-- (main_taxon_projects) or the determination of an occurrence of one (any validity).
-- ${projects}: the visible_projects fragment of queries/endpoints.sql.
(t.id IN (SELECT taxon_id FROM main_taxon_projects WHERE project_id IN (${projects}))
 OR t.id IN (SELECT determination_id FROM occurrence_facts
             WHERE determination_id IS NOT NULL AND project_id IN (${projects})))

-- name: taxa.default_taxa
-- TaxonQuerySet.filter_by_project_default_taxa (unless apply_defaults=false): the project's
-- include taxa and their descendants, minus the exclude taxa and theirs.
t.id IN (SELECT taxon_id FROM default_filter_taxa WHERE project_id = ${project})

-- name: taxa.observed
-- observed_in_project_subqueries / HAVING occurrences_count > 0 (unless ?include_unobserved).
coalesce(direct.n, 0) > 0

-- name: taxa.verified
-- with_verification_counts(verified=True): filter(id__in=verified_counts.keys()).
ver.n IS NOT NULL

-- name: taxa.unverified
-- with_verification_counts(verified=False): exclude(id__in=verified_counts.keys()).
ver.n IS NULL

-- name: taxa.best_score
-- TaxonBestScoreFilter (ThresholdFilter): best_determination_score__gte (NULL fails).
direct.best >= ${value}

-- name: taxa.name
-- filterset_fields name: exact, case-sensitive.
t.name = ${value}

-- name: taxa.rank
-- filterset_fields rank (ChoiceFilter over TaxonRank names).
t.rank = ${value}

-- name: taxa.parent
-- filterset_fields parent: the parent_id foreign key (not parents_json).
t.parent_id = ${id}

-- name: taxa.occurrences_event
-- filterset_fields occurrences__event: some occurrence (any project, validity, no defaults)
-- determined as t in this event.
t.id IN (SELECT determination_id FROM occurrence_facts
         WHERE determination_id IS NOT NULL AND event_id = ${id})

-- name: taxa.occurrences_deployment
-- filterset_fields occurrences__deployment.
t.id IN (SELECT determination_id FROM occurrence_facts
         WHERE determination_id IS NOT NULL AND deployment_id = ${id})

-- name: taxa.occurrences_project
-- filterset_fields occurrences__project (independent of ?project_id).
t.id IN (SELECT determination_id FROM occurrence_facts
         WHERE determination_id IS NOT NULL AND project_id = ${id})

-- name: taxa.projects
-- filterset_fields projects (ModelMultipleChoiceFilter, OR over the values): the M2M table.
t.id IN (SELECT taxon_id FROM main_taxon_projects WHERE project_id IN (${ids}))

-- name: taxa.search_term
-- SearchFilter over search_fields name, parent__name: icontains (UPPER(x) LIKE UPPER('%term%'),
-- the term's % and _ literal); the FK parent's name, NULL parent never matches.
(strpos(upper(t.name), upper(${term})) > 0
 OR coalesce(strpos(upper(par.name), upper(${term})) > 0, false))

-- name: taxa.taxon
-- CustomTaxonFilter: Q(id=X) | Q(parents_json__contains=[{"id": X}]).
t.id IN (SELECT taxon_id FROM taxon_ancestry WHERE ancestor_id = ${id})

-- name: taxa.in_list
-- TaxonTaxaListFilter._get_filter with include_descendants: the list's taxa and every taxon
-- whose parents_json holds one of them.
t.id IN (SELECT taxon_id FROM taxa_list_members WHERE taxalist_id = ${id})

-- name: taxa.in_list_direct
-- TaxonTaxaListFilter._get_filter with include_descendants false: the list's taxa only.
t.id IN (SELECT taxon_id FROM main_taxalist_taxa WHERE taxalist_id = ${id})

-- name: taxa.tagged
-- TaxonTagFilter (?tag_id=, OR over the values): `filter(tags__id__in=ids).distinct()`.
t.id IN (SELECT taxon_id FROM main_taxon_tags WHERE tag_id IN (${ids}))

-- name: taxa.not_tagged
-- TagInverseFilter (?not_tag_id=): `exclude(tags__id__in=ids)`.
t.id NOT IN (SELECT taxon_id FROM main_taxon_tags WHERE tag_id IN (${ids}) AND taxon_id IS NOT NULL)

-- name: taxa.tags
-- TaxonViewSet.attach_tags_by_project (a project P is given): each taxon of ${taxa} with its
-- tags of P or global (project NULL), and TagSerializer's nested project (ProjectNested-
-- Serializer: id, name, image). The prefetch has no ORDER BY; occlens orders by tag id.
SELECT tt.taxon_id, g.id, g.name, g.project_id, p.id AS project_row, p.name AS project_name,
       nullif(p.image, '') AS project_image
FROM main_taxon_tags tt
JOIN main_tag g ON g.id = tt.tag_id
LEFT JOIN main_project p ON p.id = g.project_id
WHERE tt.taxon_id IN (${taxa}) AND (g.project_id = ${project} OR g.project_id IS NULL)
ORDER BY tt.taxon_id, g.id

-- name: taxa.tag_taxa
-- TagSerializer.get_taxa: every taxon holding the tag (`obj.taxa.all()`, Taxon.Meta.ordering).
SELECT tt.tag_id, t.id, t.name
FROM main_taxon_tags tt
JOIN main_taxon t ON t.id = tt.taxon_id
WHERE tt.tag_id IN (${tags})
ORDER BY tt.tag_id, t.ordering ASC NULLS LAST, lower(t.name), t.name, t.id
