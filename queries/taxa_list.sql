-- taxa_list_csv (antenna-exports-dwca.md §3, the 39-column version of §3.6). Named fragments,
-- like request.sql; ${project} and ${collection} are bound by occlens.

-- name: taxa_list.csv
-- One row per distinct determination of the project's default-filtered valid occurrences
-- (optionally with a detection in the collection; the event may be NULL). First and last
-- appearance are over ALL the occurrence's detections. Times of night are noon-shifted seconds:
-- t' = (t - 43200 + 86400) % 86400, aggregated, then shifted back.
WITH occ AS (
  SELECT o.id, o.determination_id, o.determination_score AS score,
         o.first_appearance_timestamp AS first_ts,
         wall_clock(o.first_appearance_timestamp) AS first_local,
         CASE WHEN o.last_appearance_timestamp > o.first_appearance_timestamp
              THEN arrow_cast(o.last_appearance_timestamp, 'Int64') - arrow_cast(o.first_appearance_timestamp, 'Int64')
         END AS duration_us
  FROM default_filtered_occurrence o
  WHERE o.project_id = ${project} AND ${collection}
), timed AS (
  SELECT *,
         CASE WHEN NOT isnan(score) THEN score END AS valid_score,
         duration_us / 1e6 AS duration_seconds,
         CAST(date_part('doy', first_local) AS BIGINT) AS day_of_year,
         CAST(date_part('month', first_local) AS BIGINT) AS month,
         (CAST(date_part('hour', first_local) AS BIGINT) * 3600 + CAST(date_part('minute', first_local) AS BIGINT) * 60
          + CAST(floor(date_part('second', first_local)) AS BIGINT) - 43200 + 86400) % 86400 AS shifted
  FROM occ
), per_taxon AS (
  SELECT determination_id AS taxon_id,
         count(*) AS direct_occurrences_count,
         min(valid_score) AS min_score,
         max(valid_score) AS max_score,
         -- Means from exact sums (exact_mean: the float sum's rounding does not depend on the
         -- order rows are added in, which partitions, the Parquet layout and a cluster change)
         exact_mean(array_agg(valid_score) FILTER (WHERE valid_score IS NOT NULL)) AS avg_score,
         min(day_of_year) AS day_min, max(day_of_year) AS day_max,
         CAST(floor(median(day_of_year)) AS BIGINT) AS day_median,
         min(shifted) AS time_min, max(shifted) AS time_max,
         CAST(floor(median(shifted)) AS BIGINT) AS time_median,
         min(month) AS month_min, max(month) AS month_max, avg(month) AS month_mean,
         min(duration_seconds) AS duration_min, max(duration_seconds) AS duration_max,
         -- and from microseconds summed as integers
         CAST(avg(CAST(duration_us AS DECIMAL(38, 0))) AS DOUBLE) / 1e6 AS duration_avg
  FROM timed
  GROUP BY determination_id
), last_of_rank AS (
  -- later parents_json entries of a rank overwrite earlier ones
  SELECT taxon_id, lower(rank) AS rank, name
  FROM (SELECT *, row_number() OVER (PARTITION BY taxon_id, rank ORDER BY position DESC) AS rn FROM taxon_parent)
  WHERE rn = 1
), hierarchy AS (
  -- the taxon's own rank column holds its own name
  SELECT t.id,
         CASE WHEN lower(t.rank) = 'kingdom' THEN t.name ELSE max(CASE WHEN r.rank = 'kingdom' THEN r.name END) END AS kingdom,
         CASE WHEN lower(t.rank) = 'phylum' THEN t.name ELSE max(CASE WHEN r.rank = 'phylum' THEN r.name END) END AS phylum,
         CASE WHEN lower(t.rank) = 'class' THEN t.name ELSE max(CASE WHEN r.rank = 'class' THEN r.name END) END AS class,
         CASE WHEN lower(t.rank) = 'order' THEN t.name ELSE max(CASE WHEN r.rank = 'order' THEN r.name END) END AS "order",
         CASE WHEN lower(t.rank) = 'family' THEN t.name ELSE max(CASE WHEN r.rank = 'family' THEN r.name END) END AS family,
         CASE WHEN lower(t.rank) = 'subfamily' THEN t.name ELSE max(CASE WHEN r.rank = 'subfamily' THEN r.name END) END AS subfamily,
         CASE WHEN lower(t.rank) = 'tribe' THEN t.name ELSE max(CASE WHEN r.rank = 'tribe' THEN r.name END) END AS tribe,
         CASE WHEN lower(t.rank) = 'genus' THEN t.name ELSE max(CASE WHEN r.rank = 'genus' THEN r.name END) END AS genus,
         CASE WHEN lower(t.rank) = 'species' THEN t.name ELSE max(CASE WHEN r.rank = 'species' THEN r.name END) END AS species
  FROM main_taxon t
  LEFT JOIN last_of_rank r ON r.taxon_id = t.id
  GROUP BY t.id, t.name, t.rank
)
SELECT
  CAST(t.id AS VARCHAR) AS id,
  t.name AS name,
  coalesce(t.display_name, '') AS display_name,
  t.rank AS rank,
  coalesce(t.common_name_en, '') AS common_name_en,
  coalesce(h.kingdom, '') AS kingdom, coalesce(h.phylum, '') AS phylum, coalesce(h.class, '') AS class,
  coalesce(h."order", '') AS "order", coalesce(h.family, '') AS family, coalesce(h.subfamily, '') AS subfamily,
  coalesce(h.tribe, '') AS tribe, coalesce(h.genus, '') AS genus, coalesce(h.species, '') AS species,
  CAST(p.direct_occurrences_count AS VARCHAR) AS direct_occurrences_count,
  coalesce(fixed(p.min_score, 4), '') AS min_score,
  coalesce(fixed(p.max_score, 4), '') AS max_score,
  coalesce(fixed(p.avg_score, 4), '') AS avg_score,
  coalesce(CAST(p.day_min AS VARCHAR), '') AS session_day_min,
  coalesce(CAST(p.day_max AS VARCHAR), '') AS session_day_max,
  coalesce(CAST(p.day_median AS VARCHAR), '') AS session_day_median,
  coalesce(CAST(arrow_cast(((p.time_min + 43200) % 86400) * 1000000, 'Time64(Microsecond)') AS VARCHAR), '') AS session_time_min,
  coalesce(CAST(arrow_cast(((p.time_max + 43200) % 86400) * 1000000, 'Time64(Microsecond)') AS VARCHAR), '') AS session_time_max,
  coalesce(CAST(arrow_cast(((p.time_median + 43200) % 86400) * 1000000, 'Time64(Microsecond)') AS VARCHAR), '') AS session_time_median,
  coalesce(CAST(p.month_min AS VARCHAR), '') AS session_month_min,
  coalesce(CAST(p.month_max AS VARCHAR), '') AS session_month_max,
  coalesce(fixed(p.month_mean, 1), '') AS session_month_mean,
  coalesce(CAST(CAST(py_round(p.duration_min, 0) AS BIGINT) AS VARCHAR), '') AS min_duration_seconds,
  coalesce(CAST(CAST(py_round(p.duration_max, 0) AS BIGINT) AS VARCHAR), '') AS max_duration_seconds,
  coalesce(CAST(CAST(py_round(p.duration_avg, 0) AS BIGINT) AS VARCHAR), '') AS avg_duration_seconds,
  CASE WHEN t.gbif_taxon_key <> 0 THEN CAST(t.gbif_taxon_key AS VARCHAR) ELSE '' END AS gbif_taxon_key,
  CASE WHEN t.gbif_taxon_key <> 0 THEN 'https://www.gbif.org/species/' || CAST(t.gbif_taxon_key AS VARCHAR) ELSE '' END AS gbif_url,
  CASE WHEN t.inat_taxon_id <> 0 THEN CAST(t.inat_taxon_id AS VARCHAR) ELSE '' END AS inat_taxon_id,
  CASE WHEN t.inat_taxon_id <> 0 THEN 'https://www.inaturalist.org/taxa/' || CAST(t.inat_taxon_id AS VARCHAR) ELSE '' END AS inat_url,
  coalesce(t.bold_taxon_bin, '') AS bold_taxon_bin,
  CASE WHEN t.bold_taxon_bin <> '' THEN 'https://www.boldsystems.org/index.php/Public_BarcodeIndexNumber_RecordView?searchtype=records&recordID=' || t.bold_taxon_bin ELSE '' END AS bold_url,
  coalesce(t.fieldguide_id, '') AS fieldguide_id,
  CASE WHEN t.fieldguide_id <> '' THEN 'https://fieldguide.app/taxa/' || t.fieldguide_id ELSE '' END AS fieldguide_url,
  coalesce(t.cover_image_url, '') AS cover_image_url
FROM per_taxon p
JOIN main_taxon t ON t.id = p.taxon_id
LEFT JOIN hierarchy h ON h.id = t.id
-- Antenna orders by name in the database collation (en_US); occlens: case-insensitive, then
-- byte order, then id.
ORDER BY lower(name), name, CAST(id AS BIGINT)
