//! `GET /api/v2/deployments/` and `/api/v2/deployments/<id>/` (Antenna 731cc2a2:
//! `DeploymentViewSet` of ami/main/api/views.py with `DeploymentListSerializer` /
//! `DeploymentSerializer`; `Deployment` in ami/main/models.py). SQL: queries/deployments.sql.

use super::events::{capture, members, nested_project, order_by, ordering_terms, perms, Roles};
use super::pg_sort::{nulls_last, pg_qsort};
use crate::api::endpoints::{EndpointAnswer, Endpoints, Model, Order};
use crate::api::params::path_id;
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::pyfmt::{py_repr, py_round};
use crate::render::timefmt::{event_name, iso, local};
use serde_json::{json, Map, Value};

/// `DeploymentViewSet.ordering_fields` (all stored columns).
const ORDERING: &[&str] = &[
    "created_at",
    "updated_at",
    "captures_count",
    "events_count",
    "occurrences_count",
    "taxa_count",
    "first_capture_timestamp",
    "last_capture_timestamp",
    "name",
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        [] => list(e).await,
        [id] => detail(e, id).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: the sort keys of the `ordering` terms (the capture
/// timestamps by the dates the items show, a coarser key), else Meta's `name`.
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    if !tail.is_empty() {
        return None;
    }
    let terms = ordering_terms(p, ORDERING);
    if terms.is_empty() {
        return Some(Order::Keys(vec!["/name".into()]));
    }
    let keys = terms
        .iter()
        .map(|(f, _)| match *f {
            "first_capture_timestamp" => "/first_date".to_string(),
            "last_capture_timestamp" => "/last_date".to_string(),
            other => format!("/{other}"),
        })
        .collect();
    Some(Order::Keys(keys))
}

/// The visibility and `project_id` conditions, and the resolved project (400s).
async fn scope(e: &Endpoints<'_>) -> Result<std::result::Result<Vec<String>, ApiError>> {
    let project = match e.project(false).await? {
        Ok(p) => p,
        Err(err) => return Ok(Err(err)),
    };
    let mut conditions = vec!["TRUE".to_string()];
    if let Some(p) = project {
        conditions.push(e.sql("deployments.in_project", &[("project", Arg::Int(p))]));
    }
    if !matches!(e.who, Requester::Superuser(_)) {
        let visible = e.visible_projects();
        conditions.push(e.sql("deployments.visible", &[("visible", Arg::Sql(&visible))]));
    }
    Ok(Ok(conditions))
}

fn rows_sql(e: &Endpoints<'_>, scope: &str, order: &str, limit: i64, offset: i64) -> String {
    e.sql(
        "deployments.rows",
        &[
            ("scope", Arg::Sql(scope)),
            ("order", Arg::Sql(order)),
            ("limit", Arg::Int(limit)),
            ("offset", Arg::Int(offset)),
        ],
    )
}

async fn list(e: &Endpoints<'_>) -> EndpointAnswer {
    let conditions = match scope(e).await? {
        Ok(c) => c,
        Err(err) => return Ok(Err(err)),
    };
    let scope_sql = conditions.join(" AND ");
    let count_sql = e.sql("deployments.count", &[("scope", Arg::Sql(&scope_sql))]);
    let count = e
        .rows(&count_sql)
        .await?
        .first()
        .and_then(|r| r.i64("count"))
        .unwrap_or(0);
    let paging = e.params.paging(20, None);
    let order = order_by(&ordering_terms(e.params, ORDERING), "o_name ASC");
    let sql = rows_sql(
        e,
        &scope_sql,
        &order,
        paging.limit as i64,
        paging.offset as i64,
    );
    let rows = e.rows(&sql).await?;
    let members = members(e, rows.iter().map(|r| r.i64("project_id"))).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.i64("id")).collect();
    let mut jobs = match super::jobs::by_deployment(e, &ids).await? {
        Ok(jobs) => jobs,
        Err(err) => return Ok(Err(err)),
    };
    let results = rows
        .iter()
        .map(|r| {
            let own = r.i64("id").and_then(|id| jobs.remove(&id));
            let mut m = item(e, r, &members, own.unwrap_or_default());
            m.insert(
                "user_permissions".into(),
                perms(e, Model::Deployment, r.i64("project_id"), &members),
            );
            Value::Object(m)
        })
        .collect();
    let mut body = e.params.envelope(e.base(), paging, count as usize, results);
    body.insert(
        "user_permissions".into(),
        e.permissions(Model::Collection, false),
    );
    Ok(Ok(Value::Object(body)))
}

