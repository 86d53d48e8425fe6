-- Facts for the endpoints other than the occurrence list and detail (species list, status
-- summary, project charts, occurrence stats): each view below is cached sorted by project
-- (src/engine/cache.rs), so that a project's request reads its own rows of a small table
-- instead of joining detections, classifications and identifications per request. Without a
-- cache (`--cache off`) they are computed from the snapshot like every other view: the same rows.

-- Whether an occurrence passes ITS OWN project's default filters (spec §5.3): determination
-- score >= the project's threshold (a NULL score or threshold fails) and the determination
-- among default_filter_taxa. The per-row form of the `defaults` fragment of queries/request.sql.
-- With the stored columns occurrence_facts reads (main_occurrence read once for both).
CREATE VIEW occurrence_defaults AS
SELECT o.id, o.project_id, o.deployment_id, o.event_id,
       o.determination_id, o.determination_score,
       coalesce(o.determination_score >= p.default_filters_score_threshold
                AND f.taxon_id IS NOT NULL, false) AS passes_defaults
FROM main_occurrence o
LEFT JOIN main_project p ON p.id = o.project_id
LEFT JOIN default_filter_taxa f ON f.project_id = o.project_id AND f.taxon_id = o.determination_id;

-- Every occurrence of main_occurrence (valid or not: the endpoints below count some without
-- .valid()), its stored columns, and:
-- * is_valid: the rule of valid_occurrence (queries/05_occurrences.sql, spec §3.1): a stored
--   determination and at least one real (non-null-marker) detection;
-- * passes_defaults: occurrence_defaults above;
-- * last_detected: the latest timestamp of any of its detections, null markers included
--   (detection_aggregates), NULL without detections;
-- * event_month: the local month (1–12) of its event's start; NULL without an event (or one
--   missing from main_event, or a NULL start);
-- * identified: it has a non-withdrawn identification (best_identification exists);
--   best_user_taxon_id: that best identification's taxon (spec §3.5; may be NULL);
-- * best_machine_taxon_id: the taxon of variant S (spec §3.3, best_prediction_s) over its
--   classifications, NULL without one.
CREATE VIEW occurrence_facts AS
SELECT o.id, o.project_id, o.deployment_id, o.event_id,
       o.determination_id, o.determination_score,
       coalesce(o.determination_id IS NOT NULL AND a.real_detections > 0, false) AS is_valid,
       o.passes_defaults,
       a.last_appearance_timestamp AS last_detected,
       CAST(date_part('month', wall_clock(e.start)) AS BIGINT) AS event_month,
       bi.occurrence_id IS NOT NULL AS identified,
       bi.taxon_id AS best_user_taxon_id,
       bp.taxon_id AS best_machine_taxon_id
FROM occurrence_defaults o
LEFT JOIN detection_aggregates a ON a.occurrence_id = o.id
LEFT JOIN main_event e ON e.id = o.event_id
LEFT JOIN best_identification bi ON bi.occurrence_id = o.id
LEFT JOIN best_prediction_s bp ON bp.occurrence_id = o.id;

-- Each capture's local date and hour (NULL without a timestamp), the key of both counts below.
CREATE VIEW capture_local AS
SELECT s.id, s.project_id, s.deployment_id,
       CAST(wall_clock(s."timestamp") AS DATE) AS day,
       CAST(date_part('hour', wall_clock(s."timestamp")) AS BIGINT) AS hour
FROM main_sourceimage s;

-- Captures per (their own project, deployment, local date, local hour); captures without a
-- timestamp have a NULL date and hour. The capture counts of the status summary and the
-- capture charts are sums of these rows.
CREATE VIEW capture_hours AS
SELECT project_id, deployment_id, day, hour, count(*) AS captures
FROM capture_local
GROUP BY 1, 2, 3, 4;

-- Detections per (their occurrence's project, whether that occurrence passes its project's
-- default filters, local date and hour of their capture). Null markers count; detections
-- without an occurrence, or whose capture is missing or has no timestamp, are left out.
CREATE VIEW detection_hours AS
SELECT od.project_id, od.passes_defaults, s.day, s.hour, count(*) AS detections
FROM main_detection d
JOIN occurrence_defaults od ON od.id = d.occurrence_id
JOIN capture_local s ON s.id = d.source_image_id
WHERE s.day IS NOT NULL
GROUP BY 1, 2, 3, 4;
