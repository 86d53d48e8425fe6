-- Darwin Core Archive files (antenna-exports-dwca.md §1). Named fragments, like request.sql:
-- occlens runs `WITH selected AS (dwca.selected), events AS (dwca.events), detections AS
-- (dwca.detections)` followed by each file's query (whose own WITH, if any, continues that
-- list), with ${project}, ${collection} and ${media_url} bound. Everything per occurrence or
-- per detection is computed from `selected` (locally computed once, then read from memory; on a
-- cluster, whose executors cannot read it, computed by each statement), so an archive's cost
-- follows its own size. The one-row project side comes first in every CROSS
-- JOIN: the left input is the one collected, so the file's rows stream past it. Every file query returns
-- the file's columns, in order, as text; the writer only quotes and joins them. The text is
-- Utf8, not Utf8View (arrow_cast): on a cluster, a file's rows, sorted as views, came back
-- carrying every buffer the sort merged (SF1 project 1's measurementorfact.txt: minutes and
-- 21 GB in the client, against 5 s as Utf8).
-- Local times are wall_clock(x): the instant's reading in the configured zone.

-- name: dwca.selected
-- O (§1.2): the project's valid occurrences with an event, after the project default filters
-- and the optional collection filter. `position` is occurrence.txt order: score DESC, id ASC.
SELECT o.id, o.event_id, o.determination_id, o.determination_score, o.updated_at,
       row_number() OVER (ORDER BY o.determination_score DESC, o.id ASC) AS position
FROM default_filtered_occurrence o
WHERE o.project_id = ${project} AND o.event_id IS NOT NULL AND ${collection}

-- name: dwca.events
-- E (§1.2): the events O references that belong to the project, ordered start, id, with
-- local start (ls) and end (le).
SELECT e.*, wall_clock(e.start) AS ls, wall_clock(e."end") AS le,
       row_number() OVER (ORDER BY e.start ASC, e.id ASC) AS position
FROM main_event e
WHERE e.project_id = ${project} AND e.id IN (SELECT event_id FROM selected)

-- name: dwca.detections
-- The detections of O in default order (§0.6: frame_num, timestamp, ascending, NULLS LAST; id
-- breaks ties) with their capture and its public URL; bbox_py is the bbox as Python's
-- json.dumps.
SELECT d.id, d.occurrence_id, d.path, py_json(d.bbox) AS bbox_py, d.detection_score, d.detection_algorithm_id,
       d."timestamp", s."timestamp" AS capture_timestamp, d.source_image_id,
       capture_url(s.public_base_url, s.path) AS capture_url,
       row_number() OVER (PARTITION BY d.occurrence_id
                          ORDER BY d.frame_num ASC NULLS LAST, d."timestamp" ASC NULLS LAST, d.id ASC) AS position
FROM selected o
JOIN main_detection d ON d.occurrence_id = o.id
JOIN main_sourceimage s ON s.id = d.source_image_id