/// A nested `{id, name, details, user_permissions}` of a related row, or null.
fn nested(e: &Endpoints<'_>, r: &Row, row: &str, name: &str, route: &str, model: Model) -> Value {
    match r.i64(row) {
        Some(id) => json!({
            "id": id, "name": r[name], "details": e.link(route, id),
            "user_permissions": e.permissions(model, false),
        }),
        None => Value::Null,
    }
}

/// `DeploymentListSerializer` fields, `id` … `data_source_connected`.
fn item(e: &Endpoints<'_>, r: &Row, members: &Roles, jobs: Vec<Value>) -> Map<String, Value> {
    let tz = e.engine.config.time_zone;
    let id = r.i64("id").unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), r["name"].clone());
    m.insert("details".into(), e.link("deployments", id));
    m.insert("image".into(), e.image(r.str("image")));
    m.insert(
        "events".into(),
        json!(format!("{}/api/v2/events/?deployment={id}", e.base())),
    );
    m.insert(
        "occurrences".into(),
        json!(format!("{}/api/v2/occurrences/?deployment={id}", e.base())),
    );
    for k in [
        "events_count",
        "captures_count",
        "occurrences_count",
        "taxa_count",
    ] {
        m.insert(k.into(), r.get(k).cloned().unwrap_or(Value::Null));
    }
    m.insert("project".into(), nested_project(e, r, members));
    for k in ["created_at", "updated_at"] {
        m.insert(k.into(), json!(r.i64(k).map(|t| iso(t, tz))));
    }
    m.insert(
        "latitude".into(),
        r.get("latitude").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "longitude".into(),
        r.get("longitude").cloned().unwrap_or(Value::Null),
    );
    let date = |k: &str| {
        json!(r
            .i64(k)
            .map(|t| local(t, tz).date().format("%Y-%m-%d").to_string()))
    };
    m.insert("first_date".into(), date("first_capture_timestamp"));
    m.insert("last_date".into(), date("last_capture_timestamp"));
    m.insert(
        "device".into(),
        nested(
            e,
            r,
            "device_row",
            "device_name",
            "deployments/devices",
            Model::Device,
        ),
    );
    m.insert(
        "research_site".into(),
        nested(
            e,
            r,
            "site_row",
            "site_name",
            "deployments/sites",
            Model::Site,
        ),
    );
    m.insert("jobs".into(), Value::Array(jobs));
    m.insert(
        "data_source_connected".into(),
        json!(r.i64("data_source_id").is_some()),
    );
    m
}

