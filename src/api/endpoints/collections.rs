//! `GET /api/v2/captures/collections/` and `…/<id>/` (Antenna 731cc2a2:
//! SourceImageCollectionViewSet of ami/main/api/views.py with SourceImageCollectionSerializer):
//! the capture sets of a project (or of every project the requester sees), their image
//! counts, and with `with_counts` (the default of the detail) their occurrences and taxa
//! under the project's default filters. `jobs` is `[]`: the jobs of a capture set are not
//! read. SQL: queries/collections.sql.

use super::taxa_detail_filters::server_error;
use super::taxa_list_params::forms_bool;
use crate::api::endpoints::{
    key_pointer, list_or_detail, list_order, sort_sql, sort_terms, EndpointAnswer, Endpoints,
    Order, SortFields,
};
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use serde_json::{json, Map, Value};

/// `SourceImageCollectionViewSet.ordering_fields`, with the sort keys of each.
const ORDERING: SortFields = &[
    ("id", &["c.id"]),
    ("created_at", &["c.created_at"]),
    ("updated_at", &["c.updated_at"]),
    ("name", &["lower(c.name)", "c.name"]),
    ("method", &["c.method"]),
    ("source_images_count", &["source_images_count"]),
    (
        "source_images_with_detections_count",
        &["source_images_with_detections_count"],
    ),
    (
        "source_images_processed_count",
        &["source_images_processed_count"],
    ),
    ("occurrences_count", &["occurrences_count"]),
];

/// The model's `method` choices (`_SOURCE_IMAGE_SAMPLING_METHODS`): the filterset's
/// ChoiceFilter refuses others.
const METHODS: &[&str] = &[
    "full",
    "random",
    "stratified_random",
    "interval",
    "manual",
    "starred",
    "random_from_each_event",
    "last_and_random_from_each_event",
    "greatest_file_size_from_each_event",
    "detections_only",
    "common_combined",
];

