//! `GET /api/v2/events/` and `/api/v2/events/<id>/` (Antenna 731cc2a2: `EventViewSet` of
//! ami/main/api/views.py with `EventListSerializer` / `EventSerializer`), and the pieces the
//! deployments endpoints share with them (ordering terms, nested deployment and capture
//! shapes, per-object permissions). SQL: queries/events.sql; the detail body is in
//! events_detail.rs.

use crate::api::endpoints::{EndpointAnswer, Endpoints, Model, Order};
use crate::api::params::Params;
use crate::api::params::{py_int, PyInt};
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::timefmt::{
    date_label, duration_label, duration_seconds, event_name, iso, local,
};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// `EventViewSet.ordering_fields`.
const ORDERING: &[&str] = &[
    "created_at",
    "updated_at",
    "deployment",
    "start",
    "start__time",
    "captures_count",
    "detections_count",
    "occurrences_count",
    "taxa_count",
    "duration",
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        [] => list(e).await,
        [id] => super::events_detail::detail(e, id).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: the sort keys of the `ordering` terms (up to a
/// `start__time` term, whose time of day no field of an item shows), else Event.Meta's
/// `start` without a project, and no order at all with one (the taxa_count annotation's
/// GROUP BY drops Meta.ordering).
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    if !tail.is_empty() {
        return None;
    }
    let terms = ordering_terms(p, ORDERING);
    if terms.is_empty() {
        return Some(if names_a_project(p) {
            Order::Unordered
        } else {
            Order::Keys(vec!["/start".into()])
        });
    }
    let keys: Vec<String> = terms
        .iter()
        .map(|(field, _)| *field)
        .take_while(|f| *f != "start__time")
        .map(|f| match f {
            "deployment" => "/deployment/id".to_string(),
            other => format!("/{other}"),
        })
        .collect();
    Some(if keys.is_empty() {
        Order::Unordered
    } else {
        Order::Keys(keys)
    })
}

/// Whether `project_id` reads as a project id > 0 (DRF's IntegerField: a trailing `.0…` and
/// whitespace dropped, then `int()`): the project may then be resolved.
fn names_a_project(p: &Params) -> bool {
    let Some(v) = p.given("project_id") else {
        return false;
    };
    let v = v.trim_end_matches(char::is_whitespace);
    let v = match v.rfind('.') {
        Some(dot) if v[dot + 1..].bytes().all(|b| b == b'0') => &v[..dot],
        _ => v,
    };
    matches!(py_int(v), Some(PyInt::Int(id)) if id > 0)
}

/// The `ordering` terms among `valid` (`Params::ordering`).
pub(super) fn ordering_terms<'f>(p: &Params, valid: &[&'f str]) -> Vec<(&'f str, bool)> {
    p.ordering(valid)
}

/// `ORDER BY` of `NullsLastOrderingFilter` over the `o_<field>` sort columns, then `id`.
pub(super) fn order_by(terms: &[(&str, bool)], default: &str) -> String {
    let mut parts: Vec<String> = terms
        .iter()
        .map(|(f, desc)| format!("o_{f} {} NULLS LAST", if *desc { "DESC" } else { "ASC" }))
        .collect();
    if parts.is_empty() {
        parts.push(default.to_string());
    }
    parts.push("id ASC".into());
    parts.join(", ")
}

/// The conditions every events request starts from: `project_id` (400s), the visibility of
/// the requester, `deployment IS NOT NULL`, and the `deployment` filter (400 when it names no
/// deployment). Also the resolved project.
pub(super) async fn scope(
    e: &Endpoints<'_>,
) -> Result<std::result::Result<(Option<i64>, Vec<String>), ApiError>> {
    let project = match e.project(false).await? {
        Ok(p) => p,
        Err(err) => return Ok(Err(err)),
    };
    let mut conditions = vec![e.sql("events.scope", &[])];
    if let Some(p) = project {
        conditions.push(e.sql("events.in_project", &[("project", Arg::Int(p))]));
    }
    if !matches!(e.who, Requester::Superuser(_)) {
        let visible = e.visible_projects();
        conditions.push(e.sql("events.visible", &[("visible", Arg::Sql(&visible))]));
    }
    if let Some(v) = e.params.given("deployment") {
        let invalid = || {
            ApiError::field(
                "deployment",
                "Select a valid choice. That choice is not one of the available choices.",
            )
        };
        let Some(PyInt::Int(id)) = py_int(v) else {
            return Ok(Err(invalid()));
        };
        let sql = e.sql("events.deployment_exists", &[("deployment", Arg::Int(id))]);
        let exists = e
            .rows(&sql)
            .await?
            .first()
            .and_then(|r| r.i64("n"))
            .unwrap_or(0)
            > 0;
        if !exists {
            return Ok(Err(invalid()));
        }
        conditions.push(e.sql("events.of_deployment", &[("deployment", Arg::Int(id))]));
    }
    Ok(Ok((project, conditions)))
}

