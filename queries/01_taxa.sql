-- Taxonomy: the descendant test of spec §2.5.
-- A taxon T "is X or a descendant of X" iff T.id = X or some element of T.parents_json has id X.
-- The cached parents_json is used, never parent_id (spec §9.14: a stale cache is reproduced).
-- One scan: a taxon's own id heads the list of its ancestors' ids (not a UNION ALL of the two:
-- on a Ballista 55 cluster of two executors, that union came back with rows twice).
CREATE VIEW taxon_ancestry AS
SELECT taxon_id, ancestor_id
FROM (
  SELECT id AS taxon_id,
         unnest(array_prepend(CAST(id AS BIGINT), json_array_ids(parents_json))) AS ancestor_id
  FROM main_taxon
)
WHERE ancestor_id IS NOT NULL;

-- Project default filters (spec §5.3), taxa part: for each project, the taxa that pass its
-- include list (empty list = everything passes) and are not in or below its exclude list.
-- The score threshold is applied against main_project in queries/request.sql.
CREATE VIEW default_filter_taxa AS
WITH included AS (
  SELECT DISTINCT i.project_id, a.taxon_id
  FROM main_project_default_filters_include_taxa i
  JOIN taxon_ancestry a ON a.ancestor_id = i.taxon_id
), excluded AS (
  SELECT DISTINCT x.project_id, a.taxon_id
  FROM main_project_default_filters_exclude_taxa x
  JOIN taxon_ancestry a ON a.ancestor_id = x.taxon_id
), has_include AS (
  SELECT DISTINCT project_id FROM main_project_default_filters_include_taxa
)
SELECT p.id AS project_id, t.id AS taxon_id
FROM main_project p
CROSS JOIN main_taxon t
LEFT JOIN has_include h ON h.project_id = p.id
LEFT JOIN included i ON i.project_id = p.id AND i.taxon_id = t.id
LEFT JOIN excluded x ON x.project_id = p.id AND x.taxon_id = t.id
WHERE (h.project_id IS NULL OR i.taxon_id IS NOT NULL)
  AND x.taxon_id IS NULL;

-- Taxa lists (spec §5.4 taxa_list_id): the taxa in or below any member of a list.
CREATE VIEW taxa_list_members AS
SELECT DISTINCT l.taxalist_id, a.taxon_id
FROM main_taxalist_taxa l
JOIN taxon_ancestry a ON a.ancestor_id = l.taxon_id;