/// SourceImageCollectionCommonKwargsSerializer's fields, in its order: the `kwargs` shown.
const KWARGS: &[&str] = &[
    "minute_interval",
    "max_num",
    "shuffle",
    "month_start",
    "month_end",
    "date_start",
    "date_end",
    "hour_start",
    "hour_end",
    "deployment_ids",
    "event_ids",
    "research_site_ids",
    "size",
    "num_each",
    "exclude_events",
    "deployment_id",
    "position",
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match list_or_detail(tail) {
        Some(id) => answer(e, id).await,
        None => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: by its `ordering` terms; the model has no Meta
/// ordering (unordered).
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    let names: Vec<&str> = ORDERING.iter().map(|(n, _)| *n).collect();
    tail.is_empty()
        .then(|| list_order(p, &names, &[], key_pointer))
}

async fn answer(e: &Endpoints<'_>, id: Option<i64>) -> EndpointAnswer {
    let p = e.params;
    // `with_counts` given makes the project required; the detail counts by default.
    // `"with_counts" in query_params`: an empty value is given too.
    let given = p.last("with_counts");
    let project = match e.project(given.is_some()).await? {
        Ok(project) => project,
        Err(err) => return Ok(Err(err)),
    };
    let with_counts = given.map_or(id.is_some(), forms_bool);
    // Antenna's 500s: ordering by the occurrences_count annotation it did not add (FieldError),
    // and, with the counts and apply_defaults=false, a classification_threshold that
    // FloatField refuses (a ValidationError outside a serializer).
    let by_count = sort_terms(p, ORDERING)
        .iter()
        .any(|(f, _)| *f == "occurrences_count");
    if let Some(err) = with_counts.then(|| e.threshold_error()).flatten() {
        return Ok(Err(err));
    }
    let mut scope = vec![format!("c.project_id IN ({})", e.visible_projects())];
    if let Some(project) = project {
        scope.push(format!("c.project_id = {project}"));
    }
    let mut filter = vec!["TRUE".to_string()];
    if let Some(id) = id {
        filter.push(format!("c.id = {id}"));
    }
    // The filterset applies to the detail too (get_object filters the queryset first).
    if let Some(method) = p.last("method").filter(|v| !v.is_empty()) {
        if !METHODS.contains(&method) {
            let message =
                format!("Select a valid choice. {method} is not one of the available choices.");
            return Ok(Err(ApiError::field("method", &message)));
        }
        filter.push(e.sql("collections.method", &[("value", Arg::Str(method))]));
    }
    let (counts_join, counts) = if with_counts {
        let defaults = match project {
            Some(project) if p.apply_defaults() => {
                e.sql("defaults", &[("project", Arg::Int(project))])
            }
            _ => "TRUE".into(),
        };
        (
            e.sql("collections.counts", &[("defaults", Arg::Sql(&defaults))]),
            e.sql("collections.counts_values", &[]),
        )
    } else {
        (String::new(), e.sql("collections.no_counts", &[]))
    };
    let order = sort_sql(p, ORDERING, "c.id ASC", "c.id ASC");
    let (scope, filter) = (scope.join(" AND "), filter.join(" AND "));
    let sql = e.sql(
        "collections.rows",
        &[
            ("counts", Arg::Sql(&counts)),
            ("counts_join", Arg::Sql(&counts_join)),
            ("scope", Arg::Sql(&scope)),
            ("filter", Arg::Sql(&filter)),
            ("order", Arg::Sql(&order)),
        ],
    );
    let rows = e.rows(&sql).await?;
    // The FieldError surfaces when the page query runs: not for the count, not for an empty
    // page or one past the end, not for the detail's get() (which drops the ordering).
    if by_count && !with_counts && id.is_none() && p.paging(20, None).reads_page(rows.len()) {
        return Ok(Err(server_error(
            "ordering by occurrences_count needs with_counts (Antenna raises FieldError)".into(),
        )));
    }
    let dims = e.engine.dims().await?;
    let manages = |project: Option<i64>| {
        matches!(e.who, Requester::Superuser(_)) || dims.manages(e.who.user_id(), project)
    };
    let shaped = |r: &Row| {
        let project = r.i64("project_id");
        let member = match (e.who.user_id(), project) {
            (Some(u), Some(p)) => dims.memberships.contains(&(u, p)),
            _ => false,
        };
        Some(item(e, r, manages(project), manages(project) || member))
    };
    // add_collection_level_permissions: `create` to whoever may create capture sets in the
    // active project (its manager) as to a superuser.
    let level = (project.is_some() && manages(project)).then(|| json!(["create"]));
    Ok(e.paged(id, &rows, shaped, level))
}

/// SourceImageCollectionSerializer of one row.
fn item(e: &Endpoints<'_>, r: &Row, manager: bool, member: bool) -> Value {
    let id = r.i64("id").unwrap_or_default();
    let name = r.str("name").unwrap_or_default();
    let get = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("details".into(), e.link("captures/collections", id));
    m.insert("name".into(), get("name"));
    m.insert("project".into(), get("project_id"));
    m.insert("method".into(), get("method"));
    m.insert("kwargs".into(), kwargs(r.str("kwargs")));
    m.insert(
        "source_images".into(),
        json!(format!("{}/api/v2/captures/?collections={id}", e.base())),
    );
    for k in [
        "source_images_count",
        "source_images_with_detections_count",
        "source_images_processed_count",
        "occurrences_count",
        "taxa_count",
        "description",
    ] {
        m.insert(k.into(), get(k));
    }
    m.insert("jobs".into(), json!([]));
    m.insert("created_at".into(), get("created_at"));
    m.insert("updated_at".into(), get("updated_at"));
    // get_permissions: the project's `*_sourceimagecollection` permissions but `create`; a
    // curated set ("starred" in its name) has no `populate` and adds `star` to whoever may
    // star captures (a member).
    let curated = name.to_lowercase().contains("starred");
    let perms: &[&str] = match (manager, curated, member) {
        (true, false, _) => &["populate", "update", "delete"],
        (true, true, _) => &["update", "delete", "star"],
        (false, true, true) => &["star"],
        _ => &[],
    };
    m.insert("user_permissions".into(), json!(perms));
    Value::Object(m)
}

/// SourceImageCollectionCommonKwargsSerializer: the known keys present and not null, in its
/// order; `null` when the column is NULL.
fn kwargs(text: Option<&str>) -> Value {
    let Some(Value::Object(given)) = text.and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return Value::Null;
    };
    let shown: Map<String, Value> = KWARGS
        .iter()
        .filter_map(|k| {
            Some((
                k.to_string(),
                given.get(*k).filter(|v| !v.is_null())?.clone(),
            ))
        })
        .collect();
    Value::Object(shown)
}
