//! `/api/v2/projects/` (list), `/api/v2/projects/<id>/` (detail) and
//! `/api/v2/projects/<id>/charts/`: Antenna's `ProjectViewSet` (ami/main/api/views.py) with
//! `ProjectListSerializer` / `ProjectSerializer` (ami/main/api/serializers.py); the rows come
//! from the fragments `projects.*` of `queries/projects.sql`, the charts from
//! `projects_charts`.

use crate::api::endpoints::projects_charts::summary_data;
use crate::api::endpoints::{EndpointAnswer, Endpoints, Model, Order};
use crate::api::params::py_int;
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use serde_json::{json, Map, Value};

/// `ProjectViewSet.ordering_fields`.
const ORDERING_FIELDS: [&str; 6] = [
    "name",
    "created_at",
    "updated_at",
    "last_capture_timestamp",
    "last_occurrence_updated_at",
    "last_job_updated_at",
];

/// The ordering fields `get_queryset` annotates on demand (not Project columns).
const ANNOTATED: [&str; 3] = [
    "last_capture_timestamp",
    "last_occurrence_updated_at",
    "last_job_updated_at",
];

/// `ProjectPagination.default_limit`.
const DEFAULT_LIMIT: usize = 40;

/// `ProjectFeatureFlags` fields in declaration order, with their defaults.
const FEATURE_FLAGS: [(&str, bool); 5] = [
    ("tags", false),
    ("reprocess_existing_detections", false),
    ("default_filters", false),
    ("reprocess_all_images", false),
    ("async_pipeline_workers", true),
];

/// occlens's order after Antenna's terms (PostgreSQL leaves ties undefined): the Meta
/// ordering `-priority, created_at`, then id.
const TIEBREAK: &str = "p.priority DESC, p.created_at ASC, p.id ASC";

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        [] => list(e).await,
        [pk] => detail(e, pk).await,
        [pk, "charts"] => charts(e, pk).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// The order of a projects list for `occlens verify`: the requested terms that are item
/// fields; `last_job_updated_at` (NULL for every project in Antenna's data, which has no jobs)
/// is not in the items and is left out, so pages are compared within the other keys; the
/// annotated `last_capture_timestamp` / `last_occurrence_updated_at` are not in the items, so
/// such an order, like the default (`-priority` is not in the items either), is compared
/// strictly.
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    if !tail.is_empty() {
        return None;
    }
    let terms = Ordering::of(p).terms;
    if terms.is_empty() {
        return None;
    }
    let mut keys = Vec::new();
    for (field, _) in &terms {
        match *field {
            "name" | "created_at" | "updated_at" => keys.push(format!("/{field}")),
            "last_job_updated_at" => {}
            _ => return None,
        }
    }
    Some(Order::Keys(keys))
}

/// The `ordering` parameter as `get_queryset` and DRF's `OrderingFilter` read it.
struct Ordering {
    /// The valid terms (`NullsLastOrderingFilter`): field and descending.
    terms: Vec<(&'static str, bool)>,
    /// The annotated fields `get_queryset` adds: named by an unstripped term, any number of
    /// leading `-` removed.
    annotated: Vec<&'static str>,
}

impl Ordering {
    fn of(p: &Params) -> Ordering {
        let raw = p.last("ordering").unwrap_or("");
        let annotated = ANNOTATED
            .into_iter()
            .filter(|a| {
                raw.split(',')
                    .filter(|f| !f.is_empty())
                    .any(|f| f.trim_start_matches('-') == *a)
            })
            .collect();
        let terms = crate::api::params::ordering_terms(Some(raw), &ORDERING_FIELDS);
        Ordering { terms, annotated }
    }

    /// A term names an annotation `get_queryset` did not add (e.g. `name, last_capture_timestamp`
    /// with a space): Django's FieldError when the page is read, a 500.
    fn fails(&self) -> bool {
        self.terms
            .iter()
            .any(|(f, _)| ANNOTATED.contains(f) && !self.annotated.contains(f))
    }

    /// The joins of the annotations the terms use.
    fn joins(&self, e: &Endpoints<'_>) -> String {
        let mut joins: Vec<String> = Vec::new();
        for a in &self.annotated {
            if self.terms.iter().any(|(f, _)| f == a) {
                joins.push(e.sql(&format!("projects.join.{a}"), &[]));
            }
        }
        joins.join("\n")
    }

