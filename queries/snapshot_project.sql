-- `occlens snapshot --project P` (PostgreSQL, not DataFusion): the WHERE condition of each
-- table's COPY, so that a per-project snapshot holds what that project's views need — its
-- occurrences, their detections, classifications, identifications, captures, events and
-- deployments, and every taxon (with the ancestors of its parents_json), algorithm, category
-- map and user they reference. ${project} is bound to the project id.

-- name: project.main_occurrence
project_id = ${project}

-- name: project.main_detection
occurrence_id IN (SELECT id FROM main_occurrence WHERE project_id = ${project})

-- name: project.main_classification
detection_id IN (SELECT d.id FROM main_detection d JOIN main_occurrence o ON o.id = d.occurrence_id
                 WHERE o.project_id = ${project})

-- name: project.main_identification
occurrence_id IN (SELECT id FROM main_occurrence WHERE project_id = ${project})

-- name: project.main_sourceimage
id IN (SELECT d.source_image_id FROM main_detection d JOIN main_occurrence o ON o.id = d.occurrence_id
       WHERE o.project_id = ${project})

-- name: project.main_event
project_id = ${project} OR id IN (SELECT event_id FROM main_occurrence WHERE project_id = ${project})

-- name: project.main_deployment
project_id = ${project} OR id IN (SELECT deployment_id FROM main_occurrence WHERE project_id = ${project})

-- name: project.main_project
id = ${project}

-- name: project.main_project_default_filters_include_taxa
project_id = ${project}

-- name: project.main_project_default_filters_exclude_taxa
project_id = ${project}

-- name: project.main_sourceimagecollection
project_id = ${project}

-- name: project.main_sourceimagecollection_images
sourceimagecollection_id IN (SELECT id FROM main_sourceimagecollection WHERE project_id = ${project})

-- name: project.main_taxalist
id IN (SELECT taxalist_id FROM main_taxalist_projects WHERE project_id = ${project})

-- name: project.main_taxalist_taxa
taxalist_id IN (SELECT taxalist_id FROM main_taxalist_projects WHERE project_id = ${project})

-- name: project.main_taxalist_projects
project_id = ${project}

-- name: project.main_taxon_projects
project_id = ${project}

-- name: project.main_s3storagesource
project_id = ${project} OR id IN (SELECT data_source_id FROM main_deployment WHERE project_id = ${project})

-- name: project.ml_pipeline
id IN (SELECT default_processing_pipeline_id FROM main_project WHERE id = ${project})

-- name: project.ml_projectpipelineconfig
project_id = ${project}

-- name: project.ml_pipeline_algorithms
pipeline_id IN (SELECT pipeline_id FROM ml_projectpipelineconfig WHERE project_id = ${project})

-- name: project.jobs_job
project_id = ${project}

-- name: project.main_tag
project_id = ${project} OR project_id IS NULL

-- name: project.main_taxon_tags
tag_id IN (SELECT id FROM main_tag WHERE project_id = ${project} OR project_id IS NULL)

-- name: project.main_userprojectmembership
project_id = ${project}

-- name: project.main_site
project_id = ${project} OR id IN (SELECT research_site_id FROM main_deployment WHERE project_id = ${project})

-- name: project.main_device
project_id = ${project} OR id IN (SELECT device_id FROM main_deployment WHERE project_id = ${project})

-- name: project.main_taxon
id IN (
  WITH referenced AS (
    SELECT determination_id AS id FROM main_occurrence WHERE project_id = ${project}
    UNION SELECT c.taxon_id FROM main_classification c
          JOIN main_detection d ON d.id = c.detection_id
          JOIN main_occurrence o ON o.id = d.occurrence_id WHERE o.project_id = ${project}
    UNION SELECT i.taxon_id FROM main_identification i
          JOIN main_occurrence o ON o.id = i.occurrence_id WHERE o.project_id = ${project}
    UNION SELECT taxon_id FROM main_project_default_filters_include_taxa WHERE project_id = ${project}
    UNION SELECT taxon_id FROM main_project_default_filters_exclude_taxa WHERE project_id = ${project}
    UNION SELECT tt.taxon_id FROM main_taxalist_taxa tt
          JOIN main_taxalist_projects tp ON tp.taxalist_id = tt.taxalist_id WHERE tp.project_id = ${project}
    UNION SELECT taxon_id FROM main_taxon_projects WHERE project_id = ${project}
  )
  SELECT id FROM referenced
  UNION SELECT (p->>'id')::bigint FROM main_taxon t, jsonb_array_elements(t.parents_json) p
        WHERE t.id IN (SELECT id FROM referenced) AND jsonb_typeof(t.parents_json) = 'array'
  UNION SELECT t.parent_id FROM main_taxon t WHERE t.id IN (SELECT id FROM referenced)
)

-- name: project.ml_algorithm
id IN (SELECT c.algorithm_id FROM main_classification c
       JOIN main_detection d ON d.id = c.detection_id
       JOIN main_occurrence o ON o.id = d.occurrence_id WHERE o.project_id = ${project}
       UNION SELECT d.detection_algorithm_id FROM main_detection d
       JOIN main_occurrence o ON o.id = d.occurrence_id WHERE o.project_id = ${project})

-- name: project.ml_algorithmcategorymap
id IN (SELECT a.category_map_id FROM ml_algorithm a WHERE a.id IN (
         SELECT c.algorithm_id FROM main_classification c
         JOIN main_detection d ON d.id = c.detection_id
         JOIN main_occurrence o ON o.id = d.occurrence_id WHERE o.project_id = ${project})
       UNION SELECT c.category_map_id FROM main_classification c
         JOIN main_detection d ON d.id = c.detection_id
         JOIN main_occurrence o ON o.id = d.occurrence_id WHERE o.project_id = ${project})

-- name: project.users_user
id IN (SELECT i.user_id FROM main_identification i
       JOIN main_occurrence o ON o.id = i.occurrence_id WHERE o.project_id = ${project}
       UNION SELECT owner_id FROM main_project WHERE id = ${project}
       UNION SELECT user_id FROM main_userprojectmembership WHERE project_id = ${project})
