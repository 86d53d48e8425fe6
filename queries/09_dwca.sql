-- Darwin Core Archive and taxa-list exports (antenna-exports-dwca.md §1, §3): the per-row values
-- that do not depend on the exported project. queries/dwca.sql selects and orders them.

-- Each entry of a taxon's parents_json, in stored order (root first).
CREATE VIEW taxon_parent AS
SELECT taxon_id,
       get_field(p, 'position') AS position,
       get_field(p, 'id') AS parent_id,
       get_field(p, 'name') AS name,
       upper(get_field(p, 'rank')) AS rank
FROM (SELECT id AS taxon_id, unnest(json_parents(parents_json)) AS p FROM main_taxon);

-- A taxon's chain (§1.4 targetTaxonomicScope): its parents_json entries, then itself.
CREATE VIEW taxon_chain AS
SELECT taxon_id, position, parent_id AS id, name FROM taxon_parent
UNION ALL
SELECT t.id AS taxon_id, coalesce(n.entries, 0) AS position, t.id, t.name
FROM main_taxon t
LEFT JOIN (SELECT taxon_id, count(*) AS entries FROM taxon_parent GROUP BY taxon_id) n
       ON n.taxon_id = t.id;

-- The first parents_json entry of each rank (ranks compared case-insensitively).
CREATE VIEW taxon_first_of_rank AS
SELECT taxon_id, rank, name
FROM (SELECT *, row_number() OVER (PARTITION BY taxon_id, rank ORDER BY position) AS rn
      FROM taxon_parent)
WHERE rn = 1;

