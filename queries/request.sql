-- Request fragments: the WHERE conditions and sort keys that query parameters bind to
-- (spec §5.2–§5.5). Each fragment starts with `-- name: <key>`; occlens substitutes the
-- `${...}` placeholders with validated literals and ANDs the conditions over `occurrence_keys o`
-- (the columns of occurrence_list that requests filter and order on).

-- name: visible.anonymous
-- Anonymous users see occurrences of non-draft projects (spec §5.2.1).
o.project_id IN (SELECT id FROM main_project WHERE NOT draft)

-- name: visible.user
-- Other users: non-draft, owned, or member projects. NULL projects are invisible.
o.project_id IN (SELECT id FROM main_project WHERE NOT draft OR owner_id = ${user}
                 UNION ALL
                 SELECT project_id FROM main_userprojectmembership WHERE user_id = ${user})

-- name: visible.row
-- Whether a row of project ${project} (NULL: none) is visible under ${visible}, a `visible.*`
-- condition: a detail without filter parameters reads its row by id alone and checks it so.
SELECT CAST(count(*) AS BIGINT) AS n FROM (SELECT CAST(${project} AS BIGINT) AS project_id) o
WHERE ${visible}

-- name: visible.projects
-- The projects (NULL standing for no project) that ${visible}, a `visible.*` condition, shows:
-- computed beside a detail's row read by id alone, which is shown when its project is one of
-- them; any other project (one without a row, or not shown) is checked with visible.row.
SELECT o.project_id
FROM (SELECT CAST(id AS BIGINT) AS project_id FROM main_project
      UNION ALL SELECT CAST(NULL AS BIGINT)) o
WHERE ${visible}

-- name: project
o.project_id = ${project}

-- name: defaults
-- Project default filters (spec §5.3): score threshold (NULL fails) and include/exclude taxa.
o.determination_score >= (SELECT default_filters_score_threshold FROM main_project WHERE id = ${project})
AND o.determination_id IN (SELECT taxon_id FROM default_filter_taxa WHERE project_id = ${project})

-- name: id
o.id = ${id}

-- name: event
o.event_id = ${value}

-- name: deployment
o.deployment_id = ${value}

-- name: determination__rank
o.determination_rank = ${value}

-- name: detections__source_image
o.id IN (SELECT occurrence_id FROM main_detection WHERE source_image_id = ${value})

-- name: taxon
-- The determination is X or descends from X (spec §2.5).
o.determination_id IN (SELECT taxon_id FROM taxon_ancestry WHERE ancestor_id = ${value})

-- name: collection
-- A detection of O (null markers included) on a capture of the collection.
o.id IN (SELECT d.occurrence_id FROM main_detection d
         JOIN main_sourceimagecollection_images ci ON ci.sourceimage_id = d.source_image_id
         WHERE ci.sourceimagecollection_id = ${value})

-- name: algorithm
o.id IN (SELECT occurrence_id FROM occurrence_algorithms WHERE algorithm_id IN (${values}))

-- name: not_algorithm
o.id NOT IN (SELECT occurrence_id FROM occurrence_algorithms WHERE algorithm_id IN (${values}))

-- name: date_start
-- Each date bound is its own semi-join: different detections may satisfy each (spec §9.10).
o.id IN (SELECT occurrence_id FROM detection_local
         WHERE occurrence_id IS NOT NULL AND CAST(local_timestamp AS DATE) >= ${value})

-- name: date_end
o.id IN (SELECT occurrence_id FROM detection_local
         WHERE occurrence_id IS NOT NULL AND CAST(local_timestamp AS DATE) <= ${value})

-- name: verified.true
-- V_any: any identification row, withdrawn included (spec §3.9).
o.id IN (SELECT occurrence_id FROM main_identification)

-- name: verified.false
o.id NOT IN (SELECT occurrence_id FROM main_identification)

-- name: verified_by_me.true
o.id IN (SELECT occurrence_id FROM main_identification WHERE user_id = ${user})

-- name: verified_by_me.false
o.id NOT IN (SELECT occurrence_id FROM main_identification WHERE user_id = ${user})

-- name: taxa_list
o.determination_id IN (SELECT taxon_id FROM taxa_list_members WHERE taxalist_id = ${value})

-- name: not_taxa_list
o.determination_id NOT IN (SELECT taxon_id FROM taxa_list_members WHERE taxalist_id = ${value})

-- name: order.created_at
o.created_at
-- name: order.updated_at
o.updated_at
-- name: order.event__start
o.event_start
-- name: order.first_appearance_timestamp
o.first_appearance_timestamp
-- name: order.first_appearance_time
o.first_appearance_time
-- name: order.duration
o.duration
-- name: order.deployment
o.deployment_id
-- name: order.determination
o.determination_id
-- name: order.determination__name
-- PostgreSQL's en_US collation, approximated as everywhere in queries/: case-insensitive first,
-- then bytes (README "Collation"). One key per line: each takes the term's direction.
lower(o.determination_name)
o.determination_name
-- name: order.determination_score
o.determination_score
-- name: order.event
o.event_id
-- name: order.detections_count
o.detections_count

