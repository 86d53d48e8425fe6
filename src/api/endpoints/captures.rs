//! `GET /api/v2/captures/` and `…/<id>/` (Antenna 731cc2a2: SourceImageViewSet of
//! ami/main/api/views.py with SourceImageListSerializer / SourceImageSerializer): a project's
//! captures (the project is required), their nested deployment and event, `last_processed`,
//! with `with_counts` their occurrences and taxa under the project's default filters, with
//! `with_detections` their valid detections; the detail adds its capture sets and its
//! neighbours in its event. `jobs` is `[]`: a capture's jobs are not read. SQL:
//! queries/captures.sql.

use super::events::{members, no_start, perms, thumbnails, Roles};
use super::events_detail::detection;
use super::taxa_detail_filters::server_error;
use super::taxa_list_params::forms_bool;
use crate::api::endpoints::{
    list_order, sort_sql, sort_terms, EndpointAnswer, Endpoints, Model, Order,
};
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::filesize::filesizeformat;
use crate::render::timefmt::{date_label, event_name, iso};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// `SourceImageViewSet.ordering_fields`, with the sort keys of each.
const ORDERING: super::SortFields = &[
    ("created_at", &["s.created_at"]),
    ("updated_at", &["s.updated_at"]),
    ("timestamp", &["s.\"timestamp\""]),
    ("size", &["s.size"]),
    ("width", &["s.width"]),
    ("height", &["s.height"]),
    ("detections_count", &["s.detections_count"]),
    ("occurrences_count", &["occurrences_count"]),
    ("taxa_count", &["taxa_count"]),
    ("deployment__name", &["lower(dep.name)", "dep.name"]),
    ("event__start", &["ev.start"]),
    ("path", &["lower(s.path)", "s.path"]),
    ("last_processed", &["lp.last_processed"]),
];

/// The filterset's ModelChoiceFilters (`filterset_fields` in their order; `collections`, the
/// M2M, apart): the parameter, the table its value must name, the fragment it binds.
const CHOICES: &[(&str, &str, &str)] = &[
    ("event", "main_event", "captures.event"),
    ("deployment", "main_deployment", "captures.deployment"),
    (
        "deployment__project",
        "main_project",
        "captures.deployment_project",
    ),
    ("project", "main_project", "captures.project"),
    ("project_id", "main_project", "captures.project"),
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        [] => answer(e, None).await,
        // Other viewsets' routes (thumbnails, uploads), which occlens does not answer.
        ["thumbnails" | "upload"] => Ok(Err(ApiError::not_found())),
        [segment] => answer(e, Some(segment)).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: by its `ordering` terms, else by `timestamp`.
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    let names: Vec<&str> = ORDERING.iter().map(|(n, _)| *n).collect();
    let pointer = |field: &str| match field {
        "deployment__name" => "/deployment/name".to_string(),
        "event__start" => "/event/id".to_string(),
        other => format!("/{other}"),
    };
    tail.is_empty()
        .then(|| list_order(p, &names, &["/timestamp"], pointer))
}