-- occurrence.txt taxonomy columns (§1.5 #4–14): rank columns from the first parents_json entry
-- of the rank, else the taxon's own name when its own rank is that rank; specificEpithet is the
-- second whitespace-separated token of the name whatever the rank.
CREATE VIEW dwca_taxon AS
SELECT t.id,
       t.name AS scientific_name,
       coalesce(lower(t.rank), '') AS taxon_rank,
       coalesce(max(CASE WHEN r.rank = 'KINGDOM' THEN r.name END),
                CASE WHEN upper(t.rank) = 'KINGDOM' THEN t.name END, '') AS kingdom,
       coalesce(max(CASE WHEN r.rank = 'PHYLUM' THEN r.name END),
                CASE WHEN upper(t.rank) = 'PHYLUM' THEN t.name END, '') AS phylum,
       coalesce(max(CASE WHEN r.rank = 'CLASS' THEN r.name END),
                CASE WHEN upper(t.rank) = 'CLASS' THEN t.name END, '') AS class,
       coalesce(max(CASE WHEN r.rank = 'ORDER' THEN r.name END),
                CASE WHEN upper(t.rank) = 'ORDER' THEN t.name END, '') AS "order",
       coalesce(max(CASE WHEN r.rank = 'FAMILY' THEN r.name END),
                CASE WHEN upper(t.rank) = 'FAMILY' THEN t.name END, '') AS family,
       coalesce(max(CASE WHEN r.rank = 'GENUS' THEN r.name END),
                CASE WHEN upper(t.rank) = 'GENUS' THEN t.name END, '') AS genus,
       coalesce(split_part(regexp_replace(regexp_replace(t.name, '^\s+|\s+$', '', 'g'), '\s+', ' ', 'g'),
                           ' ', 2), '') AS specific_epithet,
       coalesce(t.common_name_en, '') AS vernacular_name,
       CASE WHEN t.gbif_taxon_key <> 0 THEN CAST(t.gbif_taxon_key AS VARCHAR) ELSE '' END AS taxon_key
FROM main_taxon t
LEFT JOIN taxon_first_of_rank r ON r.taxon_id = t.id
GROUP BY t.id, t.name, t.rank, t.common_name_en, t.gbif_taxon_key;

-- Valid occurrences that pass their own project's default filters (§0.5): score >= threshold
-- (NULL fails), include/exclude taxa through parents_json. Used by dwca and taxa_list_csv.
CREATE VIEW default_filtered_occurrence AS
SELECT o.*
FROM valid_occurrence o
JOIN main_project p ON p.id = o.project_id
JOIN default_filter_taxa f ON f.project_id = o.project_id AND f.taxon_id = o.determination_id
WHERE o.determination_score >= p.default_filters_score_threshold;

-- Detections in default order (§0.6: frame_num, timestamp, ascending, NULLS LAST; id breaks
-- ties) with their capture and its public URL; bbox_py is the bbox as Python's json.dumps.
CREATE VIEW dwca_detection AS
SELECT d.id, d.occurrence_id, d.path, py_json(d.bbox) AS bbox_py, d.detection_score, d.detection_algorithm_id,
       d."timestamp", s."timestamp" AS capture_timestamp, d.source_image_id,
       capture_url(s.public_base_url, s.path) AS capture_url,
       row_number() OVER (PARTITION BY d.occurrence_id
                          ORDER BY d.frame_num ASC NULLS LAST, d."timestamp" ASC NULLS LAST, d.id ASC) AS position
FROM main_detection d
JOIN main_sourceimage s ON s.id = d.source_image_id
WHERE d.occurrence_id IS NOT NULL;

-- identifiedBy and dateIdentified (§1.6): the best identification (HEAD tie-break) when it has
-- a user, else the best prediction's algorithm; the date is the identification's whenever one
-- exists, else the prediction's timestamp.
CREATE VIEW dwca_provenance AS
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
FROM main_occurrence o
LEFT JOIN best_identification bi ON bi.occurrence_id = o.id
LEFT JOIN users_user u ON u.id = bi.user_id
LEFT JOIN best_prediction bp ON bp.occurrence_id = o.id
LEFT JOIN main_classification c ON c.id = bp.classification_id
LEFT JOIN ml_algorithm a ON a.id = bp.algorithm_id;

-- MoF classificationScore determinedBy (§1.8): the first classification, detections in default
-- order and their classifications created_at DESC, score DESC (NULLS FIRST), id DESC, whose
-- taxon is the determination; "{name} {version}" without a 0/NULL version, trimmed.
CREATE VIEW dwca_score_determined_by AS
SELECT occurrence_id, determined_by
FROM (
  SELECT d.occurrence_id,
         trim(CASE WHEN a.version IS NULL OR a.version = 0 THEN coalesce(a.name, '')
                   ELSE a.name || ' ' || CAST(a.version AS VARCHAR) END) AS determined_by,
         row_number() OVER (PARTITION BY d.occurrence_id
                            ORDER BY d.position, c.created_at DESC, c.score DESC NULLS FIRST, c.id DESC) AS rn
  FROM dwca_detection d
  JOIN main_occurrence o ON o.id = d.occurrence_id
  JOIN main_classification c ON c.detection_id = d.id AND c.taxon_id = o.determination_id
  LEFT JOIN ml_algorithm a ON a.id = c.algorithm_id
)
WHERE rn = 1;

-- targetTaxonomicScope (§1.4): the chains of the project's include taxa compared position by
-- position; the name at the last position where every chain has the same id (read from the
-- first include taxon by ordering, then name), '' when position 0 already differs.
CREATE VIEW dwca_target_scope AS
WITH chains AS (
  SELECT i.project_id, i.taxon_id, c.position, c.id, c.name
  FROM main_project_default_filters_include_taxa i
  JOIN taxon_chain c ON c.taxon_id = i.taxon_id
), members AS (
  SELECT project_id, count(DISTINCT taxon_id) AS taxa FROM main_project_default_filters_include_taxa
  GROUP BY project_id
), agreement AS (
  SELECT c.project_id, c.position,
         count(DISTINCT c.taxon_id) = max(m.taxa) AND count(DISTINCT c.id) = 1 AND count(c.id) = count(*) AS agrees
  FROM chains c JOIN members m ON m.project_id = c.project_id
  GROUP BY c.project_id, c.position
), depth AS (
  SELECT project_id,
         coalesce(min(CASE WHEN NOT agrees THEN position END), max(position) + 1) - 1 AS position
  FROM agreement GROUP BY project_id
), first_taxon AS (
  SELECT project_id, taxon_id
  FROM (SELECT i.project_id, i.taxon_id,
               row_number() OVER (PARTITION BY i.project_id ORDER BY t.ordering ASC NULLS LAST, t.name ASC) AS rn
        FROM main_project_default_filters_include_taxa i JOIN main_taxon t ON t.id = i.taxon_id)
  WHERE rn = 1
)
SELECT p.id AS project_id, coalesce(c.name, '') AS target_scope
FROM main_project p
LEFT JOIN depth d ON d.project_id = p.id
LEFT JOIN first_taxon f ON f.project_id = p.id
LEFT JOIN chains c ON c.project_id = p.id AND c.taxon_id = f.taxon_id AND c.position = d.position;