async fn list(e: &Endpoints<'_>) -> EndpointAnswer {
    let (project, conditions) = match scope(e).await? {
        Ok(s) => s,
        Err(err) => return Ok(Err(err)),
    };
    let mut terms = ordering_terms(e.params, ORDERING);
    let scope_sql = conditions.join(" AND ");
    let count_sql = e.sql("events.count", &[("scope", Arg::Sql(&scope_sql))]);
    let count = e
        .rows(&count_sql)
        .await?
        .first()
        .and_then(|r| r.i64("count"))
        .unwrap_or(0);
    let paging = e.params.paging(20, None);
    if project.is_none() && terms.iter().any(|(f, _)| *f == "taxa_count") {
        // No with_taxa_count annotation without a project: Django's FieldError when the
        // page query runs, which DRF's paginator skips for a page past the end (the count
        // clears the ordering): that page is empty in any order.
        if paging.reads_page(count as usize) {
            return Ok(Err(ApiError::detail(
                500,
                "Server Error: ordering by taxa_count needs a project (Antenna raises FieldError)"
                    .into(),
            )));
        }
        terms.retain(|(f, _)| *f != "taxa_count");
    }
    // Without a valid term: Event.Meta ordering (start) without a project; with one the
    // GROUP BY of the annotation leaves the order undefined (id order is what was observed).
    let default = if project.is_some() {
        "id ASC"
    } else {
        "o_start ASC"
    };
    let (taxa_join, taxa_count) = match project {
        Some(p) => {
            let defaults = if e.params.apply_defaults() {
                e.sql("defaults", &[("project", Arg::Int(p))])
            } else {
                "TRUE".to_string()
            };
            (
                e.sql("events.taxa_count", &[("defaults", Arg::Sql(&defaults))]),
                e.sql("events.taxa_count_value", &[]),
            )
        }
        None => (String::new(), "0".to_string()),
    };
    let order = order_by(&terms, default);
    let sql = e.sql(
        "events.rows",
        &[
            ("scope", Arg::Sql(&scope_sql)),
            ("taxa_join", Arg::Sql(&taxa_join)),
            ("taxa_count", Arg::Sql(&taxa_count)),
            ("order", Arg::Sql(&order)),
            ("limit", Arg::Int(paging.limit as i64)),
            ("offset", Arg::Int(paging.offset as i64)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.i64("id")).collect();
    let examples = if ids.is_empty() {
        Vec::new()
    } else {
        e.rows(&e.sql("events.example_captures", &[("events", Arg::Ints(&ids))]))
            .await?
    };
    let projects = rows
        .iter()
        .map(|r| r.i64("deployment_project_id"))
        .chain(examples.iter().map(|c| c.i64("project_id")));
    let members = members(e, projects).await?;
    let mut results = Vec::with_capacity(rows.len());
    // The example captures by event (one pass; a page may hold many events).
    let mut examples_of: std::collections::HashMap<i64, Vec<&Row>> = Default::default();
    for c in &examples {
        if let Some(event) = c.i64("event_id") {
            examples_of.entry(event).or_default().push(c);
        }
    }
    for r in &rows {
        let Some(mut m) = common(e, r, &members) else {
            return Ok(Err(no_start()));
        };
        let id = r.i64("id").unwrap_or_default();
        m.insert("taxa_count".into(), r["taxa_count"].clone());
        m.insert(
            "captures".into(),
            json!(format!("{}/api/v2/captures/?event={id}", e.base())),
        );
        let example: Vec<Value> = examples_of
            .get(&id)
            .into_iter()
            .flatten()
            .map(|c| {
                let mut v = capture(e, c);
                v.insert("thumbnails".into(), thumbnails(e, c));
                v.insert(
                    "user_permissions".into(),
                    perms(e, Model::Capture, c.i64("project_id"), &members),
                );
                Value::Object(v)
            })
            .collect();
        m.insert("example_captures".into(), Value::Array(example));
        finish(e, r, &mut m);
        results.push(Value::Object(m));
    }
    let mut body = e.params.envelope(e.base(), paging, count as usize, results);
    body.insert(
        "user_permissions".into(),
        e.permissions(Model::Collection, false),
    );
    Ok(Ok(Value::Object(body)))
}

/// An event without a start: Antenna's `str(event)` fails on it (a 500).
pub(super) fn no_start() -> ApiError {
    ApiError::detail(
        500,
        "Server Error: an event without a start (Antenna's Event.__str__ fails)".into(),
    )
}

/// The fields the list and detail bodies share, `id` … `occurrences_count`; `None` when the
/// event has no start.
pub(super) fn common(e: &Endpoints<'_>, r: &Row, members: &Roles) -> Option<Map<String, Value>> {
    let tz = e.engine.config.time_zone;
    let id = r.i64("id")?;
    let start = r.i64("start")?;
    let end = r.i64("end");
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), json!(event_name(start, end, tz)));
    m.insert("details".into(), e.link("events", id));
    let deployment = match r.i64("deployment_row") {
        Some(d) => json!({
            "id": d,
            "name": r["deployment_name"],
            "details": e.link("deployments", d),
            "user_permissions": perms(e, Model::Deployment, r.i64("deployment_project_id"), members),
        }),
        None => Value::Null,
    };
    m.insert("deployment".into(), deployment);
    m.insert("start".into(), json!(iso(start, tz)));
    m.insert("end".into(), json!(end.map(|t| iso(t, tz))));
    m.insert(
        "day".into(),
        json!(local(start, tz).date().format("%Y-%m-%d").to_string()),
    );
    m.insert("date_label".into(), json!(date_label(start, end, tz)));
    let duration = r.i64("duration");
    m.insert("duration".into(), json!(duration.map(duration_seconds)));
    m.insert("duration_label".into(), json!(duration_label(duration)));
    for k in ["captures_count", "detections_count", "occurrences_count"] {
        m.insert(k.into(), r.get(k).cloned().unwrap_or(Value::Null));
    }
    Some(m)
}