    /// ORDER BY: each term NULLS LAST (names in the en_US collation, approximated as
    /// case-insensitive then byte order), then `TIEBREAK`. A term that `fails` is left out
    /// (the rows are only counted then).
    fn sql(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (field, desc) in &self.terms {
            if ANNOTATED.contains(field) && !self.annotated.contains(field) {
                continue;
            }
            let dir = if *desc { "DESC" } else { "ASC" };
            let exprs = match *field {
                "name" => vec!["lower(p.name)".to_string(), "p.name".to_string()],
                "created_at" | "updated_at" => vec![format!("p.{field}")],
                annotated => vec![format!("{annotated}.v")],
            };
            parts.extend(exprs.into_iter().map(|x| format!("{x} {dir} NULLS LAST")));
        }
        parts.push(TIEBREAK.to_string());
        parts.join(", ")
    }
}

/// The projects `who` sees, in `order`, restricted by `filter` (SQL over `p`).
async fn projects(e: &Endpoints<'_>, filter: &str, order: &Ordering) -> Result<Vec<Row>> {
    let visible = match e.who {
        Requester::Superuser(_) => "TRUE".to_string(),
        _ => e.sql(
            "projects.visible",
            &[("projects", Arg::Sql(&e.visible_projects()))],
        ),
    };
    let joins = order.joins(e);
    let order_sql = order.sql();
    let sql = e.sql(
        "projects.list",
        &[
            ("joins", Arg::Sql(&joins)),
            ("visible", Arg::Sql(&visible)),
            ("filter", Arg::Sql(filter)),
            ("order", Arg::Sql(&order_sql)),
        ],
    );
    e.rows(&sql).await
}

async fn list(e: &Endpoints<'_>) -> EndpointAnswer {
    // get_queryset: ?user_id must be the requester (User.objects.filter(pk=user_id).first()).
    let mut filter = "TRUE".to_string();
    if let Some(raw) = e.params.given("user_id") {
        let Some(id) = py_int(raw) else {
            return Ok(Err(ApiError::detail(
                500,
                format!("Server Error: Field 'id' expected a number but got '{raw}'."),
            )));
        };
        let found = match id.int() {
            Some(id) => {
                let sql = e.sql("projects.user_exists", &[("user", Arg::Int(id))]);
                (!e.rows(&sql).await?.is_empty()).then_some(id)
            }
            None => None,
        };
        match found {
            Some(id) if Some(id) == e.who.user_id() => {
                filter = e.sql("projects.member_of", &[("user", Arg::Int(id))]);
            }
            _ => {
                return Ok(Err(ApiError::detail(
                    403,
                    "You can only view your projects".into(),
                )))
            }
        }
    }
    let ordering = Ordering::of(e.params);
    let rows = projects(e, &filter, &ordering).await?;
    let paging = e.params.paging(DEFAULT_LIMIT, None);
    let count = rows.len();
    // LimitOffsetPagination reads the page only when there are rows and offset <= count.
    if ordering.fails() && paging.reads_page(count) {
        return Ok(Err(ApiError::detail(
            500,
            "Server Error: FieldError: cannot resolve an ordering annotation".into(),
        )));
    }
    // The paginator's collection permissions read ?project_id (not required).
    if let Err(err) = e.project_id() {
        return Ok(Err(err));
    }
    let perms = e.permissions(Model::Project, false);
    let results: Vec<Value> = rows
        .iter()
        .skip(paging.offset)
        .take(paging.limit)
        .map(|r| {
            let mut item = base_fields(e, r);
            item.insert("user_permissions".into(), perms.clone());
            Value::Object(item)
        })
        .collect();
    let mut body = e.params.envelope(e.base(), paging, count, results);
    body.insert(
        "user_permissions".into(),
        e.permissions(Model::Collection, false),
    );
    Ok(Ok(Value::Object(body)))
}

/// `get_object()`: the visible, active project with this pk (DRF's `get_object_or_404`
/// answers 404 for a pk `int()` rejects).
async fn object(e: &Endpoints<'_>, pk: &str) -> Result<Option<Row>> {
    let pk = percent_encoding::percent_decode_str(pk).decode_utf8_lossy();
    if pk.contains('.') {
        return Ok(None); // the router's lookup pattern `[^/.]+` does not match
    }
    let Some(id) = py_int(&pk).and_then(|id| id.int()) else {
        return Ok(None);
    };
    let filter = format!("p.id = {id}");
    let rows = projects(e, &filter, &Ordering::of(&Params::default())).await?;
    Ok(rows.into_iter().next())
}

async fn charts(e: &Endpoints<'_>, pk: &str) -> EndpointAnswer {
    let Some(row) = object(e, pk).await? else {
        return Ok(Err(ApiError::not_found()));
    };
    let id = row.i64("id").unwrap_or_default();
    Ok(Ok(json!({ "summary_data": summary_data(e, id).await? })))
}

/// `with_charts` (default true on retrieve) through Django's `forms.BooleanField.clean`.
fn with_charts(p: &Params) -> bool {
    match p.last("with_charts") {
        None => true,
        Some(v) => !(v.is_empty() || v.eq_ignore_ascii_case("false") || v == "0"),
    }
}

async fn detail(e: &Endpoints<'_>, pk: &str) -> EndpointAnswer {
    let Some(row) = object(e, pk).await? else {
        return Ok(Err(ApiError::not_found()));
    };
    let id = row.i64("id").unwrap_or_default();
    let perms = e.permissions(Model::Project, false);
    let mut body = base_fields(e, &row);
    body.insert("deployments".into(), deployments(e, id).await?);
    if with_charts(e.params) {
        body.insert("summary_data".into(), summary_data(e, id).await?);
    }
    let owner = match row.i64("owner_id") {
        None => Value::Null,
        Some(owner) => json!({
            "id": owner,
            "name": row.get("owner_name").cloned().unwrap_or(Value::Null),
            "image": e.image(row.str("owner_image")),
            "details": e.link("users", owner),
            "user_permissions": e.permissions(Model::User, false),
        }),
    };
    body.insert("owner".into(), owner);
    body.insert(
        "feature_flags".into(),
        feature_flags(row.str("feature_flags")),
    );
    let mut settings = Map::new();
    for (key, table) in [
        (
            "default_filters_exclude_taxa",
            "main_project_default_filters_exclude_taxa",
        ),
        (
            "default_filters_include_taxa",
            "main_project_default_filters_include_taxa",
        ),
    ] {
        settings.insert(key.into(), default_taxa(e, id, table).await?);
    }
    let threshold = row.f64("default_filters_score_threshold");
    settings.insert("default_filters_score_threshold".into(), json!(threshold));
    settings.insert(
        "default_processing_pipeline".into(),
        pipeline(e, row.i64("default_processing_pipeline_id")).await?,
    );
    let gap = row.get("session_time_gap_seconds").cloned();
    settings.insert(
        "session_time_gap_seconds".into(),
        gap.unwrap_or(Value::Null),
    );
    settings.insert("user_permissions".into(), perms.clone());
    body.insert("settings".into(), Value::Object(settings));
    let is_member = match e.who {
        Requester::Anonymous => false,
        Requester::Superuser(_) => true,
        Requester::User(user) => {
            let args = [("user", Arg::Int(*user)), ("project", Arg::Int(id))];
            let rows = e.rows(&e.sql("projects.is_member", &args)).await?;
            rows.first().and_then(|r| r.i64("n")).unwrap_or(0) > 0
        }
    };
    body.insert("is_member".into(), Value::Bool(is_member));
    body.insert("user_permissions".into(), perms);
    Ok(Ok(Value::Object(body)))
}

/// `PipelineNestedSerializer` of the project's default pipeline, or null without one (no id,
/// or no row in the optional `ml_pipeline`).
async fn pipeline(e: &Endpoints<'_>, id: Option<i64>) -> Result<Value> {
    let Some(id) = id else {
        return Ok(Value::Null);
    };
    let rows = e
        .rows(&e.sql("projects.pipeline", &[("pipeline", Arg::Int(id))]))
        .await?;
    let Some(p) = rows.first() else {
        return Ok(Value::Null);
    };
    let field = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "id": id,
        "details": e.link("ml/pipelines", id),
        "name": field("name"),
        "slug": field("slug"),
        "description": field("description"),
        "version": field("version"),
        "version_name": field("version_name"),
        "created_at": field("created"),
        "updated_at": field("updated"),
        "user_permissions": e.permissions(Model::Pipeline, false),
    }))
}