-- name: dwca.event
-- event.txt (§1.4), 29 columns.
SELECT
  arrow_cast('urn:ami:event:' || slugify(p.name) || ':' || CAST(e.id AS VARCHAR), 'Utf8') AS "eventID",
  arrow_cast(CASE WHEN e.ls IS NULL THEN ''
       WHEN e.le IS NOT NULL AND CAST(e.le AS DATE) <> CAST(e.ls AS DATE)
         THEN to_char(e.ls, '%Y-%m-%d') || '/' || to_char(e.le, '%Y-%m-%d')
       ELSE to_char(e.ls, '%Y-%m-%d') END, 'Utf8') AS "eventDate",
  arrow_cast(coalesce(to_char(e.ls, '%H:%M:%S'), ''), 'Utf8') AS "eventTime",
  arrow_cast(coalesce(CAST(CAST(date_part('year', e.ls) AS BIGINT) AS VARCHAR), ''), 'Utf8') AS "year",
  arrow_cast(coalesce(CAST(CAST(date_part('month', e.ls) AS BIGINT) AS VARCHAR), ''), 'Utf8') AS "month",
  arrow_cast(coalesce(CAST(CAST(date_part('day', e.ls) AS BIGINT) AS VARCHAR), ''), 'Utf8') AS "day",
  arrow_cast('automated light trap with camera', 'Utf8') AS "samplingProtocol",
  arrow_cast(CAST(coalesce(e.captures_count, 0) AS VARCHAR), 'Utf8') AS "sampleSizeValue",
  arrow_cast('images', 'Utf8') AS "sampleSizeUnit",
  arrow_cast(CASE WHEN e.effort IS NULL OR e.effort < 0 THEN ''
       WHEN e.effort / 3600 > 0
         THEN CAST(e.effort / 3600 AS VARCHAR) || 'h ' || CAST((e.effort % 3600) / 60 AS VARCHAR) || 'm'
       ELSE CAST((e.effort % 3600) / 60 AS VARCHAR) || 'm' END, 'Utf8') AS "samplingEffort",
  arrow_cast(coalesce(dep.name, ''), 'Utf8') AS "locationID",
  arrow_cast(coalesce(py_float(py_round(dep.latitude, 6)), ''), 'Utf8') AS "decimalLatitude",
  arrow_cast(coalesce(py_float(py_round(dep.longitude, 6)), ''), 'Utf8') AS "decimalLongitude",
  arrow_cast('WGS84', 'Utf8') AS "geodeticDatum",
  arrow_cast(p.name, 'Utf8') AS "datasetName",
  arrow_cast(CASE WHEN p.license <> '' THEN p.license ELSE 'All rights reserved' END, 'Utf8') AS "license",
  arrow_cast(coalesce(p.rights_holder, ''), 'Utf8') AS "rightsHolder",
  arrow_cast(coalesce(iso_dt(wall_clock(e.updated_at)), ''), 'Utf8') AS "modified",
  arrow_cast('true', 'Utf8') AS "isSamplingEffortReported",
  arrow_cast(CASE WHEN e.captures_count > 0 THEN CAST(e.captures_count AS VARCHAR) ELSE '' END, 'Utf8') AS "samplingEffortValue",
  arrow_cast('images', 'Utf8') AS "samplingEffortUnit",
  arrow_cast('automated camera trap with light attractant; continuous overnight monitoring with fixed image-capture interval; images processed by ML detector + classifier pipeline', 'Utf8') AS "samplingEffortProtocol",
  arrow_cast('true', 'Utf8') AS "isAbsenceReported",
  arrow_cast(coalesce(ts.target_scope, ''), 'Utf8') AS "targetTaxonomicScope",
  arrow_cast('trap or sample', 'Utf8') AS "inventoryTypes",
  arrow_cast('AMI ML detector + classifier pipeline', 'Utf8') AS "protocolNames",
  arrow_cast('Images captured at a fixed interval by an automated monitoring station; each image processed through a detector (bounding-box extraction) and classifier (species prediction). Occurrences grouped from co-located detections; default filters applied.', 'Utf8') AS "protocolDescriptions",
  arrow_cast('true', 'Utf8') AS "hasMaterialSamples",
  arrow_cast('digital images', 'Utf8') AS "materialSampleTypes"
FROM (SELECT *,
             -- whole seconds of end - start, truncated toward zero
             (arrow_cast("end", 'Int64') - arrow_cast(start, 'Int64')) / 1000000 AS effort
      FROM events) e
JOIN main_project p ON p.id = ${project}
LEFT JOIN main_deployment dep ON dep.id = e.deployment_id
LEFT JOIN dwca_target_scope ts ON ts.project_id = p.id
ORDER BY e.position