async fn answer(e: &Endpoints<'_>, segment: Option<&str>) -> EndpointAnswer {
    let p = e.params;
    let detail = segment.is_some();
    // The list always needs the project (require_project_for_list); the detail too, as does
    // either flag given (get_queryset sets require_project).
    let project = match e.project(true).await? {
        Ok(Some(project)) => project,
        Ok(None) => return Ok(Err(ApiError::not_found())),
        Err(err) => return Ok(Err(err)),
    };
    // django.forms.BooleanField over the parameter when present, else the action's default.
    let flag = |name: &str| p.last(name).map_or(detail, forms_bool);
    let (with_detections, with_counts) = (flag("with_detections"), flag("with_counts"));
    // prefetch_detections reads get_default_classification_threshold: with apply_defaults=false
    // that is FloatField over classification_threshold, whose ValidationError is a 500.
    if let Some(err) = with_detections.then(|| e.threshold_error()).flatten() {
        return Ok(Err(err));
    }
    let mut scope = vec![e.sql("captures.project", &[("value", Arg::Int(project))])];
    if !matches!(e.who, Requester::Superuser(_)) {
        let visible = e.visible_projects();
        scope.push(e.sql("captures.visible", &[("visible", Arg::Sql(&visible))]));
    }
    match filters(e, detail).await? {
        Ok(mut conditions) => scope.append(&mut conditions),
        Err(err) => return Ok(Err(err)),
    }
    let id = match segment {
        Some(s) => match crate::api::params::path_id(s) {
            Some(id) => Some(id),
            None => return Ok(Err(ApiError::not_found())),
        },
        None => None,
    };
    if let Some(id) = id {
        scope.push(e.sql("captures.id", &[("id", Arg::Int(id))]));
    }
    let defaults = if p.apply_defaults() {
        e.sql("defaults", &[("project", Arg::Int(project))])
    } else {
        "TRUE".to_string()
    };
    let (counts_join, counts) = if with_counts {
        (
            e.sql("captures.counts", &[("defaults", Arg::Sql(&defaults))]),
            e.sql("captures.counts_values", &[]),
        )
    } else {
        (String::new(), e.sql("captures.no_counts", &[]))
    };
    // Ordering by an annotation Antenna did not add fails when its page query runs (a
    // FieldError, 500): not for the count, not for an empty page, not for the detail's get().
    let by_count = sort_terms(p, ORDERING)
        .iter()
        .any(|(f, _)| matches!(*f, "occurrences_count" | "taxa_count"));
    let unsortable = by_count && !with_counts;
    let order = if unsortable && detail {
        "s.id ASC".to_string()
    } else {
        sort_sql(p, ORDERING, "s.\"timestamp\" ASC NULLS LAST", "s.id ASC")
    };
    let scope = scope.join(" AND ");
    let sql = e.sql(
        "captures.rows",
        &[
            ("counts", Arg::Sql(&counts)),
            ("counts_join", Arg::Sql(&counts_join)),
            ("scope", Arg::Sql(&scope)),
            ("order", Arg::Sql(&order)),
        ],
    );
    let paging = p.paging(20, None);
    let (count, rows) = if detail {
        let rows = e.rows(&sql).await?;
        (rows.len(), rows.into_iter().take(1).collect())
    } else {
        e.page(&sql, paging.offset, paging.limit).await?
    };
    if detail && rows.is_empty() {
        return Ok(Err(ApiError::not_found()));
    }
    if unsortable && !detail && paging.reads_page(count) {
        return Ok(Err(server_error(
            "ordering by occurrences_count or taxa_count needs with_counts (Antenna raises FieldError)"
                .into(),
        )));
    }
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.i64("id")).collect();
    let detections = if with_detections && !ids.is_empty() {
        e.rows(&e.sql(
            "captures.detections",
            &[
                ("captures", Arg::Ints(&ids)),
                ("defaults", Arg::Sql(&defaults)),
            ],
        ))
        .await?
    } else {
        Vec::new()
    };
    // One prefetch query for the page, handed out to each capture in its order.
    let mut detections_of: HashMap<i64, Vec<Value>> = HashMap::new();
    for d in &detections {
        if let Some(capture) = d.i64("source_image_id") {
            detections_of
                .entry(capture)
                .or_default()
                .push(detection(e, d));
        }
    }
    let projects = rows
        .iter()
        .flat_map(|r| [r.i64("project_id"), r.i64("deployment_project_id")]);
    let members = members(e, projects).await?;
    let mut results = Vec::with_capacity(rows.len());
    for r in &rows {
        let capture = r.i64("id").unwrap_or_default();
        let mine = with_detections
            .then(|| Value::Array(detections_of.remove(&capture).unwrap_or_default()));
        let Some(mut m) = item(e, r, mine, &members) else {
            return Ok(Err(no_start()));
        };
        if detail {
            extend_detail(e, r, &members, &mut m).await?;
        }
        m.insert("thumbnails".into(), thumbnails(e, r));
        m.insert(
            "user_permissions".into(),
            perms(e, Model::Capture, r.i64("project_id"), &members),
        );
        results.push(Value::Object(m));
    }
    if detail {
        return Ok(Ok(results.swap_remove(0)));
    }
    let mut body = p.envelope(e.base(), paging, count, results);
    // add_collection_level_permissions: `create` to a superuser or the project's manager.
    let dims = e.engine.dims().await?;
    let creates =
        matches!(e.who, Requester::Superuser(_)) || dims.manages(e.who.user_id(), Some(project));
    let level: &[&str] = if creates { &["create"] } else { &[] };
    body.insert("user_permissions".into(), json!(level));
    Ok(Ok(Value::Object(body)))
}

