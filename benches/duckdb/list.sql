-- The full list view, summarised by a checksum of its key columns. `{variant}` is window or
-- argmax; `{and}` is empty or `AND l.<condition>` (e.g. a project). The same summary is
-- computed by occlens over occurrence_list (see compare.py).
SELECT count(*) AS n,
       sum(l.id) AS ids,
       sum(bp.classification_id) AS best_predictions,
       sum(bi.identification_id) AS best_identifications,
       sum(a.detections_count) AS detections,
       sum(length(ci.path)) AS cover_chars,
       sum(epoch(a.duration)) AS duration_s,
       sum(length(tx.name)) AS name_chars,
       sum(epoch(ev.start)) AS event_starts,
       sum(hour(a.first_appearance_time) * 3600 + minute(a.first_appearance_time) * 60 + second(a.first_appearance_time)) AS first_times
FROM o l
JOIN agg a ON a.occurrence_id = l.id
LEFT JOIN e ev ON ev.id = l.event_id
LEFT JOIN t tx ON tx.id = l.determination_id
LEFT JOIN cover_{variant} ci ON ci.occurrence_id = l.id
LEFT JOIN bp_{variant} bp ON bp.occurrence_id = l.id
LEFT JOIN bi_{variant} bi ON bi.occurrence_id = l.id
WHERE l.determination_id IS NOT NULL AND a.has_real_detection {and};
