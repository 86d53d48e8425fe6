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

-- A taxon's chain (§1.4 targetTaxonomicScope): its parents_json entries, then itself (at the
-- position after its last entry). One scan, not a UNION ALL of the two: on a cluster a branch
-- of a UNION ALL planned in one stage is given no partitions (README, "Running on a cluster").
CREATE VIEW taxon_chain AS
SELECT taxon_id, get_field(e, 'position') AS position, get_field(e, 'id') AS id,
       get_field(e, 'name') AS name
FROM (SELECT id AS taxon_id,
             unnest(array_append(json_parents(parents_json),
                                 named_struct('position', CAST(coalesce(array_length(json_parents(parents_json)), 0) AS BIGINT),
                                              'id', CAST(id AS BIGINT), 'name', arrow_cast(name, 'Utf8'),
                                              'rank', arrow_cast(NULL, 'Utf8')))) AS e
      FROM main_taxon);

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

-- The per-detection values, identifiedBy/dateIdentified and the classificationScore's
-- determinedBy are computed for the archive's occurrences only: see queries/dwca.sql.

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
               row_number() OVER (PARTITION BY i.project_id ORDER BY t.ordering ASC NULLS LAST, lower(t.name), t.name) AS rn
        FROM main_project_default_filters_include_taxa i JOIN main_taxon t ON t.id = i.taxon_id)
  WHERE rn = 1
)
SELECT p.id AS project_id, coalesce(c.name, '') AS target_scope
FROM main_project p
LEFT JOIN depth d ON d.project_id = p.id
LEFT JOIN first_taxon f ON f.project_id = p.id
LEFT JOIN chains c ON c.project_id = p.id AND c.taxon_id = f.taxon_id AND c.position = d.position;
