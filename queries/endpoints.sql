-- Fragments shared by the endpoints other than occurrences (src/api/endpoints/): who sees
-- which project. Antenna: `ProjectQuerySet.visible_for_user` and the `visible_for_user` of
-- models with a project (ami/main/models.py): a superuser sees everything (occlens then
-- binds no condition), anonymous sees non-draft projects, a user also owned and member ones.

-- name: existing_ids
-- ModelMultipleChoiceField._check_values: the ids among ${ids} that ${table} holds.
SELECT id FROM ${table} WHERE id IN (${ids})

-- name: visible_projects
-- ${user} is -1 for anonymous (no user has that id).
SELECT id FROM main_project
WHERE NOT draft OR owner_id = ${user}
   OR id IN (SELECT project_id FROM main_userprojectmembership WHERE user_id = ${user})

-- name: is_member
-- Whether the user holds a role in the project (member or owner): Antenna's roles follow
-- membership (the oracle's BasicMember assumption, tests/fixtures/antenna-oracle2/README.md).
SELECT count(*) > 0 AS member FROM (
  SELECT project_id FROM main_userprojectmembership WHERE user_id = ${user} AND project_id = ${project}
  UNION ALL
  SELECT id FROM main_project WHERE id = ${project} AND owner_id = ${user}
) m