/// The filterset (`event`, `deployment`, `deployment__project`, `collections`, `project`,
/// `project_id`) and the list's `processed` / `has_detections`: the conditions, or the 400
/// naming every invalid choice as django-filter reports them (all at once, in field order).
async fn filters(
    e: &Endpoints<'_>,
    detail: bool,
) -> Result<std::result::Result<Vec<String>, ApiError>> {
    let p = e.params;
    let fields: Vec<(&str, &str)> = CHOICES.iter().map(|(k, t, _)| (*k, *t)).collect();
    let single = e.model_choices(&fields).await?;
    // ModelMultipleChoiceFilter (any of the sets): an empty value is checked like the others
    // (`?collections=` is `[""]`, whose `filter(pk="")` fails: a 400).
    let sets: Vec<&str> = p.all("collections");
    let sets = if sets.is_empty() {
        Ok(None)
    } else {
        e.choices("main_sourceimagecollection", &sets)
            .await?
            .map(Some)
    };
    let (chosen, sets) = match (single, sets) {
        (Ok(chosen), Ok(sets)) => (chosen, sets),
        (single, sets) => {
            let mut errors = match single {
                Err(ApiError {
                    body: Value::Object(m),
                    ..
                }) => m,
                _ => Map::new(),
            };
            if let Err(message) = sets {
                // `collections` comes after `deployment__project` in the filterset.
                let after: Vec<String> = ["project", "project_id"]
                    .into_iter()
                    .filter(|k| errors.contains_key(*k))
                    .map(String::from)
                    .collect();
                let moved: Vec<(String, Value)> = after
                    .into_iter()
                    .filter_map(|k| errors.shift_remove(&k).map(|v| (k, v)))
                    .collect();
                errors.insert("collections".into(), json!([message]));
                errors.extend(moved);
            }
            return Ok(Err(ApiError {
                status: 400,
                body: Value::Object(errors),
            }));
        }
    };
    let mut conditions: Vec<String> = chosen
        .into_iter()
        .map(|(i, id)| e.sql(CHOICES[i].2, &[("value", Arg::Int(id))]))
        .collect();
    if let Some(ids) = sets {
        conditions.push(e.sql("captures.collections", &[("ids", Arg::Ints(&ids))]));
    }
    // filter_by_processed / filter_by_has_detections: the list's only (the detail's
    // get_queryset skips them).
    if !detail {
        for (name, fragment) in [
            ("processed", "captures.processed"),
            ("has_detections", "captures.has_detections"),
        ] {
            if let Some(v) = p.last(name) {
                let not = if forms_bool(v) { "" } else { "NOT" };
                conditions.push(e.sql(fragment, &[("not", Arg::Sql(not))]));
            }
        }
    }
    Ok(Ok(conditions))
}