-- name: exists.project
SELECT id FROM main_project WHERE id = ${value}
-- name: exists.event
SELECT id FROM main_event WHERE id = ${value}
-- name: exists.deployment
SELECT id FROM main_deployment WHERE id = ${value}
-- name: exists.detections__source_image
SELECT id FROM main_sourceimage WHERE id = ${value}
-- name: exists.taxon
SELECT id FROM main_taxon WHERE id = ${value}
-- name: exists.collection
SELECT id FROM main_sourceimagecollection WHERE id = ${value}
-- name: exists.taxa_list
SELECT id FROM main_taxalist WHERE id = ${value}

-- name: algorithms.count
SELECT count(*) AS count FROM project_algorithms WHERE project_id = ${project}
-- name: algorithms.page
-- Ordered by name (the collation's approximation: lower, then bytes); id is occlens's
-- tiebreaker.
SELECT a.id FROM project_algorithms p JOIN ml_algorithm a ON a.id = p.algorithm_id
WHERE p.project_id = ${project}
ORDER BY lower(a.name) ASC, a.name ASC, a.id ASC LIMIT ${limit} OFFSET ${offset}
-- name: project_visible
-- One project, if it exists, and whether the requester sees it (a `visible.*` condition).
SELECT p.id AS project_id, v.project_id IS NOT NULL AS visible
FROM main_project p
LEFT JOIN (SELECT o.project_id FROM (SELECT id AS project_id FROM main_project) o
           WHERE o.project_id = ${project} AND ${visible}) v ON v.project_id = p.id
WHERE p.id = ${project}

-- name: export.base
-- The export base set (spec §6.1): the project's valid occurrences, in ascending id order.
SELECT * FROM ${view} o WHERE o.project_id = ${project} AND ${collection} ORDER BY o.id
-- name: export.range_base
-- export.base for the occurrence ids ${from}..${through}: a JSON export that cuts the snapshot
-- (src/engine/cut.rs) computes its occurrences range by range, each in the session holding its
-- range's rows, where the range's relations (export.related) are computed too.
SELECT * FROM ${view} o
WHERE o.project_id = ${project} AND o.id BETWEEN ${from} AND ${through} AND ${collection}
ORDER BY o.id
-- name: export.related
-- A relation of the JSON exports (a view with `occurrence_id`: identifications, images,
-- detections, predictions, classifications) for every occurrence of the project, by
-- occurrence then ${order}: the export reads it in step with its occurrences (ascending id),
-- one range of occurrence ids at a time (`export.span`), and skips the rows of occurrences it
-- leaves out. The project is a range (`>= p AND < p + 1`, the same rows as `= p`): with `= p`
-- the planner takes project_id for a constant and leaves it out of the sort under each view's
-- row_number() OVER (PARTITION BY project_id, occurrence_id …), and on a Ballista cluster the
-- executor's copy of that stage, reading a shuffle, which carries no constants, failed with
-- "Expects PARTITION BY expression to be ordered".
SELECT * FROM ${view} r
WHERE r.project_id >= ${project} AND r.project_id < ${project} + 1
  AND r.occurrence_id BETWEEN ${from} AND ${through}
ORDER BY r.occurrence_id, ${order}
-- name: export.range_occurrences
-- Project ${project}'s occurrences whose ids are in ${from}..${through}, with the columns the
-- views read (${columns}). A JSON export reads them, their detections and the detections'
-- classifications once a range, each into the session where the next is read and where the
-- range's relations (export.related) are then computed (src/engine/cut.rs): each relation is
-- a view of an occurrence's own detections and their classifications, so its rows for these
-- occurrences are the same as over the snapshot's tables (in the same order).
SELECT ${columns} FROM main_occurrence o
WHERE o.project_id = ${project} AND o.id BETWEEN ${from} AND ${through}
-- name: export.range_detections
-- The detections of those occurrences (main_occurrence: the range's, export.range_occurrences).
SELECT ${columns} FROM main_detection d
WHERE d.occurrence_id BETWEEN ${from} AND ${through}
  AND d.occurrence_id IN (SELECT o.id FROM main_occurrence o)
-- name: export.range_classifications
-- The classifications of those detections (main_detection: the range's).
SELECT ${columns} FROM main_classification c
WHERE c.detection_id IN (SELECT d.id FROM main_detection d)
-- name: export.span
-- The occurrence ids of a project's export (lowest, highest) and their number: the export's
-- related rows are read in ranges of these ids, so that their sorts hold one range at a time.
-- And the snapshot's rows of each table (counts the Parquet footers answer): ranges and
-- chunks are sized by the detections and classifications an occurrence brings, which vary
-- from one deployment to another (long-tracked moths: tens of detections each).
SELECT min(o.id) AS lowest, max(o.id) AS highest, count(*) AS occurrences,
  (SELECT count(*) FROM main_occurrence) AS all_occurrences,
  (SELECT count(*) FROM main_detection) AS all_detections,
  (SELECT count(*) FROM main_classification) AS all_classifications
FROM main_occurrence o WHERE o.project_id = ${project}