/// `created_at`, `updated_at` and `user_permissions`, the last fields of both bodies.
pub(super) fn finish(e: &Endpoints<'_>, r: &Row, m: &mut Map<String, Value>) {
    let tz = e.engine.config.time_zone;
    for k in ["created_at", "updated_at"] {
        m.insert(k.into(), json!(r.i64(k).map(|t| iso(t, tz))));
    }
    m.insert(
        "user_permissions".into(),
        e.permissions(Model::Event, false),
    );
}

/// A nested capture's `id, details, url, width, height, timestamp`.
pub(super) fn capture(e: &Endpoints<'_>, c: &Row) -> Map<String, Value> {
    let tz = e.engine.config.time_zone;
    let id = c.i64("id").unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("details".into(), e.link("captures", id));
    for k in ["url", "width", "height"] {
        m.insert(k.into(), c.get(k).cloned().unwrap_or(Value::Null));
    }
    m.insert(
        "timestamp".into(),
        json!(c.i64("timestamp").map(|t| iso(t, tz))),
    );
    m
}

/// `SourceImageThumbnailSerializer.get_thumbnails`: none for a capture without a project or
/// of a draft project; else the thumbnail route of each size (no thumbnail rows exist).
pub(super) fn thumbnails(e: &Endpoints<'_>, c: &Row) -> Value {
    if c.i64("project_id").is_none() || c.bool("project_draft") != Some(false) {
        return Value::Null;
    }
    let id = c.i64("id").unwrap_or_default();
    let url = |label: &str| {
        format!(
            "{}/api/v2/captures/thumbnails/{id}/?label={label}",
            e.base()
        )
    };
    json!({"small": url("small"), "medium": url("medium"), "large": url("large")})
}

