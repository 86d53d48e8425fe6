-- The reference (window-function) formulation of the identification and image rules (see
-- reference/01_predictions.sql for what a reference view is).

-- Best identification (spec §3.5). Defines `best_identification` (queries/04_identifications.sql):
-- among O's identifications with withdrawn = false, the first by created_at DESC, id DESC.
-- The winner may have a NULL taxon or a NULL user.
CREATE VIEW best_identification_window AS
SELECT occurrence_id, id AS identification_id, taxon_id, user_id, created_at
FROM main_identification
WHERE NOT withdrawn
QUALIFY row_number() OVER (PARTITION BY occurrence_id ORDER BY created_at DESC, id DESC) = 1;

-- The list cover image (spec §3.11, §7 step 6). Defines `cover_image` (queries/02_detections.sql):
-- among O's detections with a truthy path, the first by frame_num ASC NULLS LAST, timestamp
-- ASC NULLS LAST, id ASC (occlens's tiebreaker: Antenna leaves ties unspecified).
CREATE VIEW cover_image_window AS
SELECT occurrence_id, path
FROM main_detection
WHERE occurrence_id IS NOT NULL AND path IS NOT NULL AND path <> ''
QUALIFY row_number() OVER (PARTITION BY occurrence_id
                           ORDER BY frame_num ASC NULLS LAST, "timestamp" ASC NULLS LAST, id ASC) = 1;