-- name: dwca.occurrence
-- occurrence.txt (§1.5), 21 columns, in O order. An occurrence whose event is not in E is still
-- written (its coreid then dangles and the archive fails validation, as Antenna's does).
-- associatedMedia (§1.5 #20): capture URLs of the detections, stably sorted by detection
-- timestamp, else capture timestamp, else last; empty URLs dropped, first of each URL kept.
-- identifiedBy and dateIdentified (§1.6): the best identification (HEAD tie-break) when it has
-- a user, else the best prediction's algorithm; the date is the identification's whenever one
-- exists, else the prediction's timestamp.
WITH associated AS (
  SELECT occurrence_id, string_agg_by(capture_url, first_seen, '|') AS associated_media
  FROM (
    SELECT occurrence_id, capture_url, min(media_position) AS first_seen
    FROM (SELECT occurrence_id, capture_url,
                 row_number() OVER (PARTITION BY occurrence_id
                                    ORDER BY coalesce("timestamp", capture_timestamp) ASC NULLS LAST,
                                             position ASC) AS media_position
          FROM detections)
    WHERE capture_url IS NOT NULL AND capture_url <> ''
    GROUP BY occurrence_id, capture_url
  )
  GROUP BY occurrence_id
), dwca_prediction AS (
  -- The best prediction of §1.6: among the rows whose score equals ANY algorithm's maximum
  -- for O (variant M's candidates: prediction_candidates), terminal first, then score
  -- descending, then HEAD's highest id. (Not the API's variant P, where a row must equal its
  -- own algorithm's maximum: they differ when scores tie across algorithms.)
  SELECT occurrence_id, arg_max(id, terminal, score, id) AS classification_id
  FROM prediction_candidates
  WHERE project_id = ${project} AND occurrence_id IN (SELECT id FROM selected)
  GROUP BY occurrence_id
), provenance AS (
  SELECT o.id AS occurrence_id,
         CASE WHEN bi.user_id IS NOT NULL THEN
                CASE WHEN u.name <> '' THEN u.name ELSE 'user:' || CAST(bi.user_id AS VARCHAR) END
              WHEN a.id IS NOT NULL THEN
                CASE WHEN a.version_name <> '' THEN a.name || ' ' || a.version_name
                     WHEN a.version <> 0 THEN a.name || ' v' || CAST(a.version AS VARCHAR)
                     ELSE a.name END
              ELSE '' END AS identified_by,
         coalesce(
           CASE WHEN bi.identification_id IS NOT NULL THEN
                  iso_dt(wall_clock(bi.created_at))
                WHEN bp.classification_id IS NOT NULL THEN
                  iso_dt(wall_clock(coalesce(c."timestamp", c.created_at)))
           END, '') AS date_identified
  FROM selected o
  LEFT JOIN best_identification bi ON bi.occurrence_id = o.id
  LEFT JOIN users_user u ON u.id = bi.user_id
  LEFT JOIN dwca_prediction bp ON bp.occurrence_id = o.id
  LEFT JOIN main_classification c ON c.id = bp.classification_id
  LEFT JOIN ml_algorithm a ON a.id = c.algorithm_id
)
SELECT
  arrow_cast('urn:ami:event:' || p.slug || ':' || CAST(o.event_id AS VARCHAR), 'Utf8') AS "eventID",
  arrow_cast('urn:ami:occurrence:' || p.slug || ':' || CAST(o.id AS VARCHAR), 'Utf8') AS "occurrenceID",
  arrow_cast('MachineObservation', 'Utf8') AS "basisOfRecord",
  arrow_cast('present', 'Utf8') AS "occurrenceStatus",
  arrow_cast(coalesce(t.scientific_name, ''), 'Utf8') AS "scientificName",
  arrow_cast(coalesce(t.taxon_rank, ''), 'Utf8') AS "taxonRank",
  arrow_cast(coalesce(t.kingdom, ''), 'Utf8') AS "kingdom",
  arrow_cast(coalesce(t.phylum, ''), 'Utf8') AS "phylum",
  arrow_cast(coalesce(t.class, ''), 'Utf8') AS "class",
  arrow_cast(coalesce(t."order", ''), 'Utf8') AS "order",
  arrow_cast(coalesce(t.family, ''), 'Utf8') AS "family",
  arrow_cast(coalesce(t.genus, ''), 'Utf8') AS "genus",
  arrow_cast(coalesce(t.specific_epithet, ''), 'Utf8') AS "specificEpithet",
  arrow_cast(coalesce(t.vernacular_name, ''), 'Utf8') AS "vernacularName",
  arrow_cast(coalesce(t.taxon_key, ''), 'Utf8') AS "taxonID",
  arrow_cast('1', 'Utf8') AS "individualCount",
  arrow_cast(coalesce(pv.identified_by, ''), 'Utf8') AS "identifiedBy",
  arrow_cast(coalesce(pv.date_identified, ''), 'Utf8') AS "dateIdentified",
  arrow_cast(CASE WHEN coalesce(s.active_count, 0) > 0 THEN 'verified' ELSE 'unverified' END, 'Utf8') AS "identificationVerificationStatus",
  arrow_cast(coalesce(iso_dt(wall_clock(o.updated_at)), ''), 'Utf8') AS "modified",
  arrow_cast(coalesce(m.associated_media, ''), 'Utf8') AS "associatedMedia"
FROM (SELECT slugify(name) AS slug FROM main_project WHERE id = ${project}) p
CROSS JOIN selected o
LEFT JOIN dwca_taxon t ON t.id = o.determination_id
LEFT JOIN provenance pv ON pv.occurrence_id = o.id
LEFT JOIN identification_summary s ON s.occurrence_id = o.id
LEFT JOIN associated m ON m.occurrence_id = o.id
ORDER BY o.position

-- name: dwca.multimedia
-- multimedia.txt (§1.7), 11 columns: per event in E order, first one row per distinct capture
-- (first seen over O order and detection order; captures without a URL get no row), then one row
-- per detection with a crop URL.
WITH project AS (
  SELECT slugify(name) AS slug,
         CASE WHEN license <> '' THEN license ELSE 'All rights reserved' END AS license,
         coalesce(rights_holder, '') AS rights_holder
  FROM main_project WHERE id = ${project}
), seen AS (
  SELECT ev.position AS event_position, o.event_id, o.position AS occurrence_position, d.*,
         row_number() OVER (PARTITION BY o.event_id ORDER BY o.position, d.position) AS seen
  FROM selected o
  JOIN events ev ON ev.id = o.event_id
  JOIN detections d ON d.occurrence_id = o.id
), media AS (
  -- Each detection's row (kind 1), and its capture's row (kind 0) from the detection seen first
  -- of those on the capture: one scan of `seen`, not a UNION ALL (on a cluster a branch of a
  -- UNION ALL planned in one stage is given no partitions).
  SELECT event_position, event_id, kind, seen, occurrence_id, path, capture_url,
         "timestamp", capture_timestamp, capture_identifier, capture_created
  FROM (
    SELECT *, unnest(CASE WHEN seen = capture_seen THEN [0, 1] ELSE [1] END) AS kind
    FROM (SELECT *,
                 min(seen) OVER (PARTITION BY event_id, source_image_id) AS capture_seen,
                 max(capture_url) OVER (PARTITION BY event_id, source_image_id) AS capture_identifier,
                 max(capture_timestamp) OVER (PARTITION BY event_id, source_image_id) AS capture_created
          FROM seen)
  )
)
SELECT
  arrow_cast('urn:ami:event:' || p.slug || ':' || CAST(m.event_id AS VARCHAR), 'Utf8') AS "eventID",
  arrow_cast(CASE WHEN m.kind = 0 THEN '' ELSE 'urn:ami:occurrence:' || p.slug || ':' || CAST(m.occurrence_id AS VARCHAR) END, 'Utf8') AS "occurrenceID",
  arrow_cast('StillImage', 'Utf8') AS "type",
  arrow_cast('image/jpeg', 'Utf8') AS "format",
  arrow_cast(m.identifier, 'Utf8') AS "identifier",
  arrow_cast(m."references", 'Utf8') AS "references",
  arrow_cast(m.created, 'Utf8') AS "created",
  arrow_cast(p.license, 'Utf8') AS "license",
  arrow_cast(p.rights_holder, 'Utf8') AS "rightsHolder",
  arrow_cast('', 'Utf8') AS "creator",
  arrow_cast(m.description, 'Utf8') AS "description"
FROM project p
CROSS JOIN (
  SELECT event_position, kind, seen, event_id, occurrence_id,
         CASE WHEN kind = 0 THEN capture_identifier ELSE media_url(path, ${media_url}) END AS identifier,
         CASE WHEN kind = 0 THEN '' ELSE coalesce(capture_url, '') END AS "references",
         coalesce(iso_dt(wall_clock(CASE WHEN kind = 0 THEN capture_created
                                         ELSE coalesce("timestamp", capture_timestamp) END)), '') AS created,
         CASE WHEN kind = 0 THEN 'Source capture image from automated monitoring station'
              ELSE 'Cropped detection from source capture' END AS description
  FROM media
) m
WHERE m.identifier IS NOT NULL AND m.identifier <> ''
ORDER BY m.event_position, m.kind, m.seen

-- name: dwca.measurementorfact
-- measurementorfact.txt (§1.8), 8 columns: per occurrence in O order, its classificationScore
-- (when the determination score is not NULL), then per detection in default order its
-- detectionScore (when not NULL) and boundingBox (when the bbox is truthy in Python).
WITH project AS (
  SELECT slugify(name) AS slug FROM main_project WHERE id = ${project}
), score_determined_by AS (
  -- classificationScore's determinedBy (§1.8): the first classification, detections in default
  -- order and their classifications created_at DESC, score DESC (NULLS FIRST), id DESC, whose
  -- taxon is the determination; "{name} {version}" without a 0/NULL version, trimmed.
  SELECT occurrence_id, determined_by
  FROM (
    SELECT d.occurrence_id,
           trim(CASE WHEN a.version IS NULL OR a.version = 0 THEN coalesce(a.name, '')
                     ELSE a.name || ' ' || CAST(a.version AS VARCHAR) END) AS determined_by,
           row_number() OVER (PARTITION BY d.occurrence_id
                              ORDER BY d.position, c.created_at DESC, c.score DESC NULLS FIRST, c.id DESC) AS rn
    FROM detections d
    JOIN selected o ON o.id = d.occurrence_id
    JOIN main_classification c ON c.detection_id = d.id AND c.taxon_id = o.determination_id
    LEFT JOIN ml_algorithm a ON a.id = c.algorithm_id
  )
  WHERE rn = 1
), pairs AS (
  -- Each occurrence with each of its detections; the classificationScore (kind 0) rides on its
  -- first detection, or on the occurrence alone when it has none; detectionScore (kind 1) and
  -- boundingBox (kind 2) on every detection. One scan, not a UNION ALL of three (on a cluster a
  -- branch of a UNION ALL planned in one stage is given no partitions).
  SELECT o.position, o.event_id, o.id AS occurrence_id, o.determination_score,
         d.id AS detection_id, d.position AS detection_position, d.detection_score, d.bbox_py,
         d.detection_algorithm_id,
         unnest(CASE WHEN coalesce(d.position, 1) = 1 THEN [0, 1, 2] ELSE [1, 2] END) AS kind
  FROM selected o
  LEFT JOIN detections d ON d.occurrence_id = o.id
), facts AS (
  SELECT f.position, CASE WHEN f.kind = 0 THEN 0 ELSE f.detection_position END AS detection_position,
         f.kind, f.event_id, f.occurrence_id, f.detection_id,
         CASE f.kind WHEN 0 THEN 'classificationScore' WHEN 1 THEN 'detectionScore' ELSE 'boundingBox' END AS type,
         CASE f.kind WHEN 0 THEN fixed(f.determination_score, 6) WHEN 1 THEN fixed(f.detection_score, 6)
                     ELSE f.bbox_py END AS value,
         CASE WHEN f.kind = 2 THEN 'pixels' ELSE 'proportion' END AS unit,
         CASE WHEN f.kind = 0 THEN coalesce(db.determined_by, '') ELSE coalesce(a.name, '') END AS determined_by,
         CASE f.kind WHEN 0 THEN 'ML classifier softmax score' WHEN 1 THEN 'ML detector confidence score'
                     ELSE 'Bounding box [x1, y1, x2, y2]' END AS remarks
  FROM pairs f
  LEFT JOIN score_determined_by db ON db.occurrence_id = f.occurrence_id
  LEFT JOIN ml_algorithm a ON a.id = f.detection_algorithm_id
  WHERE CASE f.kind WHEN 0 THEN f.determination_score IS NOT NULL
                    WHEN 1 THEN f.detection_score IS NOT NULL
                    ELSE f.bbox_py NOT IN ('null', '[]', '{}', '""', '0', '0.0', '-0.0', 'false') END
)
SELECT
  arrow_cast('urn:ami:event:' || p.slug || ':' || CAST(f.event_id AS VARCHAR), 'Utf8') AS "eventID",
  arrow_cast('urn:ami:occurrence:' || p.slug || ':' || CAST(f.occurrence_id AS VARCHAR), 'Utf8') AS "occurrenceID",
  arrow_cast(CASE WHEN f.kind = 0
       THEN 'urn:ami:occurrence:' || p.slug || ':' || CAST(f.occurrence_id AS VARCHAR) || ':classificationScore'
       ELSE 'urn:ami:detection:' || p.slug || ':' || CAST(f.detection_id AS VARCHAR) || ':' || f.type END, 'Utf8') AS "measurementID",
  arrow_cast(f.type, 'Utf8') AS "measurementType",
  arrow_cast(f.value, 'Utf8') AS "measurementValue",
  arrow_cast(f.unit, 'Utf8') AS "measurementUnit",
  arrow_cast(f.determined_by, 'Utf8') AS "measurementDeterminedBy",
  arrow_cast(f.remarks, 'Utf8') AS "measurementRemarks"
FROM project p CROSS JOIN facts f
ORDER BY f.position, f.detection_position, f.kind

-- name: dwca.eml
-- The values eml.xml is built from (§1.10): project text, owner, licence, and the coverage of E.
SELECT p.name, p.description, coalesce(u.name, '') AS owner_name,
       coalesce(p.license, '') AS license, coalesce(p.rights_holder, '') AS rights_holder,
       slugify(p.name) AS slug,
       c.events, c.west, c.east, c.north, c.south, c.begin_date, c.end_date
FROM main_project p
LEFT JOIN users_user u ON u.id = p.owner_id
CROSS JOIN (
  SELECT count(*) AS events,
         fixed(min(dep.longitude), 6) AS west, fixed(max(dep.longitude), 6) AS east,
         fixed(max(dep.latitude), 6) AS north, fixed(min(dep.latitude), 6) AS south,
         to_char(min(e.ls), '%Y-%m-%d') AS begin_date,
         to_char(coalesce(max(e.le), max(e.ls)), '%Y-%m-%d') AS end_date
  FROM events e
  LEFT JOIN main_deployment dep ON dep.id = e.deployment_id
) c
WHERE p.id = ${project}