/// The roles of the requester among some projects: those it holds a role in (members and
/// owners: roles follow membership) and those it manages (Project manager: the owner).
#[derive(Debug, Default)]
pub(super) struct Roles {
    members: HashSet<i64>,
    managed: HashSet<i64>,
}

impl Roles {
    /// Whether the requester holds a role in `project`.
    pub(super) fn contains(&self, project: &i64) -> bool {
        self.members.contains(project)
    }

    /// Whether the requester manages `project` ([`crate::engine::dims::Dims::manages`]).
    pub(super) fn manages(&self, project: Option<i64>) -> bool {
        project.is_some_and(|p| self.managed.contains(&p))
    }
}

/// The requester's [`Roles`] among `projects`.
pub(super) async fn members(
    e: &Endpoints<'_>,
    projects: impl Iterator<Item = Option<i64>>,
) -> Result<Roles> {
    let Requester::User(user) = e.who else {
        return Ok(Roles::default());
    };
    let wanted: HashSet<i64> = projects.flatten().collect();
    if wanted.is_empty() {
        return Ok(Roles::default());
    }
    let sql = e.sql("events.member_projects", &[("user", Arg::Int(*user))]);
    let members = e
        .rows(&sql)
        .await?
        .iter()
        .filter_map(|r| r.i64("id"))
        .filter(|p| wanted.contains(p))
        .collect();
    let dims = e.engine.dims().await?;
    let managed = wanted
        .into_iter()
        .filter(|p| dims.manages(Some(*user), Some(*p)))
        .collect();
    Ok(Roles { members, managed })
}

/// ProjectNestedSerializer (id, name, image, details, permissions) of a row's
/// `project_row`, `project_name` and `project_image` columns; null without a project row.
pub(super) fn nested_project(e: &Endpoints<'_>, r: &Row, members: &Roles) -> Value {
    match r.i64("project_row") {
        Some(p) => json!({
            "id": p,
            "name": r.get("project_name").cloned().unwrap_or(Value::Null),
            "image": e.image(r.str("project_image")),
            "details": e.link("projects", p),
            "user_permissions": perms(e, Model::Project, Some(p), members),
        }),
        None => Value::Null,
    }
}

/// `user_permissions` of an object of `model` in `project` (BaseModel.get_user_object_permissions):
/// a deployment or capture without a project lacks its project's custom actions; its Project
/// manager (not a superuser) holds every deployment and capture permission, as a superuser.
pub(super) fn perms(e: &Endpoints<'_>, model: Model, project: Option<i64>, roles: &Roles) -> Value {
    let member = project.is_some_and(|p| roles.contains(&p));
    if matches!(e.who, Requester::User(_)) && roles.manages(project) {
        match model {
            Model::Deployment => return json!(["update", "regroup", "delete", "sync"]),
            Model::Capture => {
                return json!(["star", "update", "run_single_image_ml_job", "delete"])
            }
            _ => {}
        }
    }
    let model = match (model, project) {
        (Model::Deployment, None) => Model::ProjectlessDeployment,
        (Model::Capture, None) => Model::ProjectlessCapture,
        (m, _) => m,
    };
    e.permissions(model, member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_terms_follow_drf() {
        let p = Params::parse(
            "/api/v2/events/?ordering=x&ordering= -start , --start,taxa_count,,start__time",
        );
        assert_eq!(
            ordering_terms(&p, ORDERING),
            vec![
                ("start", true),
                ("taxa_count", false),
                ("start__time", false)
            ]
        );
        assert_eq!(
            order(&p, &[]),
            Some(Order::Keys(vec!["/start".into(), "/taxa_count".into()]))
        );
        let p = Params::parse("/api/v2/events/?ordering=start__time,start");
        assert_eq!(order(&p, &[]), Some(Order::Unordered));
        let p = Params::parse("/api/v2/events/?project_id=1&ordering=bogus");
        assert_eq!(order(&p, &[]), Some(Order::Unordered));
        let p = Params::parse("/api/v2/events/?project_id=0");
        assert_eq!(order(&p, &[]), Some(Order::Keys(vec!["/start".into()])));
        let p = Params::parse("/api/v2/events/?project_id=2.00%20");
        assert_eq!(order(&p, &[]), Some(Order::Unordered));
    }
}
