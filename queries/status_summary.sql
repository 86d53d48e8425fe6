-- Status summary (src/api/endpoints/status_summary.rs). Antenna 731cc2a2:
-- ami/main/api/views.py SummaryView.get, every count live and each through its model's
-- visible_for_user(user) (ami/base/models.py BaseQuerySet): ${superuser} is TRUE for a
-- superuser (no condition, objects without a project included), else FALSE and the object's
-- project must be in ${visible} (the visible_projects fragment of queries/endpoints.sql).

-- name: status_summary.counts
-- projects_count: Project.objects.visible_for_user(user).count() — every visible project,
--   active or not, not only ${project}.
-- deployments_count: Deployment.visible_for_user(user).filter(project=P).
-- events_count: Event.visible_for_user(user).filter(deployment__project=P,
--   deployment__isnull=False) — through the event's deployment; visibility by its own project.
-- captures_count: SourceImage.visible_for_user(user).filter(deployment__project=P).
-- occurrences_count: Occurrence.visible_for_user(user).apply_default_filters(P, request)
--   .valid().filter(project=P); ${defaults}: the defaults fragment of queries/request.sql or
--   TRUE (apply_defaults=false).
-- taxa_count: Occurrence.visible_for_user(user).apply_default_filters(P, request)
--   .unique_taxa(P): distinct determinations of occurrences with an event (no .valid()).
-- Captures and occurrences are read from the per-project facts of queries/11_facts.sql
-- (capture_hours: captures counted per deployment and hour; occurrence_facts).
SELECT
  (SELECT count(*) FROM main_project p
    WHERE ${superuser} OR p.id IN (${visible})) AS projects_count,
  (SELECT count(*) FROM main_deployment d
    WHERE d.project_id = ${project}
      AND (${superuser} OR d.project_id IN (${visible}))) AS deployments_count,
  (SELECT count(*) FROM main_event e JOIN main_deployment d ON d.id = e.deployment_id
    WHERE d.project_id = ${project}
      AND (${superuser} OR e.project_id IN (${visible}))) AS events_count,
  (SELECT coalesce(sum(s.captures), 0) FROM capture_hours s
    JOIN main_deployment d ON d.id = s.deployment_id
    WHERE d.project_id = ${project}
      AND (${superuser} OR s.project_id IN (${visible}))) AS captures_count,
  (SELECT count(*) FROM occurrence_facts o
    WHERE o.project_id = ${project} AND o.is_valid AND ${defaults}
      AND (${superuser} OR o.project_id IN (${visible}))) AS occurrences_count,
  (SELECT count(DISTINCT o.determination_id) FROM occurrence_facts o
    WHERE o.project_id = ${project} AND o.determination_id IS NOT NULL
      AND o.event_id IS NOT NULL AND ${defaults}
      AND (${superuser} OR o.project_id IN (${visible}))) AS taxa_count