/// The `ProjectListSerializer` fields before `user_permissions`.
fn base_fields(e: &Endpoints<'_>, r: &Row) -> Map<String, Value> {
    let id = r.i64("id").unwrap_or_default();
    let get = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("id".into(), Value::from(id));
    m.insert("name".into(), get("name"));
    m.insert("description".into(), get("description"));
    m.insert("details".into(), e.link("projects", id));
    m.insert("deployments_count".into(), get("deployments_count"));
    m.insert("created_at".into(), get("created"));
    m.insert("updated_at".into(), get("updated"));
    m.insert("image".into(), e.image(r.str("image")));
    m.insert("draft".into(), get("draft"));
    m
}

/// `ProjectSerializer.get_feature_flags`: `ProjectFeatureFlags(...).dict()`, fields in
/// declaration order, defaults for missing (or unreadable) values, other keys dropped.
fn feature_flags(stored: Option<&str>) -> Value {
    let parsed: Value = stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let mut m = Map::new();
    for (key, default) in FEATURE_FLAGS {
        let v = parsed.get(key).and_then(Value::as_bool).unwrap_or(default);
        m.insert(key.into(), Value::Bool(v));
    }
    Value::Object(m)
}

/// `DeploymentNestedSerializerWithLocationAndCounts` of every deployment of the project.
async fn deployments(e: &Endpoints<'_>, project: i64) -> Result<Value> {
    let sql = e.sql("projects.deployments", &[("project", Arg::Int(project))]);
    let perms = e.permissions(Model::Deployment, false);
    let items = e
        .rows(&sql)
        .await?
        .iter()
        .map(|d| {
            let id = d.i64("id").unwrap_or_default();
            let get = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "id": id,
                "name": get("name"),
                "image": e.image(d.str("image")),
                "details": e.link("deployments", id),
                "latitude": get("latitude"),
                "longitude": get("longitude"),
                "events_count": get("events_count"),
                "user_permissions": perms,
            })
        })
        .collect();
    Ok(Value::Array(items))
}