async fn detail(e: &Endpoints<'_>, segment: &str) -> EndpointAnswer {
    let mut conditions = match scope(e).await? {
        Ok(c) => c,
        Err(err) => return Ok(Err(err)),
    };
    let Some(id) = path_id(segment) else {
        return Ok(Err(ApiError::not_found()));
    };
    conditions.push(e.sql("deployments.id", &[("id", Arg::Int(id))]));
    let rows = e
        .rows(&rows_sql(e, &conditions.join(" AND "), "id ASC", 1, 0))
        .await?;
    let Some(r) = rows.first() else {
        return Ok(Err(ApiError::not_found()));
    };
    if r.i64("project_id").is_none() {
        // ObjectPermission: a deployment without a project fails check_permission.
        return Ok(Err(ApiError::detail(
            403,
            "You do not have permission to perform this action.".into(),
        )));
    }
    let tz = e.engine.config.time_zone;
    let deployment = Arg::Int(id);
    let events = e
        .rows(&e.sql("deployments.events", &[("deployment", deployment)]))
        .await?;
    let examples = example_captures(e, id).await?;
    let projects = [r.i64("project_id")]
        .into_iter()
        .chain(examples.iter().map(|c| c.i64("project_id")));
    let members = members(e, projects).await?;
    let jobs = match super::jobs::by_deployment(e, &[id]).await? {
        Ok(mut jobs) => jobs.remove(&id).unwrap_or_default(),
        Err(err) => return Ok(Err(err)),
    };
    let mut m = item(e, r, &members, jobs);
    let mut nested_events = Vec::with_capacity(events.len());
    for ev in &events {
        let (Some(eid), Some(start)) = (ev.i64("id"), ev.i64("start")) else {
            return Ok(Err(super::events::no_start()));
        };
        nested_events.push(json!({
            "id": eid, "name": event_name(start, ev.i64("end"), tz), "details": e.link("events", eid),
            "occurrences_count": ev["occurrences_count"], "taxa_count": 0,
            "user_permissions": e.permissions(Model::Event, false),
        }));
    }
    m.insert("events".into(), Value::Array(nested_events));
    let (source, uri) = data_source(e, r).await?;
    m.insert("data_source".into(), source);
    m.insert("data_source_uri".into(), uri);
    for k in ["data_source_total_files", "data_source_total_size"] {
        m.insert(k.into(), r.get(k).cloned().unwrap_or(Value::Null));
    }
    m.insert(
        "data_source_total_size_display".into(),
        json!(filesizeformat(r.i64("data_source_total_size").unwrap_or(0))),
    );
    m.insert(
        "data_source_last_checked".into(),
        json!(r.i64("data_source_last_checked").map(|t| iso(t, tz))),
    );
    for k in ["data_source_subdir", "data_source_regex", "description"] {
        m.insert(k.into(), r.get(k).cloned().unwrap_or(Value::Null));
    }
    let captures: Vec<Value> = examples
        .iter()
        .map(|c| {
            let mut v = capture(e, c);
            let event = match c.i64("event_id") {
                Some(ev) => json!({"id": ev, "details": e.link("events", ev),
                                   "user_permissions": e.permissions(Model::Event, false)}),
                None => Value::Null,
            };
            v.insert("event".into(), event);
            v.insert(
                "user_permissions".into(),
                perms(e, Model::Capture, c.i64("project_id"), &members),
            );
            Value::Object(v)
        })
        .collect();
    m.insert("example_captures".into(), Value::Array(captures));
    // Uploads are not in the snapshot (none in Antenna's fixture).
    m.insert("manually_uploaded_captures".into(), json!([]));
    m.insert(
        "user_permissions".into(),
        perms(e, Model::Deployment, r.i64("project_id"), &members),
    );
    Ok(Ok(Value::Object(m)))
}

/// The 10 example captures: every capture of the deployment, read in id order, sorted as
/// PostgreSQL sorts them for `ORDER BY size DESC` (NULL first), the first 10 kept.
async fn example_captures(e: &Endpoints<'_>, deployment: i64) -> Result<Vec<Row>> {
    let sql = e.sql(
        "deployments.capture_sizes",
        &[("deployment", Arg::Int(deployment))],
    );
    let mut sizes = e.rows(&sql).await?;
    // DESC with NULLs first: the ASC NULLS LAST order of the swapped pair.
    pg_qsort(&mut sizes, |a, b| nulls_last(b.i64("size"), a.i64("size")));
    let ids: Vec<i64> = sizes.iter().take(10).filter_map(|r| r.i64("id")).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = e
        .rows(&e.sql(
            "deployments.example_captures",
            &[("captures", Arg::Ints(&ids))],
        ))
        .await?;
    Ok(ids
        .iter()
        .filter_map(|id| rows.iter().find(|r| r.i64("id") == Some(*id)).cloned())
        .collect())
}

