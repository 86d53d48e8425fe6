-- ML algorithms and their category maps (`/api/v2/ml/algorithms/`, `/api/v2/ml/labels/`;
-- Antenna 731cc2a2: AlgorithmViewSet and AlgorithmCategoryMapViewSet of ami/ml/views.py).
-- Named fragments: src/api/endpoints/ml.rs binds them.

-- name: ml.algorithms
-- Algorithm.objects.with_category_count(): category_count = CARDINALITY(category_map.labels),
-- NULL without a map. ${scope}: the project's algorithms, or every one; ${filter}: the
-- filterset's and SearchFilter's conditions.
SELECT a.id, a.name, a.version, cardinality(m.labels) AS category_count
FROM ml_algorithm a
LEFT JOIN ml_algorithmcategorymap m ON m.id = a.category_map_id
WHERE (${scope}) AND (${filter})
ORDER BY ${order}

-- name: ml.algorithms.project
-- The list with a project: `pipelines__project_pipeline_configs__project=P`, `…__enabled=True`,
-- `.distinct()`: the algorithms of the pipelines the project has enabled.
a.id IN (SELECT pa.algorithm_id
         FROM ml_pipeline_algorithms pa
         JOIN ml_projectpipelineconfig c ON c.pipeline_id = pa.pipeline_id
         WHERE c.project_id = ${project} AND c.enabled)

-- name: ml.algorithms.name
-- filterset_fields "name": exact.
a.name = ${value}

-- name: ml.algorithms.version
-- filterset_fields "version": a number (NumberFilter), compared as the integer it truncates to.
a.version = ${value}

-- name: ml.algorithms.search_term
-- SearchFilter (search_fields name): one term, icontains.
strpos(upper(a.name), upper(${term})) > 0

-- name: ml.labels
-- AlgorithmCategoryMapSerializer: id, labels, data, the ids of the algorithms using the map,
-- version, uri, created_at, updated_at. ${filter}: `algorithms=<id>`.
SELECT m.id, m.labels, m.data, m.version, m.uri,
       iso_dt(wall_clock(m.created_at)) AS created_at, iso_dt(wall_clock(m.updated_at)) AS updated_at,
       (SELECT min(a.id) FROM ml_algorithm a WHERE a.category_map_id = m.id) AS first_algorithm
FROM ml_algorithmcategorymap m
WHERE ${filter}
ORDER BY ${order}

-- name: ml.labels.algorithm
-- filterset_fields "algorithms": the maps any of the algorithms ${ids} uses.
m.id IN (SELECT a.category_map_id FROM ml_algorithm a WHERE a.id IN (${ids}))

-- name: ml.labels.algorithms
-- Each map's algorithms (`category_map.algorithms`, in Algorithm.Meta.ordering: name, version).
SELECT a.category_map_id AS map_id, a.id FROM ml_algorithm a
WHERE a.category_map_id IN (${ids})
ORDER BY a.category_map_id, lower(a.name), a.name, a.version, a.id