/// `TaxonNoParentNestedSerializer` of the project's default include or exclude taxa.
async fn default_taxa(e: &Endpoints<'_>, project: i64, table: &str) -> Result<Value> {
    let sql = e.sql(
        "projects.default_taxa",
        &[("project", Arg::Int(project)), ("table", Arg::Name(table))],
    );
    let perms = e.permissions(Model::Taxon, false);
    let items = e
        .rows(&sql)
        .await?
        .iter()
        .map(|t| {
            let id = t.i64("id").unwrap_or_default();
            let get = |k: &str| t.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "id": id,
                "name": get("name"),
                "rank": get("rank"),
                "details": e.link("taxa", id),
                "gbif_taxon_key": get("gbif_taxon_key"),
                "fieldguide_id": get("fieldguide_id"),
                "inat_taxon_id": get("inat_taxon_id"),
                "cover_image_url": get("cover_image_url"),
                "cover_image_credit": get("cover_image_credit"),
                "user_permissions": perms,
            })
        })
        .collect();
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_terms_are_stripped_but_annotations_follow_the_raw_terms() {
        let o = Ordering::of(&Params::parse(
            "/api/v2/projects/?ordering=-name,-bogus,-priority",
        ));
        assert_eq!(o.terms, [("name", true)]);
        let o = Ordering::of(&Params::parse(
            "/api/v2/projects/?ordering=name,%20last_capture_timestamp",
        ));
        assert_eq!(
            o.terms,
            [("name", false), ("last_capture_timestamp", false)]
        );
        assert!(o.annotated.is_empty() && o.fails());
        let o = Ordering::of(&Params::parse(
            "/api/v2/projects/?ordering=--last_job_updated_at",
        ));
        assert!(o.terms.is_empty() && !o.fails());
        assert_eq!(o.annotated, ["last_job_updated_at"]);
        let o = Ordering::of(&Params::parse(
            "/api/v2/projects/?ordering=-last_capture_timestamp",
        ));
        assert!(!o.fails());
    }

    #[test]
    fn with_charts_follows_django_boolean_field() {
        let w = |q: &str| with_charts(&Params::parse(&format!("/api/v2/projects/1/{q}")));
        assert!(w(""));
        assert!(!w("?with_charts=false"));
        assert!(!w("?with_charts=FALSE"));
        assert!(!w("?with_charts=0"));
        assert!(!w("?with_charts="));
        assert!(w("?with_charts=no"));
        assert!(w("?with_charts=maybe"));
    }

    #[test]
    fn feature_flags_take_declaration_order_and_defaults() {
        let v = feature_flags(Some(
            r#"{"async_pipeline_workers": false, "tags": true, "x": 1}"#,
        ));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"tags":true,"reprocess_existing_detections":false,"default_filters":false,"reprocess_all_images":false,"async_pipeline_workers":false}"#
        );
        let v = feature_flags(None);
        assert_eq!(v["async_pipeline_workers"], true);
    }
}