/// `DeploymentSerializer.get_data_source` and `data_source_uri`: the storage source nested
/// (id, name, details, permissions, and its `uri`), or null without one (no id, or no row in
/// the optional `main_s3storagesource`).
async fn data_source(e: &Endpoints<'_>, r: &Row) -> Result<(Value, Value)> {
    let Some(id) = r.i64("data_source_id") else {
        return Ok((Value::Null, Value::Null));
    };
    let rows = e
        .rows(&e.sql("deployments.data_source", &[("source", Arg::Int(id))]))
        .await?;
    let Some(s) = rows.first() else {
        return Ok((Value::Null, Value::Null));
    };
    let uri = Value::from(data_source_uri(
        s.str("bucket"),
        s.str("prefix"),
        r.str("data_source_subdir"),
        r.str("data_source_regex"),
    ));
    let model = match s.i64("project_id") {
        Some(_) => Model::StorageSource,
        None => Model::ProjectlessStorageSource,
    };
    let nested = json!({
        "id": id,
        "name": s.get("name").cloned().unwrap_or(Value::Null),
        "details": e.link("storage", id),
        "user_permissions": e.permissions(model, false),
        "uri": uri,
    });
    Ok((nested, uri))
}

/// `Deployment.data_source_uri()`: `S3StorageSource.uri()` (`s3://` + the non-empty parts of
/// bucket and prefix, each stripped of `/`, joined by `/`) without its trailing `/`, then
/// `/{subdir stripped of /}/` and `?regex={regex}` when those are non-empty.
fn data_source_uri(
    bucket: Option<&str>,
    prefix: Option<&str>,
    subdir: Option<&str>,
    regex: Option<&str>,
) -> String {
    let parts: Vec<&str> = [bucket, prefix]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .map(|p| p.trim_matches('/'))
        .collect();
    let mut uri = format!("s3://{}", parts.join("/"))
        .trim_end_matches('/')
        .to_string();
    if let Some(sub) = subdir.filter(|s| !s.is_empty()) {
        uri = format!("{uri}/{}/", sub.trim_matches('/'));
    }
    if let Some(re) = regex.filter(|s| !s.is_empty()) {
        uri = format!("{uri}?regex={re}");
    }
    uri
}

/// Django's `filesizeformat` (`Deployment.data_source_total_size_display`): bytes below 1 KB,
/// else the size in the largest 1024-based unit to one decimal, a no-break space before the unit.
pub fn filesizeformat(size: i64) -> String {
    let negative = size < 0;
    let bytes = size.unsigned_abs() as f64;
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    let value = if bytes < 1024.0 {
        let b = size.unsigned_abs();
        format!("{b} {}", if b == 1 { "byte" } else { "bytes" })
    } else {
        let mut unit = 0;
        while unit + 1 < UNITS.len() && bytes >= 1024f64.powi(unit as i32 + 2) {
            unit += 1;
        }
        // formats.number_format(round(value, 1), 1): str() of the rounded float, cut or padded
        // to one decimal.
        let text = py_repr(py_round(bytes / 1024f64.powi(unit as i32 + 1), 1));
        let (int, dec) = text.split_once('.').unwrap_or((&text, ""));
        let dec: String = dec.chars().chain(std::iter::repeat('0')).take(1).collect();
        format!("{int}.{dec} {}", UNITS[unit])
    };
    let value = if negative { format!("-{value}") } else { value };
    value.replace(' ', "\u{a0}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesizes_render_as_django() {
        assert_eq!(filesizeformat(0), "0\u{a0}bytes");
        assert_eq!(filesizeformat(1), "1\u{a0}byte");
        assert_eq!(filesizeformat(1023), "1023\u{a0}bytes");
        assert_eq!(filesizeformat(1024), "1.0\u{a0}KB");
        assert_eq!(filesizeformat(120_001_140), "114.4\u{a0}MB");
        assert_eq!(filesizeformat(20_000_090), "19.1\u{a0}MB");
        assert_eq!(filesizeformat(80_000_760), "76.3\u{a0}MB");
        assert_eq!(filesizeformat(1 << 50), "1.0\u{a0}PB");
        assert_eq!(filesizeformat(-2048), "-2.0\u{a0}KB");
    }
}