/// SourceImageListSerializer of one row, `id` … `project` (`detections` only when prefetched:
/// DRF skips a read-only field whose attribute is missing); `None` when its event has no
/// start (Antenna's `str(event)` fails).
fn item(
    e: &Endpoints<'_>,
    r: &Row,
    detections: Option<Value>,
    members: &Roles,
) -> Option<Map<String, Value>> {
    let tz = e.engine.config.time_zone;
    let get = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let id = r.i64("id").unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("details".into(), e.link("captures", id));
    let deployment = match r.i64("deployment_row") {
        Some(d) => json!({
            "id": d,
            "name": get("deployment_name"),
            "details": e.link("deployments", d),
            "user_permissions": perms(e, Model::Deployment, r.i64("deployment_project_id"), members),
        }),
        None => Value::Null,
    };
    m.insert("deployment".into(), deployment);
    let event = match r.i64("event_row") {
        Some(ev) => {
            let start = r.i64("event_start")?;
            let end = r.i64("event_end");
            json!({
                "id": ev,
                "name": event_name(start, end, tz),
                "details": e.link("events", ev),
                "date_label": date_label(start, end, tz),
                "user_permissions": e.permissions(Model::Event, false),
            })
        }
        None => Value::Null,
    };
    m.insert("event".into(), event);
    m.insert("url".into(), get("url"));
    m.insert("path".into(), get("path"));
    let time = |k: &str| json!(r.i64(k).map(|t| iso(t, tz)));
    m.insert("timestamp".into(), time("timestamp"));
    for k in ["width", "height", "size"] {
        m.insert(k.into(), get(k));
    }
    m.insert("size_display".into(), json!(filesizeformat(r.i64("size"))));
    for k in ["detections_count", "occurrences_count", "taxa_count"] {
        m.insert(k.into(), get(k));
    }
    m.insert("last_processed".into(), time("last_processed"));
    if let Some(detections) = detections {
        m.insert("detections".into(), detections);
    }
    m.insert("project".into(), get("project_id"));
    Some(m)
}

/// SourceImageSerializer's fields after SourceImageListSerializer's.
async fn extend_detail(
    e: &Endpoints<'_>,
    r: &Row,
    roles: &Roles,
    m: &mut Map<String, Value>,
) -> Result<()> {
    let capture = Arg::Int(r.i64("id").unwrap_or_default());
    m.insert(
        "uploaded_by".into(),
        r.get("uploaded_by_id").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "test_image".into(),
        r.get("test_image").cloned().unwrap_or(Value::Null),
    );
    m.insert("jobs".into(), json!([]));
    let sets = e
        .rows(&e.sql("captures.sets", &[("capture", capture)]))
        .await?;
    let sets: Vec<Value> = sets.iter().map(|c| nested_set(e, c, roles)).collect();
    m.insert("collections".into(), Value::Array(sets));
    let adjacent = e
        .rows(&e.sql("captures.adjacent", &[("capture", capture)]))
        .await?;
    for k in [
        "event_next_capture_id",
        "event_prev_capture_id",
        "event_current_capture_index",
        "event_total_captures",
    ] {
        let v = adjacent.first().and_then(|a| a.get(k).cloned());
        m.insert(k.into(), v.unwrap_or(Value::Null));
    }
    Ok(())
}

/// SourceImageCollectionNestedSerializer: DefaultSerializer's permissions
/// (BaseModel.get_user_object_permissions): a superuser's `update` and `delete` plus the
/// project's custom `*_sourceimagecollection` action (`populate`), in the order of the set
/// add_object_level_permissions passes them through (as the capture sets endpoint shows them);
/// the set's Project manager holds the same three; none without a project.
fn nested_set(e: &Endpoints<'_>, c: &Row, roles: &Roles) -> Value {
    let id = c.i64("id").unwrap_or_default();
    let project = c.i64("project_id");
    let perms: &[&str] = match (e.who, project) {
        (Requester::Superuser(_), Some(_)) => &["populate", "update", "delete"],
        (Requester::Superuser(_), None) => &["update", "delete"],
        (Requester::User(_), _) if roles.manages(project) => &["populate", "update", "delete"],
        _ => &[],
    };
    json!({
        "id": id,
        "name": c.get("name").cloned().unwrap_or(Value::Null),
        "details": e.link("captures/collections", id),
        "method": c.get("method").cloned().unwrap_or(Value::Null),
        "user_permissions": perms,
    })
}
