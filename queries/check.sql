-- `occlens check`: what the views rely on and a snapshot might break. Each fragment returns
-- one row: how many rows break the rule (`bad`) and one example (as text, or NULL).
-- A broken rule makes list pages whose `count` disagrees with their rows, so each is an
-- error of the snapshot, reported with exit 1.

-- name: check.unique
-- Primary keys: every id once. ${table}, ${column}.
SELECT CAST(count(*) AS BIGINT) AS bad, CAST(min(k) AS VARCHAR) AS example
FROM (SELECT ${column} AS k FROM ${table} GROUP BY ${column} HAVING count(*) > 1)

-- name: check.keys
-- The key every answer computed from the snapshot's tables relies on (api, list, detail,
-- verify, serve and export when they do not read the cache; the cache build runs it too):
-- ${column} of ${table} NOT NULL and unique. Repeated ids repeat rows of pages and
-- exports and make counts disagree with them. One scan, whatever the result; the ids seen
-- are kept in a compressed bitmap (repeated_keys: a bit an id where ids are dense, as serial
-- ids are; a list of 8 bytes an id where they are spread over the 64 bits), not grouped in a
-- hash table (SF1's 1M ids: about 0.1 s that way). It does not spill: past the memory limit
-- the check fails with DataFusion's resources error. Unlike the rules below, it gives the
-- two counts (`nulls`, `repeats`), for the error it makes.
SELECT CAST(count(*) - count(${column}) AS BIGINT) AS nulls,
       CAST(repeated_keys(${column}) AS BIGINT) AS repeats
FROM ${table}

-- name: check.instants
-- Timestamp columns readable as microseconds: a file that stores seconds or milliseconds
-- beyond ±292,000 years (nanoseconds labelled milliseconds, say) fails every query that
-- reads the column, with an error naming neither. Reading every value is the check; its
-- failure is the finding. And every instant in the years 0001–9999 (UTC), the ones
-- Antenna's Python datetimes hold: Antenna cannot read a row beyond them, and occlens's text
-- of one past chrono's range (±262,142 years) is that range's edge. The example is the first
-- such instant in microseconds since 1970. ${table}, ${column}.
SELECT CAST(count(*) AS BIGINT) AS bad, CAST(min(us) AS VARCHAR) AS example
FROM (SELECT arrow_cast(${column}, 'Int64') AS us FROM ${table})
WHERE us < -62135596800000000 OR us >= 253402300800000000

-- name: check.integers
-- Integer columns stored as another type (int8 for the contract's int4, unsigned, floating
-- point) are read through a conversion that refuses a value the contract's type cannot hold
-- (2^32 in an int4 column, 1.5 in an id), and a table whose parts store a column as
-- different types is read as one type, cast part by part (2^63 in an unsigned part of an
-- int8 column): every query that reads the column fails. Reading every value is the check;
-- its failure is the finding (an aggregate that no file statistics answer, as they can
-- answer min or max). ${table}, ${column}.
SELECT CAST(0 AS BIGINT) AS bad, CAST(bit_xor(${column}) AS VARCHAR) AS example
FROM ${table}

-- name: check.nulls
-- The NOT NULL columns the views read, checked with check.keys before every answer computed
-- from the snapshot's tables: a NULL there changes rows and counts without an error (a NULL
-- `main_project.default_filters_score_threshold` empties every list of the project). One
-- statement (one job on a cluster): ${counts} is, for each table, `(SELECT count(*) FROM
-- <table> WHERE "a" IS NULL OR "b" IS NULL …) AS <table>`, over the table's files as stored
-- (`<table>__stored`) where occlens converts some of its columns, so that row groups holding
-- no NULL in these columns are skipped by their statistics.
SELECT ${counts}

-- name: check.parents
-- `main_taxon.parents_json` holds Antenna's list of parents (`TaxonParent`: an object with an
-- integer `id`, and text `name` and `rank`) or NULL; json_parents is NULL for anything else
-- (JSON that is not an array, `[1, 2]`, an id that is text), which the list views would read
-- as no parents where a taxon's detail fails. Checked with check.keys before every answer
-- computed from the snapshot's tables. The example is the first such taxon's id.
SELECT CAST(count(*) AS BIGINT) AS bad, CAST(min(id) AS VARCHAR) AS example
FROM main_taxon WHERE parents_json IS NOT NULL AND json_parents(parents_json) IS NULL

-- name: check.not_null
-- Columns the contract says are NOT NULL. ${table}, ${column}.
SELECT CAST(count(*) AS BIGINT) AS bad, CAST(NULL AS VARCHAR) AS example
FROM ${table} WHERE ${column} IS NULL

-- name: check.json
-- jsonb columns hold JSON text (PostgreSQL's jsonb holds nothing else): text that does not
-- parse would read as NULL, or as no element, in every rule. ${table}, ${column}.
SELECT CAST(count(*) AS BIGINT) AS bad, substr(min(${column}), 1, 80) AS example
FROM ${table} WHERE ${column} IS NOT NULL AND NOT json_valid(${column})

-- name: check.foreign_key
-- References the views join on: a non-NULL ${table}.${column} names a row of ${parent}.id.
SELECT CAST(count(*) AS BIGINT) AS bad, CAST(min(c.${column}) AS VARCHAR) AS example
FROM ${table} c
WHERE c.${column} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE p.id = c.${column})

-- name: check.references
-- The references check.foreign_key tests: the joins of 02–06 from child to parent.
SELECT child, child_column, parent FROM (VALUES
  ('main_occurrence',     'project_id',       'main_project'),
  ('main_occurrence',     'deployment_id',    'main_deployment'),
  ('main_occurrence',     'event_id',         'main_event'),
  ('main_occurrence',     'determination_id', 'main_taxon'),
  ('main_detection',      'occurrence_id',    'main_occurrence'),
  ('main_detection',      'source_image_id',  'main_sourceimage'),
  ('main_classification', 'detection_id',     'main_detection'),
  ('main_classification', 'taxon_id',         'main_taxon'),
  ('main_identification', 'occurrence_id',    'main_occurrence'),
  ('main_identification', 'taxon_id',         'main_taxon')
) AS r(child, child_column, parent)
ORDER BY child, child_column
